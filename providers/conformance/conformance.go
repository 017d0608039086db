package conformance

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/traffic"
)

// Capabilities says what a provider can do, and how the suite edits the provider's objects
// as a user would.
type Capabilities struct {
	// Weights are canary weights the provider routes; SetRoutes then Routes is checked for each.
	Weights []int32
	// AnyWeight says every weight from 0 to 100 works, Weights being a sample. Without it, a
	// weight missing from Weights must fail with providers.ErrUnsupported.
	AnyWeight bool
	// Match says the provider sends matching requests to the canary (A/B testing).
	Match bool
	// SupportedMatch, for a provider that matches only some conditions, is what the suite
	// routes with instead of SampleMatch, which must then fail with providers.ErrUnsupported.
	SupportedMatch []trancheapi.HTTPMatch
	// Mirror says the provider copies requests to the canary.
	Mirror bool
	// Sticky says the provider keeps a client that reached the canary on it.
	Sticky bool
	// BuiltinMetrics says the provider has built-in query templates.
	BuiltinMetrics bool
	// Unconfirmed is what Acceptance says of a split the suite sets: no data plane runs
	// under the suite to take it. Pending for a provider whose data plane always reports on
	// the routing objects; Unreported (the zero value) for one whose data plane says nothing,
	// or reports only where it is set up to (istiod's status), and leaves no word here.
	Unconfirmed traffic.AcceptanceState
	// RoutingObjects lists the objects the Router writes, as empty objects of the right type
	// (unstructured ones with their kind) with their namespace and name: repeated calls must
	// leave their resourceVersion alone, and a label and an annotation the suite adds to
	// each, as a user would, must stay.
	RoutingObjects func(ro *trancheapi.Rollout) []client.Object
	// Foreign, when set, edits the routing objects further the way a user would, in the
	// fields the provider says are the user's.
	Foreign ForeignEdit
	// Release, for a provider whose routing objects are where the app's clients come in (a
	// providers.Releaser), says which outlive a deleted Rollout and where they send
	// requests then; nil for a provider whose objects go with the Rollout.
	Release *ReleaseCheck
	// WrongTypes are fields of the wrong type the suite plants in the routing objects, for a
	// provider that reads them as unstructured: each is an error naming the object and the
	// field, whose sentinel says whose field it is (see WrongType).
	WrongTypes map[string]WrongType
}

// WrongType is a field of the wrong type in a routing object, as clusters whose CRD has no
// schema let a user or a tool leave one (see WriteUnchecked). When the field is Tranche's,
// Routes fails with providers.ErrUnreadable and SetRoutes repairs it. When it is the user's,
// Tranche can neither keep nor repair it: Reconcile fails with providers.ErrMalformed, so do
// SetRoutes and Routes unless they do not read that object, and nothing is written to it.
type WrongType struct {
	// Object is the routing object, as an empty object of its kind with its namespace and name.
	Object func(ro *trancheapi.Rollout) *unstructured.Unstructured
	// Plant changes the object's content as read from the API server.
	Plant func(obj map[string]any)
	// Says is what the error says after the object's kind, namespace and name, such as
	// "spec.http[0].route is a string, not a list".
	Says string
	// Users says the field is the user's.
	Users bool
}

// ForeignEdit is a user's change to the routing objects: Add makes it, Check fails the test
// unless it is still there. Either may be nil: a Check alone checks what no user edit
// should change (an object the Router only reads, say).
type ForeignEdit struct {
	Add   func(ctx context.Context, t *testing.T, c client.Client, ro *trancheapi.Rollout)
	Check func(ctx context.Context, t *testing.T, c client.Client, ro *trancheapi.Rollout)
}

// Run runs the conformance suite against a real API server. newRollout returns a Rollout for
// the provider, not yet created, in a namespace of the test's own; the suite creates it (so
// that owner references to it work) and its three Services, then drives the Router built by
// factory through c.
func Run(t *testing.T, c client.Client, newRollout func(t *testing.T) *trancheapi.Rollout, factory providers.Factory, caps Capabilities) {
	s := &suite{c: c, newRollout: newRollout, factory: factory, caps: caps}
	t.Run("FreshRolloutRoutesToPrimary", s.fresh)
	t.Run("SetRoutesThenRoutes", s.weights)
	t.Run("UnsupportedWeight", s.unsupportedWeight)
	t.Run("InvalidRoutes", s.invalid)
	t.Run("RepeatedCallsDoNotWrite", s.idempotent)
	t.Run("ReconcileKeepsTheSplit", s.reconcileKeeps)
	t.Run("ForeignFieldsSurvive", s.foreign)
	t.Run("Match", s.matching)
	t.Run("Mirror", s.mirror)
	t.Run("Sticky", s.sticky)
	t.Run("HandBack", s.handBack)
	t.Run("ReleaseHandsTheObjectsOver", s.release)
	t.Run("FieldsOfTheWrongType", s.wrongTypes)
	t.Run("BuiltinQueries", s.builtin)
	t.Run("DataPlaneWord", s.dataPlaneWord)
	t.Run("FeaturesAreWhatItDoes", s.features)
}

// features holds the provider's stated Features to what the suite found it does. Features
// describe an HTTP service of one port; for a gRPC or TCP one, or one of several ports, the
// suite holds the provider to saying it routes that, and what it found to no more than
// Features say.
func (s *suite) features(t *testing.T) {
	f := s.factory(s.c).Features()
	switch service := s.newRollout(t).Spec.Service; {
	case len(service.Ports) > 0:
		require.NotEmpty(t, f.Ports, "Features().Ports: how several ports are split together")
	case service.TCP():
		require.NotEmpty(t, f.TCP, "Features().TCP: how a TCP service is routed")
	case service.GRPC():
		require.NotEmpty(t, f.GRPC, "Features().GRPC: how a gRPC service is routed")
	default:
		require.Equal(t, s.caps.AnyWeight, f.AnyWeight, "Features().AnyWeight")
		require.Equal(t, s.caps.Match, f.Match != "", "Features().Match")
		require.Equal(t, s.caps.Mirror, f.Mirror, "Features().Mirror")
		require.Equal(t, s.caps.Sticky, f.Sticky, "Features().Sticky")
		require.Equal(t, s.caps.BuiltinMetrics, f.Metrics != "", "Features().Metrics")
		if s.caps.Unconfirmed == traffic.Pending {
			require.NotEmpty(t, f.Status, "Features().Status: where the data plane reports")
		}
		return
	}
	require.True(t, !s.caps.Match || f.Match != "", "Features().Match")
	require.True(t, !s.caps.Mirror || f.Mirror, "Features().Mirror")
	require.True(t, !s.caps.Sticky || f.Sticky, "Features().Sticky")
}

// dataPlaneWord holds Acceptance to Capabilities.Unconfirmed: with no data plane to take a
// split, a provider whose data plane reports waits for its word; the others report nothing.
func (s *suite) dataPlaneWord(t *testing.T) {
	f := s.setup(t)
	f.reconcile(t)
	f.set(t, traffic.Routes{CanaryWeight: s.partial()})
	got, err := f.router.Acceptance(t.Context(), f.ro)
	require.NoError(t, err)
	if s.caps.Unconfirmed != traffic.Pending {
		require.Equal(t, traffic.Acceptance{State: traffic.Unreported}, got)
		return
	}
	require.Equal(t, traffic.Pending, got.State, "nothing runs here that could have taken the split: %s", got)
	require.NotEmpty(t, got.Parent, "whose word is awaited")
}

type suite struct {
	c          client.Client
	newRollout func(t *testing.T) *trancheapi.Rollout
	factory    providers.Factory
	caps       Capabilities
}

// partial is the weight the suite splits with: the largest supported weight short of 100,
// or 100 for a provider that only switches.
func (s *suite) partial() int32 {
	best := int32(100)
	for _, w := range s.caps.Weights {
		if w > 0 && w < 100 && (best == 100 || w > best) {
			best = w
		}
	}
	return best
}

// split lists the states the suite moves a provider through: a weight, and the match,
// mirror and session affinity when the provider supports them.
func (s *suite) split() []traffic.Routes {
	states := []traffic.Routes{{CanaryWeight: s.partial()}}
	if s.caps.Match {
		states = append(states, traffic.Routes{Match: s.match()})
	}
	if s.caps.Mirror {
		states = append(states, traffic.Routes{MirrorPercent: 50})
	}
	if s.caps.Sticky {
		states = append(states, traffic.Routes{CanaryWeight: s.partial(), Sticky: SampleSticky()})
	}
	return states
}

// SampleSticky is the session affinity the suite routes with.
func SampleSticky() *traffic.Sticky {
	return &traffic.Sticky{Cookie: "tranche-canary", MaxAge: 24 * time.Hour}
}

// match is the A/B match the provider is driven with: SampleMatch, or what it supports.
func (s *suite) match() []trancheapi.HTTPMatch {
	if s.caps.SupportedMatch != nil {
		return s.caps.SupportedMatch
	}
	return SampleMatch()
}

func (s *suite) fresh(t *testing.T) {
	f := s.setup(t)
	f.reconcile(t)
	f.requireRoutes(t, traffic.Routes{})
}

func (s *suite) weights(t *testing.T) {
	f := s.setup(t)
	f.reconcile(t)
	for _, w := range s.caps.Weights {
		t.Run(fmt.Sprintf("weight=%d", w), func(t *testing.T) {
			f.set(t, traffic.Routes{CanaryWeight: w})
			f.requireRoutes(t, traffic.Routes{CanaryWeight: w})
		})
	}
	t.Run("back to 0", func(t *testing.T) {
		f.set(t, traffic.Routes{})
		f.requireRoutes(t, traffic.Routes{})
	})
}

func (s *suite) unsupportedWeight(t *testing.T) {
	if s.caps.AnyWeight {
		t.Skip("the provider routes every weight")
	}
	w := int32(50)
	for slices.Contains(s.caps.Weights, w) {
		w++
	}
	f := s.setup(t)
	f.reconcile(t)
	err := f.router.SetRoutes(t.Context(), f.ro, traffic.Routes{CanaryWeight: w})
	require.ErrorIs(t, err, providers.ErrUnsupported, "weight %d", w)
	f.requireRoutes(t, traffic.Routes{})
}

func (s *suite) invalid(t *testing.T) {
	f := s.setup(t)
	f.reconcile(t)
	for _, r := range []traffic.Routes{{CanaryWeight: 101}, {CanaryWeight: -1}, {MirrorPercent: 101}} {
		require.Error(t, f.router.SetRoutes(t.Context(), f.ro, r), "%+v", r)
	}
	f.requireRoutes(t, traffic.Routes{})
}

func (s *suite) idempotent(t *testing.T) {
	f := s.setup(t)
	f.reconcile(t)
	before := f.versions(t)
	f.reconcile(t)
	require.Equal(t, before, f.versions(t), "a second Reconcile wrote")
	for _, r := range s.split() {
		f.set(t, r)
		before = f.versions(t)
		f.set(t, r)
		require.Equal(t, before, f.versions(t), "a second SetRoutes(%+v) wrote", r)
		f.reconcile(t)
		require.Equal(t, before, f.versions(t), "Reconcile after SetRoutes(%+v) wrote", r)
	}
	f.handBack(t)
	before = f.versions(t)
	f.handBack(t)
	require.Equal(t, before, f.versions(t), "a second HandBack wrote")
}

func (s *suite) reconcileKeeps(t *testing.T) {
	f := s.setup(t)
	f.reconcile(t)
	for _, r := range s.split() {
		f.set(t, r)
		f.reconcile(t)
		f.requireRoutes(t, r)
	}
}

func (s *suite) foreign(t *testing.T) {
	f := s.setup(t)
	f.reconcile(t)
	f.addMetadata(t)
	if add := s.caps.Foreign.Add; add != nil {
		add(t.Context(), t, s.c, f.ro)
	}
	check := func() {
		t.Helper()
		f.checkMetadata(t)
		if check := s.caps.Foreign.Check; check != nil {
			check(t.Context(), t, s.c, f.ro)
		}
	}
	f.reconcile(t)
	check()
	for _, r := range s.split() {
		f.set(t, r)
		f.requireRoutes(t, r)
		check()
		f.reconcile(t)
		check()
	}
	f.handBack(t)
	f.requireRoutes(t, traffic.Routes{})
	check()
}

func (s *suite) matching(t *testing.T) {
	f := s.setup(t)
	f.reconcile(t)
	want := traffic.Routes{Match: SampleMatch()}
	if !s.caps.Match || s.caps.SupportedMatch != nil {
		require.ErrorIs(t, f.router.SetRoutes(t.Context(), f.ro, want), providers.ErrUnsupported)
		f.requireRoutes(t, traffic.Routes{})
		if !s.caps.Match {
			return
		}
		want = traffic.Routes{Match: s.caps.SupportedMatch}
	}
	f.set(t, want)
	f.requireRoutes(t, want)
	narrower := traffic.Routes{Match: want.Match[:1]}
	f.set(t, narrower)
	f.requireRoutes(t, narrower)
	f.set(t, traffic.Routes{})
	f.requireRoutes(t, traffic.Routes{})
}

func (s *suite) mirror(t *testing.T) {
	f := s.setup(t)
	f.reconcile(t)
	if !s.caps.Mirror {
		require.ErrorIs(t, f.router.SetRoutes(t.Context(), f.ro, traffic.Routes{MirrorPercent: 100}), providers.ErrUnsupported)
		f.requireRoutes(t, traffic.Routes{})
		return
	}
	for _, percent := range []int32{100, 10, 0} {
		f.set(t, traffic.Routes{MirrorPercent: percent})
		f.requireRoutes(t, traffic.Routes{MirrorPercent: percent})
	}
}

func (s *suite) sticky(t *testing.T) {
	f := s.setup(t)
	f.reconcile(t)
	w := s.partial()
	if !s.caps.Sticky {
		require.ErrorIs(t, f.router.SetRoutes(t.Context(), f.ro, traffic.Routes{CanaryWeight: w, Sticky: SampleSticky()}), providers.ErrUnsupported)
		f.requireRoutes(t, traffic.Routes{})
		return
	}
	shorter := &traffic.Sticky{Cookie: "beta", MaxAge: time.Hour}
	for _, r := range []traffic.Routes{
		{CanaryWeight: w, Sticky: SampleSticky()},
		{CanaryWeight: w, Sticky: shorter},
		{CanaryWeight: w},
		{CanaryWeight: w, Sticky: shorter},
		{},
	} {
		f.set(t, r)
		f.requireRoutes(t, r)
	}
	require.Error(t, f.router.SetRoutes(t.Context(), f.ro, traffic.Routes{Sticky: SampleSticky()}),
		"affinity without a canary weight has no canary to keep clients on")
}

// handBack: whatever the split, handing traffic back for a deletion leaves the primary with
// all of it.
func (s *suite) handBack(t *testing.T) {
	f := s.setup(t)
	f.reconcile(t)
	for _, r := range append(s.split(), traffic.Routes{CanaryWeight: 100}) {
		f.set(t, r)
		f.handBack(t)
		f.requireRoutes(t, traffic.Routes{})
	}
}

func (s *suite) builtin(t *testing.T) {
	router := s.factory(s.c)
	for _, metric := range []trancheapi.BuiltinMetric{trancheapi.BuiltinRequestSuccessRate, trancheapi.BuiltinRequestDuration} {
		t.Run(string(metric), func(t *testing.T) {
			query, err := providers.BuiltinQueries(router).Query(metric)
			if !s.caps.BuiltinMetrics {
				require.ErrorIs(t, err, providers.ErrUnsupported)
				return
			}
			require.NoError(t, err)
			rendered, err := Render(query, SampleVars())
			require.NoError(t, err)
			require.NotContains(t, rendered, "{{")
		})
	}
}

func (s *suite) wrongTypes(t *testing.T) {
	if len(s.caps.WrongTypes) == 0 {
		t.Skip("the provider reads its objects with their Go types")
	}
	for name, w := range s.caps.WrongTypes {
		t.Run(name, func(t *testing.T) {
			f := s.setup(t)
			f.reconcile(t)
			obj := w.Object(f.ro)
			Get(t, s.c, obj)
			w.Plant(obj.Object)
			WriteUnchecked(t, s.c, obj)
			says := obj.GetKind() + " " + obj.GetNamespace() + "/" + obj.GetName() + ": " + w.Says
			routes := traffic.Routes{CanaryWeight: s.partial()}
			if !w.Users {
				_, err := f.router.Routes(t.Context(), f.ro)
				require.ErrorIs(t, err, providers.ErrUnreadable, "Routes")
				require.ErrorContains(t, err, says, "Routes")
				f.set(t, routes)
				f.requireRoutes(t, routes)
				return
			}
			for method, err := range map[string]error{
				"Reconcile": f.router.Reconcile(t.Context(), f.ro),
				"SetRoutes": f.router.SetRoutes(t.Context(), f.ro, routes),
				"Routes":    func() error { _, err := f.router.Routes(t.Context(), f.ro); return err }(),
			} {
				if err != nil || method == "Reconcile" {
					require.ErrorIs(t, err, providers.ErrMalformed, method)
					require.ErrorContains(t, err, says, method)
				}
			}
			after := w.Object(f.ro)
			Get(t, s.c, after)
			require.Equal(t, obj.GetResourceVersion(), after.GetResourceVersion(), "%s was written", says)
		})
	}
}
