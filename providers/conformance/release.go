package conformance

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/traffic"
)

// ReleaseCheck says what a providers.Releaser leaves behind a deleted Rollout.
type ReleaseCheck struct {
	// Objects are the routing objects that outlive the Rollout, as empty objects of their
	// kind with their namespace and name.
	Objects func(ro *trancheapi.Rollout) []client.Object
	// SendsTo reads, from the released objects, the Services that get the requests Tranche's
	// routes carried: the suite requires the apex Service alone.
	SendsTo func(ctx context.Context, t *testing.T, c client.Client, ro *trancheapi.Rollout) []string
}

// ServicesNamed lists the Rollout's Services (the apex, the primary, the canary, in that
// order) that the object's content names as a Service: a host, a backend's name. It reads
// any object as JSON, for the SendsTo of Releasers whose objects name Services by a "name"
// or "host" field.
func ServicesNamed(obj map[string]any, ro *trancheapi.Rollout) []string {
	seen := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for key, field := range v {
				if name, ok := field.(string); ok && (key == "name" || key == "host") {
					seen[name] = true
				}
				walk(field)
			}
		case []any:
			for _, item := range v {
				walk(item)
			}
		}
	}
	walk(obj["spec"])
	names := ro.ServiceNames()
	var named []string
	for _, name := range []string{names.Apex, names.Primary, names.Canary} {
		if seen[name] {
			named = append(named, name)
		}
	}
	return named
}

// NamedIn is a ReleaseCheck.SendsTo for an object read as unstructured: the Rollout's
// Services its content names (see ServicesNamed).
func NamedIn(object func(*trancheapi.Rollout) *unstructured.Unstructured) func(context.Context, *testing.T, client.Client, *trancheapi.Rollout) []string {
	return func(ctx context.Context, t *testing.T, c client.Client, ro *trancheapi.Rollout) []string {
		obj := object(ro)
		Get(t, c, obj)
		return ServicesNamed(obj.Object, ro)
	}
}

// release holds a Releaser to its contract: released mid-split, its objects send everything
// to the apex Service, belong to no one, say they were handed over and keep what a user
// added; releasing again writes nothing; and a Rollout of the same name takes them back and
// splits with them again (the objects that were not released are new by then).
func (s *suite) release(t *testing.T) {
	_, isReleaser := s.factory(s.c).(providers.Releaser)
	require.Equal(t, s.caps.Release != nil, isReleaser,
		"a Router is a providers.Releaser exactly when Capabilities.Release says what it leaves behind")
	if !isReleaser {
		return
	}
	f := s.setup(t)
	f.reconcile(t)
	f.addMetadata(t)
	if add := s.caps.Foreign.Add; add != nil {
		add(t.Context(), t, s.c, f.ro)
	}
	f.set(t, traffic.Routes{CanaryWeight: s.partial()})
	checkForeign := func() {
		t.Helper()
		f.checkMetadata(t)
		if check := s.caps.Foreign.Check; check != nil {
			check(t.Context(), t, s.c, f.ro)
		}
	}

	releaser := f.router.(providers.Releaser)
	_, err := releaser.Release(t.Context(), f.ro)
	require.NoError(t, err, "Release")
	for _, obj := range s.caps.Release.Objects(f.ro) {
		Get(t, s.c, obj)
		require.Nil(t, metav1.GetControllerOf(obj), "%T %s belongs to no one once released", obj, obj.GetName())
		require.Equal(t, "true", obj.GetAnnotations()[trancheapi.AnnotationHandedOver], "%T %s says it was handed over", obj, obj.GetName())
	}
	require.Equal(t, []string{f.ro.ServiceNames().Apex}, s.caps.Release.SendsTo(t.Context(), t, s.c, f.ro), "a released object sends everything to the apex Service")
	checkForeign()
	versions := f.versions(t)
	_, err = releaser.Release(t.Context(), f.ro)
	require.NoError(t, err, "Release again")
	require.Equal(t, versions, f.versions(t), "releasing again writes nothing")

	// The Rollout goes, with the objects it still owns (the garbage collector's work, which
	// no controller does here), and one of the same name comes.
	again := f.ro.DeepCopy()
	require.NoError(t, s.c.Delete(t.Context(), f.ro))
	for _, obj := range f.routingObjects(t) {
		if metav1.IsControlledBy(obj, f.ro) {
			require.NoError(t, s.c.Delete(t.Context(), obj), "deleting %T %s as the garbage collector would", obj, obj.GetName())
		}
	}
	again.ObjectMeta = metav1.ObjectMeta{Namespace: f.ro.Namespace, Name: f.ro.Name}
	require.NoError(t, s.c.Create(t.Context(), again))
	f.ro = again
	_, err = f.router.Routes(t.Context(), f.ro)
	require.ErrorIs(t, err, providers.ErrUnreadable, "a released object reads as no split until it is taken back")
	f.reconcile(t)
	f.requireRoutes(t, traffic.Routes{})
	for _, obj := range s.caps.Release.Objects(f.ro) {
		Get(t, s.c, obj)
		require.True(t, metav1.IsControlledBy(obj, f.ro), "%T %s is the new Rollout's", obj, obj.GetName())
		require.NotContains(t, obj.GetAnnotations(), trancheapi.AnnotationHandedOver)
	}
	f.set(t, traffic.Routes{CanaryWeight: s.partial()})
	f.requireRoutes(t, traffic.Routes{CanaryWeight: s.partial()})
}
