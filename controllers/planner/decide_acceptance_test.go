package planner

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers/traffic"
)

// TestASplitCountsOnceTheDataPlaneTookIt pins what decide makes of the data plane's word on
// the routes it reads back: a hold starts only on a split the data plane took, a refused
// split rolls back, and refused routes to the primary stall the Rollout.
func TestASplitCountsOnceTheDataPlaneTookIt(t *testing.T) {
	now := simStart.Add(time.Hour)
	ready := func(rev string) *Workload { return &Workload{Revision: rev, Replicas: 3, Ready: true} }
	rollout := func(st trancheapi.RolloutStatus) *trancheapi.Rollout {
		ro := simRollout(weightStep(5, time.Minute), weightStep(50, time.Minute), weightStep(100, time.Minute))
		ro.Status = st
		return ro
	}
	asked := ptr.To(metav1.NewTime(now.Add(-2 * time.Second)))
	settingFive := trancheapi.RolloutStatus{Phase: trancheapi.PhaseProgressing, StableRevision: "rev1", CanaryRevision: "rev2", CanaryWeight: 5, RoutesSetAt: asked}
	settingFiveLong := settingFive
	settingFiveLong.RoutesSetAt = ptr.To(metav1.NewTime(now.Add(-dataPlaneQuiet)))
	holdingFive := settingFive
	holdingFive.RoutesSetAt, holdingFive.StepStartedAt = nil, ptr.To(metav1.NewMicroTime(now.Add(-10*time.Second)))
	failed := trancheapi.RolloutStatus{Phase: trancheapi.PhaseFailed, StableRevision: "rev1", CanaryRevision: "rev2",
		ScaleDownAt: ptr.To(metav1.NewTime(now.Add(-time.Minute)))}
	pending := traffic.Acceptance{State: traffic.Pending, Parent: "Gateway gateways/public"}
	refused := traffic.Acceptance{State: traffic.Refused, Parent: "Gateway gateways/public", Reason: "ResolvedRefs=False (BackendNotFound)", Message: "service shop/podinfo-canary not found"}
	atFive := traffic.Routes{CanaryWeight: 5}

	cases := []struct {
		name        string
		w           World
		wantKind    ActionKind
		wantRoutes  traffic.Routes
		wantPhase   trancheapi.Phase
		wantHolding bool
		wantStalled string // the stall's reason, "" for none
		wantSaid    string // in the status message or the stall's
		wantUnsaid  string // not in it
	}{
		{name: "a split the data plane has not spoken of yet: asked again, no hold, and no word of it yet",
			w:        World{Rollout: rollout(settingFive), Target: *ready("rev2"), Primary: ready("rev1"), Routes: atFive, Acceptance: pending},
			wantKind: SetRoutes, wantRoutes: atFive, wantPhase: trancheapi.PhaseProgressing,
			wantSaid: "weight 5%", wantUnsaid: "the data plane still says"},
		{name: "a split the data plane has not spoken of for a while: asked again, and said",
			w:        World{Rollout: rollout(settingFiveLong), Target: *ready("rev2"), Primary: ready("rev1"), Routes: atFive, Acceptance: pending},
			wantKind: SetRoutes, wantRoutes: atFive, wantPhase: trancheapi.PhaseProgressing,
			wantSaid: "the data plane still says weight 5%, but Gateway gateways/public has not yet taken the route as it is now"},
		{name: "a split the data plane accepted: the hold starts",
			w:         World{Rollout: rollout(settingFive), Target: *ready("rev2"), Primary: ready("rev1"), Routes: atFive, Acceptance: traffic.Acceptance{State: traffic.Accepted}},
			wantPhase: trancheapi.PhaseProgressing, wantHolding: true},
		{name: "a data plane that says nothing: the split counts once it reads back",
			w:         World{Rollout: rollout(settingFive), Target: *ready("rev2"), Primary: ready("rev1"), Routes: atFive},
			wantPhase: trancheapi.PhaseProgressing, wantHolding: true},
		{name: "a refused split rolls the canary back",
			w:        World{Rollout: rollout(settingFive), Target: *ready("rev2"), Primary: ready("rev1"), Routes: atFive, Acceptance: refused},
			wantKind: SetRoutes, wantRoutes: traffic.Routes{}, wantPhase: trancheapi.PhaseFailed,
			wantSaid: "the data plane refused the split (weight 5%): Gateway gateways/public refused the route: ResolvedRefs=False (BackendNotFound): service shop/podinfo-canary not found"},
		{name: "a split refused in the middle of its hold rolls back too",
			w:        World{Rollout: rollout(holdingFive), Target: *ready("rev2"), Primary: ready("rev1"), Routes: atFive, Acceptance: refused},
			wantKind: SetRoutes, wantRoutes: traffic.Routes{}, wantPhase: trancheapi.PhaseFailed},
		{name: "the routes back to the primary refused: stalled, and the canary stays up",
			w:           World{Rollout: rollout(failed), Target: *ready("rev2"), Primary: ready("rev1"), Acceptance: refused},
			wantStalled: trancheapi.ReasonRoutesRefused, wantPhase: trancheapi.PhaseFailed,
			wantSaid: "The data plane refused the routes (weight 0%): Gateway gateways/public refused the route: ResolvedRefs=False (BackendNotFound)"},
		{name: "the routes back to the primary not yet taken: the canary stays up",
			w:        World{Rollout: rollout(failed), Target: *ready("rev2"), Primary: ready("rev1"), Acceptance: pending},
			wantKind: SetRoutes, wantRoutes: traffic.Routes{}, wantPhase: trancheapi.PhaseFailed},
		{name: "a first route the data plane refused: initializing stalls",
			w:           World{Rollout: rollout(trancheapi.RolloutStatus{Phase: trancheapi.PhaseInitializing}), Target: *ready("rev1"), Primary: ready("rev1"), Acceptance: refused},
			wantStalled: trancheapi.ReasonRoutesRefused, wantPhase: trancheapi.PhaseInitializing},
		{name: "a refusal of routes Tranche is about to replace is not news",
			w:        World{Rollout: rollout(holdingFive), Target: *ready("rev2"), Primary: ready("rev1"), Routes: traffic.Routes{CanaryWeight: 50}, Acceptance: refused},
			wantKind: SetRoutes, wantRoutes: atFive, wantPhase: trancheapi.PhaseProgressing},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.w.Now = now
			p := Decide(tc.w)
			said := p.Status.Message
			if tc.wantStalled != "" {
				require.NotNil(t, p.Stalled, said)
				assert.Equal(t, tc.wantStalled, p.Stalled.Reason)
				assert.Equal(t, maxRouteCheckDelay, p.Stalled.Recheck, "a route's status is not watched: look again")
				said = p.Stalled.Message
			} else {
				assert.Nil(t, p.Stalled)
			}
			assert.Equal(t, tc.wantKind, p.Action.Kind, said)
			if tc.wantKind == SetRoutes {
				assert.Equal(t, tc.wantRoutes, p.Action.Routes)
				assert.Positive(t, p.Requeue, "asked again while the data plane has not taken it")
			}
			assert.Equal(t, tc.wantPhase, p.Status.Phase, said)
			assert.Equal(t, tc.wantHolding, p.Status.StepStartedAt != nil && p.Status.Phase == trancheapi.PhaseProgressing, said)
			assert.Contains(t, said, tc.wantSaid)
			if tc.wantUnsaid != "" {
				assert.NotContains(t, said, tc.wantUnsaid)
			}
		})
	}
}

// TestAHoldIsTimedFromTheSplit pins that a hold counts from the moment the data plane took
// the split, to the millisecond, and that the start survives the status's trip through the
// API server: a hold that waited for the next whole second would make every step up to a
// second longer than asked.
func TestAHoldIsTimedFromTheSplit(t *testing.T) {
	took := simStart.Add(time.Hour + 300*time.Millisecond)
	ro := simRollout(weightStep(5, time.Minute), weightStep(50, time.Minute), weightStep(100, time.Minute))
	ro.Spec.Analysis = nil // the hold alone
	ro.Status = trancheapi.RolloutStatus{Phase: trancheapi.PhaseProgressing, StableRevision: "rev1", CanaryRevision: "rev2",
		CanaryWeight: 5, RoutesSetAt: ptr.To(metav1.NewTime(took.Add(-time.Second)))}
	w := World{Now: took, Rollout: ro, Target: Workload{Revision: "rev2", Replicas: 3, Ready: true},
		Primary: &Workload{Revision: "rev1", Replicas: 3, Ready: true}, Routes: traffic.Routes{CanaryWeight: 5},
		Acceptance: traffic.Acceptance{State: traffic.Accepted}}

	p := Decide(w)
	require.NotNil(t, p.Status.StepStartedAt)
	assert.True(t, p.Status.StepStartedAt.Time.Equal(took), "the hold starts when the data plane took the split, not at %s",
		p.Status.StepStartedAt.Format(time.RFC3339Nano))
	assert.Equal(t, time.Minute, p.Requeue, "the hold ends a minute later, to the millisecond")

	// As the API server keeps it, and read back a minute later: the step is over.
	stored, err := json.Marshal(p.Status)
	require.NoError(t, err)
	w.Rollout = ro.DeepCopy()
	w.Rollout.Status = trancheapi.RolloutStatus{}
	require.NoError(t, json.Unmarshal(stored, &w.Rollout.Status))
	w.Now = took.Add(time.Minute)
	p = Decide(w)
	assert.Equal(t, int32(1), p.Status.CurrentStep, "the first step held its minute: %s", p.Status.Message)
	assert.Equal(t, SetRoutes, p.Action.Kind)
	assert.Equal(t, int32(50), p.Action.Routes.CanaryWeight)
}
