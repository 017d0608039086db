package controllers

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
)

// TestASplitCountsOnceTheDataPlaneTookIt pins what decide makes of the data plane's word on
// the routes it reads back: a hold starts only on a split the data plane took, a refused
// split rolls back, and refused routes to the primary stall the Rollout.
func TestASplitCountsOnceTheDataPlaneTookIt(t *testing.T) {
	now := simStart.Add(time.Hour)
	ready := func(rev string) *workload { return &workload{revision: rev, replicas: 3, ready: true} }
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
	pending := providers.Acceptance{State: providers.Pending, Parent: "Gateway gateways/public"}
	refused := providers.Acceptance{State: providers.Refused, Parent: "Gateway gateways/public", Reason: "ResolvedRefs=False (BackendNotFound)", Message: "service shop/podinfo-canary not found"}
	atFive := providers.Routes{CanaryWeight: 5}

	cases := []struct {
		name        string
		w           world
		wantKind    actionKind
		wantRoutes  providers.Routes
		wantPhase   trancheapi.Phase
		wantHolding bool
		wantStalled string // the stall's reason, "" for none
		wantSaid    string // in the status message or the stall's
		wantUnsaid  string // not in it
	}{
		{name: "a split the data plane has not spoken of yet: asked again, no hold, and no word of it yet",
			w:        world{rollout: rollout(settingFive), target: *ready("rev2"), primary: ready("rev1"), routes: atFive, acceptance: pending},
			wantKind: actSetRoutes, wantRoutes: atFive, wantPhase: trancheapi.PhaseProgressing,
			wantSaid: "weight 5%", wantUnsaid: "the data plane still says"},
		{name: "a split the data plane has not spoken of for a while: asked again, and said",
			w:        world{rollout: rollout(settingFiveLong), target: *ready("rev2"), primary: ready("rev1"), routes: atFive, acceptance: pending},
			wantKind: actSetRoutes, wantRoutes: atFive, wantPhase: trancheapi.PhaseProgressing,
			wantSaid: "the data plane still says weight 5%, but Gateway gateways/public has not yet taken the route as it is now"},
		{name: "a split the data plane accepted: the hold starts",
			w:         world{rollout: rollout(settingFive), target: *ready("rev2"), primary: ready("rev1"), routes: atFive, acceptance: providers.Acceptance{State: providers.Accepted}},
			wantPhase: trancheapi.PhaseProgressing, wantHolding: true},
		{name: "a data plane that says nothing: the split counts once it reads back",
			w:         world{rollout: rollout(settingFive), target: *ready("rev2"), primary: ready("rev1"), routes: atFive},
			wantPhase: trancheapi.PhaseProgressing, wantHolding: true},
		{name: "a refused split rolls the canary back",
			w:        world{rollout: rollout(settingFive), target: *ready("rev2"), primary: ready("rev1"), routes: atFive, acceptance: refused},
			wantKind: actSetRoutes, wantRoutes: providers.Routes{}, wantPhase: trancheapi.PhaseFailed,
			wantSaid: "the data plane refused the split (weight 5%): Gateway gateways/public refused the route: ResolvedRefs=False (BackendNotFound): service shop/podinfo-canary not found"},
		{name: "a split refused in the middle of its hold rolls back too",
			w:        world{rollout: rollout(holdingFive), target: *ready("rev2"), primary: ready("rev1"), routes: atFive, acceptance: refused},
			wantKind: actSetRoutes, wantRoutes: providers.Routes{}, wantPhase: trancheapi.PhaseFailed},
		{name: "the routes back to the primary refused: stalled, and the canary stays up",
			w:           world{rollout: rollout(failed), target: *ready("rev2"), primary: ready("rev1"), acceptance: refused},
			wantStalled: trancheapi.ReasonRoutesRefused, wantPhase: trancheapi.PhaseFailed,
			wantSaid: "The data plane refused the routes (weight 0%): Gateway gateways/public refused the route: ResolvedRefs=False (BackendNotFound)"},
		{name: "the routes back to the primary not yet taken: the canary stays up",
			w:        world{rollout: rollout(failed), target: *ready("rev2"), primary: ready("rev1"), acceptance: pending},
			wantKind: actSetRoutes, wantRoutes: providers.Routes{}, wantPhase: trancheapi.PhaseFailed},
		{name: "a first route the data plane refused: initializing stalls",
			w:           world{rollout: rollout(trancheapi.RolloutStatus{Phase: trancheapi.PhaseInitializing}), target: *ready("rev1"), primary: ready("rev1"), acceptance: refused},
			wantStalled: trancheapi.ReasonRoutesRefused, wantPhase: trancheapi.PhaseInitializing},
		{name: "a refusal of routes Tranche is about to replace is not news",
			w:        world{rollout: rollout(holdingFive), target: *ready("rev2"), primary: ready("rev1"), routes: providers.Routes{CanaryWeight: 50}, acceptance: refused},
			wantKind: actSetRoutes, wantRoutes: atFive, wantPhase: trancheapi.PhaseProgressing},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.w.now = now
			p := decide(tc.w)
			said := p.status.Message
			if tc.wantStalled != "" {
				require.NotNil(t, p.stalled, said)
				assert.Equal(t, tc.wantStalled, p.stalled.reason)
				assert.Equal(t, maxRouteCheckDelay, p.stalled.recheck, "a route's status is not watched: look again")
				said = p.stalled.message
			} else {
				assert.Nil(t, p.stalled)
			}
			assert.Equal(t, tc.wantKind, p.action.kind, said)
			if tc.wantKind == actSetRoutes {
				assert.Equal(t, tc.wantRoutes, p.action.routes)
				assert.Positive(t, p.requeue, "asked again while the data plane has not taken it")
			}
			assert.Equal(t, tc.wantPhase, p.status.Phase, said)
			assert.Equal(t, tc.wantHolding, p.status.StepStartedAt != nil && p.status.Phase == trancheapi.PhaseProgressing, said)
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
	w := world{now: took, rollout: ro, target: workload{revision: "rev2", replicas: 3, ready: true},
		primary: &workload{revision: "rev1", replicas: 3, ready: true}, routes: providers.Routes{CanaryWeight: 5},
		acceptance: providers.Acceptance{State: providers.Accepted}}

	p := decide(w)
	require.NotNil(t, p.status.StepStartedAt)
	assert.True(t, p.status.StepStartedAt.Time.Equal(took), "the hold starts when the data plane took the split, not at %s",
		p.status.StepStartedAt.Format(time.RFC3339Nano))
	assert.Equal(t, time.Minute, p.requeue, "the hold ends a minute later, to the millisecond")

	// As the API server keeps it, and read back a minute later: the step is over.
	stored, err := json.Marshal(p.status)
	require.NoError(t, err)
	w.rollout = ro.DeepCopy()
	w.rollout.Status = trancheapi.RolloutStatus{}
	require.NoError(t, json.Unmarshal(stored, &w.rollout.Status))
	w.now = took.Add(time.Minute)
	p = decide(w)
	assert.Equal(t, int32(1), p.status.CurrentStep, "the first step held its minute: %s", p.status.Message)
	assert.Equal(t, actSetRoutes, p.action.kind)
	assert.Equal(t, int32(50), p.action.routes.CanaryWeight)
}
