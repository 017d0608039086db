package conformance

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/traffic"
)

// fixture is one subtest's Rollout, created with its Services, and the Router under test.
type fixture struct {
	c      client.Client
	ro     *trancheapi.Rollout
	router providers.Router
	caps   Capabilities
}

// Selectors the suite gives the Services. The pods do not exist: Routers route to Services.
func primarySelector(ro *trancheapi.Rollout) map[string]string {
	return map[string]string{"app": ro.Spec.TargetRef.Name + "-primary"}
}

func canarySelector(ro *trancheapi.Rollout) map[string]string {
	return map[string]string{"app": ro.Spec.TargetRef.Name}
}

func (s *suite) setup(t *testing.T) *fixture {
	t.Helper()
	ro := s.newRollout(t)
	Create(t, s.c, ro)
	return &fixture{c: s.c, ro: ro, router: s.factory(s.c), caps: s.caps}
}

// Create creates the Rollout and the three Services the controller would make for it, as a
// Router finds them.
func Create(t *testing.T, c client.Client, ro *trancheapi.Rollout) {
	t.Helper()
	require.NoError(t, c.Create(t.Context(), ro), "creating the Rollout")
	apex, primary, canary := providers.DesiredServices(ro, primarySelector(ro), canarySelector(ro))
	for _, svc := range []client.Object{apex, primary, canary} {
		require.NoError(t, c.Create(t.Context(), svc), "creating the Service %s", svc.GetName())
	}
}

func (f *fixture) reconcile(t *testing.T) {
	t.Helper()
	require.NoError(t, f.router.Reconcile(t.Context(), f.ro), "Reconcile")
}

func (f *fixture) set(t *testing.T, r traffic.Routes) {
	t.Helper()
	require.NoError(t, f.router.SetRoutes(t.Context(), f.ro, r), "SetRoutes(%+v)", r)
}

func (f *fixture) handBack(t *testing.T) {
	t.Helper()
	require.NoError(t, providers.HandBack(t.Context(), f.router, f.ro), "HandBack")
}

// requireRoutes fails the test unless Routes reads want back. Matches compare as the
// controller compares them, where an empty list equals a missing one.
func (f *fixture) requireRoutes(t *testing.T, want traffic.Routes) {
	t.Helper()
	got, err := f.router.Routes(t.Context(), f.ro)
	require.NoError(t, err, "Routes")
	if !want.Equal(got) {
		require.Equal(t, want, got, "Routes")
	}
}

// versions maps each routing object to its resourceVersion.
func (f *fixture) versions(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, obj := range f.routingObjects(t) {
		out[fmt.Sprintf("%T %s", obj, client.ObjectKeyFromObject(obj))] = obj.GetResourceVersion()
	}
	return out
}

// The label and the annotation the suite gives every routing object, as a user (or a policy
// tool) would: whatever the Router does, they stay.
const (
	userLabel, userLabelValue           = "example.com/team", "checkout"
	userAnnotation, userAnnotationValue = "example.com/oncall", "checkout-team"
)

// routingObjects are the Rollout's routing objects as the API server has them.
func (f *fixture) routingObjects(t *testing.T) []client.Object {
	t.Helper()
	var out []client.Object
	for _, obj := range f.caps.RoutingObjects(f.ro) {
		obj = obj.DeepCopyObject().(client.Object)
		Get(t, f.c, obj)
		out = append(out, obj)
	}
	return out
}

func (f *fixture) addMetadata(t *testing.T) {
	t.Helper()
	for _, obj := range f.routingObjects(t) {
		labels, annotations := obj.GetLabels(), obj.GetAnnotations()
		if labels == nil {
			labels = map[string]string{}
		}
		if annotations == nil {
			annotations = map[string]string{}
		}
		labels[userLabel], annotations[userAnnotation] = userLabelValue, userAnnotationValue
		obj.SetLabels(labels)
		obj.SetAnnotations(annotations)
		require.NoError(t, f.c.Update(t.Context(), obj), "labelling %T %s", obj, client.ObjectKeyFromObject(obj))
	}
}

func (f *fixture) checkMetadata(t *testing.T) {
	t.Helper()
	for _, obj := range f.routingObjects(t) {
		key := client.ObjectKeyFromObject(obj)
		assert.Equal(t, userLabelValue, obj.GetLabels()[userLabel], "the user's label on %T %s", obj, key)
		assert.Equal(t, userAnnotationValue, obj.GetAnnotations()[userAnnotation], "the user's annotation on %T %s", obj, key)
	}
}

// Exact, Prefix and Regex are the comparisons of a header, a cookie or a query parameter
// named name with value, for tables of matches.
func Exact(name, value string) trancheapi.StringMatch {
	return trancheapi.StringMatch{Name: name, Value: value, Type: trancheapi.MatchExact}
}

func Prefix(name, value string) trancheapi.StringMatch {
	return trancheapi.StringMatch{Name: name, Value: value, Type: trancheapi.MatchPrefix}
}

func Regex(name, value string) trancheapi.StringMatch {
	return trancheapi.StringMatch{Name: name, Value: value, Type: trancheapi.MatchRegularExpression}
}

// SampleMatch is the A/B match the suite routes with: one of each kind of condition and
// comparison, and several matches, since they are alternatives.
func SampleMatch() []trancheapi.HTTPMatch {
	return []trancheapi.HTTPMatch{
		// Mixed case: a data plane may give the name back in lower case (HTTP names are not
		// case-sensitive), and the controller must still see the split it asked for.
		{Headers: []trancheapi.StringMatch{{Name: "X-Canary", Value: "always", Type: trancheapi.MatchExact}}},
		{
			Headers:     []trancheapi.StringMatch{{Name: "user-agent", Value: ".*(Firefox|Safari).*", Type: trancheapi.MatchRegularExpression}},
			QueryParams: []trancheapi.StringMatch{{Name: "beta", Value: "on", Type: trancheapi.MatchExact}},
		},
		{Cookies: []trancheapi.StringMatch{{Name: "tester", Value: "team-a.", Type: trancheapi.MatchPrefix}}},
		{QueryParams: []trancheapi.StringMatch{{Name: "v", Value: "2|3", Type: trancheapi.MatchRegularExpression}}},
	}
}

// Vars are the variables a query template may use, as the analysis package provides them.
type Vars struct {
	Rollout, Namespace, Target, Primary, Canary, Service, Interval string
}

// SampleVars are the variables of a Rollout "frontend" in namespace "shop" rolling out the
// Deployment "podinfo".
func SampleVars() Vars {
	return Vars{
		Rollout: "frontend", Namespace: "shop", Target: "podinfo", Primary: "podinfo-primary",
		Canary: "podinfo", Service: "podinfo", Interval: "1m",
	}
}

// Render renders a query template as the analysis package does, failing on a variable that
// does not exist.
func Render(query string, vars Vars) (string, error) {
	tmpl, err := template.New("query").Option("missingkey=error").Parse(query)
	if err != nil {
		return "", err
	}
	var out strings.Builder
	if err := tmpl.Execute(&out, vars); err != nil {
		return "", err
	}
	return out.String(), nil
}

// RenderBuiltin renders a provider's built-in query for SampleVars, failing the test when
// there is none or it does not render.
func RenderBuiltin(t *testing.T, router providers.Router, metric trancheapi.BuiltinMetric) string {
	t.Helper()
	query, err := providers.BuiltinQueries(router).Query(metric)
	require.NoError(t, err)
	rendered, err := Render(query, SampleVars())
	require.NoError(t, err)
	return rendered
}

// Golden compares v, written as YAML, with testdata/<name>.yaml, or rewrites that file when
// update is set (each provider's tests have an -update flag): the objects a provider writes
// for each step, kept where a person can read them.
func Golden(t *testing.T, name string, v any, update bool) {
	t.Helper()
	got, err := yaml.Marshal(v)
	require.NoError(t, err)
	path := filepath.Join("testdata", name+".yaml")
	if update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run with -update to write it")
	require.Equal(t, string(want), string(got))
}

// Steps say how GoldenSteps shows a provider's object, of type T.
type Steps[T client.Object] struct {
	// Prefix starts the name of every golden file.
	Prefix string
	// Match is the A/B match to route with; nil routes with a header and a cookie.
	Match []trancheapi.HTTPMatch
	// Object is the object shown, as an empty object of its type with its namespace and name
	// (and its kind, for unstructured): a copy of it is read after every step.
	Object T
	// Show is what of the object read the golden files hold.
	Show func(T) any
	// Update rewrites the golden files rather than comparing with them (each provider's
	// tests have an -update flag).
	Update bool
}

// GoldenSteps drives router through each kind of step its Features say it takes (a canary
// weight, an A/B match, a mirror, a weight with session affinity, blue/green's switch, and
// back to the primary) and compares what steps show of their object after each with the
// golden file testdata/<prefix><step>.yaml.
func GoldenSteps[T client.Object](t *testing.T, c client.Client, router providers.Router, ro *trancheapi.Rollout, steps Steps[T]) {
	t.Helper()
	match := steps.Match
	if match == nil {
		match = []trancheapi.HTTPMatch{
			{Headers: []trancheapi.StringMatch{{Name: "X-Canary", Value: "always", Type: trancheapi.MatchExact}}},
			{Cookies: []trancheapi.StringMatch{{Name: "beta", Value: "on", Type: trancheapi.MatchExact}}},
		}
	}
	ro = ro.DeepCopy()
	ro.Status.CanaryRevision = "7c9f6d5b8" // what the cookie's value names
	f := router.Features()
	type step struct {
		name   string
		routes traffic.Routes
		takes  bool
	}
	for _, s := range []step{
		{"canary-5", traffic.Routes{CanaryWeight: 5}, f.AnyWeight},
		{"ab", traffic.Routes{Match: match}, f.Match != ""},
		{"mirror-20", traffic.Routes{MirrorPercent: 20}, f.Mirror},
		{"sticky-50", traffic.Routes{CanaryWeight: 50, Sticky: SampleSticky()}, f.Sticky},
		{"blue-green-100", traffic.Routes{CanaryWeight: 100}, true},
		{"primary", traffic.Routes{}, true},
	} {
		if !s.takes {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			require.NoError(t, router.SetRoutes(t.Context(), ro, s.routes))
			// A fresh object for every read: decoding into a used one would keep the map
			// entries (annotations, selectors) of the step before.
			obj := steps.Object.DeepCopyObject().(T)
			Get(t, c, obj)
			Golden(t, steps.Prefix+s.name, steps.Show(obj), steps.Update)
		})
	}
}
