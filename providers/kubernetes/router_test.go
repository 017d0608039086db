package kubernetes_test

import (
	"flag"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/conformance"
	"github.com/tranche-dev/tranche/providers/kubernetes"
	"github.com/tranche-dev/tranche/providers/traffic"
	"github.com/tranche-dev/tranche/test/harness"
)

var cp *harness.ControlPlane

var update = flag.Bool("update", false, "rewrite the golden files")

func TestMain(m *testing.M) {
	os.Exit(harness.Main(m, &cp, harness.Options{}))
}

func newRollout(t *testing.T) *trancheapi.Rollout {
	return conformance.NewRollout(cp.Namespace(t), "frontend", "podinfo", 80, trancheapi.Provider{Kubernetes: &trancheapi.KubernetesProvider{}})
}

func apexKey(ro *trancheapi.Rollout) client.ObjectKey {
	return client.ObjectKey{Namespace: ro.Namespace, Name: ro.ServiceNames().Apex}
}

func apexService(ro *trancheapi.Rollout) *corev1.Service {
	key := apexKey(ro)
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
}

func TestConformance(t *testing.T) {
	conformance.Run(t, cp.Client, newRollout, kubernetes.New, conformance.Capabilities{
		Weights:        []int32{0, 100},
		RoutingObjects: func(ro *trancheapi.Rollout) []client.Object { return []client.Object{apexService(ro)} },
	})
}

// A Rollout of several ports switches them all at once: the apex Service carries them all.
func TestConformanceSeveralPorts(t *testing.T) {
	withPorts := conformance.WithPorts(newRollout, trancheapi.ServicePort{Name: "pipe", Port: 9000, Protocol: trancheapi.ProtocolTCP})
	conformance.Run(t, cp.Client, withPorts, kubernetes.New, conformance.Capabilities{
		Weights:        []int32{0, 100},
		RoutingObjects: func(ro *trancheapi.Rollout) []client.Object { return []client.Object{apexService(ro)} },
	})
}

func TestReconcileNamesTheMissingService(t *testing.T) {
	ctx := t.Context()
	ro := newRollout(t)
	apex, primary, _ := providers.DesiredServices(ro, map[string]string{"app": "podinfo-primary"}, map[string]string{"app": "podinfo"})
	require.NoError(t, cp.Client.Create(ctx, apex))
	require.NoError(t, cp.Client.Create(ctx, primary))

	router := kubernetes.New(cp.Client)
	err := router.Reconcile(ctx, ro)
	require.Error(t, err)
	assert.True(t, apierrors.IsNotFound(err), "%v", err)
	assert.Contains(t, err.Error(), "canary Service "+ro.Namespace+"/podinfo-canary")
	require.Error(t, router.SetRoutes(ctx, ro, traffic.Routes{CanaryWeight: 100}))
}

func TestRoutesRefusesASelectorOfNeither(t *testing.T) {
	ctx := t.Context()
	ro := newRollout(t)
	apex, primary, canary := providers.DesiredServices(ro, map[string]string{"app": "podinfo-primary"}, map[string]string{"app": "podinfo"})
	apex.Spec.Selector = map[string]string{"tier": "something-else"}
	for _, svc := range []*corev1.Service{apex, primary, canary} {
		require.NoError(t, cp.Client.Create(ctx, svc))
	}
	router := kubernetes.New(cp.Client)
	_, err := router.Routes(ctx, ro)
	require.ErrorContains(t, err, "is neither the primary's")
	require.ErrorIs(t, err, providers.ErrUnreadable, "a selector of neither is repairable")

	// SetRoutes repairs it, replacing the whole selector rather than merging into it.
	require.NoError(t, router.SetRoutes(ctx, ro, traffic.Routes{CanaryWeight: 100}))
	got := &corev1.Service{}
	require.NoError(t, cp.Client.Get(ctx, apexKey(ro), got))
	assert.Equal(t, map[string]string{"app": "podinfo"}, got.Spec.Selector)
}

func TestHandBackWithoutServicesIsDone(t *testing.T) {
	ro := newRollout(t)
	require.NoError(t, providers.HandBack(t.Context(), kubernetes.New(cp.Client), ro))
}

func TestHandBackWithoutTheCanaryService(t *testing.T) {
	ctx := t.Context()
	ro := newRollout(t)
	apex, primary, _ := providers.DesiredServices(ro, map[string]string{"app": "podinfo-primary"}, map[string]string{"app": "podinfo"})
	apex.Spec.Selector = map[string]string{"app": "podinfo"} // on the canary, whose Service is gone
	require.NoError(t, cp.Client.Create(ctx, apex))
	require.NoError(t, cp.Client.Create(ctx, primary))

	require.NoError(t, providers.HandBack(ctx, kubernetes.New(cp.Client), ro))
	got := &corev1.Service{}
	require.NoError(t, cp.Client.Get(ctx, apexKey(ro), got))
	assert.Equal(t, map[string]string{"app": "podinfo-primary"}, got.Spec.Selector)
}

// TestObjectsWritten shows the Service clients call for each step blue/green takes.
func TestObjectsWritten(t *testing.T) {
	ro := newRollout(t)
	conformance.GoldenSteps(t, cp.Client, conformance.Start(t, cp.Client, ro, kubernetes.New), ro, conformance.Steps[*corev1.Service]{
		Object: apexService(ro),
		Show: func(svc *corev1.Service) any {
			return map[string]any{"selector": svc.Spec.Selector, "ports": svc.Spec.Ports}
		},
		Update: *update,
	})
}
