package controllers

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
)

// TestDecideEdgeCases pins decisions the simulations cannot reach at a chosen moment.
func TestDecideEdgeCases(t *testing.T) {
	now := simStart.Add(time.Hour)
	ready := func(rev string) workload { return workload{revision: rev, replicas: 3, ready: true} }
	rollout := func(st trancheapi.RolloutStatus, annotations map[string]string) *trancheapi.Rollout {
		ro := simRollout(weightStep(5, time.Minute), weightStep(50, time.Minute), weightStep(100, time.Minute))
		ro.Annotations = annotations
		ro.Status = st
		return ro
	}
	promoting := trancheapi.RolloutStatus{Phase: trancheapi.PhasePromoting, StableRevision: "rev1", CanaryRevision: "rev2", CurrentStep: 2, CanaryWeight: 100}
	progressing := trancheapi.RolloutStatus{Phase: trancheapi.PhaseProgressing, StableRevision: "rev1", CanaryRevision: "rev2", CurrentStep: 1, CanaryWeight: 50,
		StepStartedAt: ptr.To(metav1.NewMicroTime(now.Add(-10 * time.Second)))}
	atFifty := providers.Routes{CanaryWeight: 50}

	cases := []struct {
		name      string
		w         world
		wantKind  actionKind
		wantPhase trancheapi.Phase
		wantStep  int32
	}{
		{
			name: "target moved on before the primary got the tested template: start again, traffic first",
			w: world{rollout: rollout(promoting, nil), target: ready("rev3"), primary: ptr.To(ready("rev1")),
				routes: providers.Routes{CanaryWeight: 100}},
			wantKind: actSetRoutes, wantPhase: trancheapi.PhasePromoting, wantStep: 2,
		},
		{
			name: "target moved on after the primary got the tested template: finish the promotion",
			w: world{rollout: rollout(promoting, nil), target: ready("rev3"), primary: ptr.To(workload{revision: "rev2", replicas: 3}),
				routes: providers.Routes{CanaryWeight: 100}},
			wantKind: actNone, wantPhase: trancheapi.PhasePromoting, wantStep: 2,
		},
		{
			name: "abort while promoting, before the primary changed: roll back",
			w: world{rollout: rollout(promoting, map[string]string{trancheapi.AnnotationAbort: "a1"}), target: ready("rev2"),
				primary: ptr.To(ready("rev1")), routes: providers.Routes{CanaryWeight: 100}},
			wantKind: actSetRoutes, wantPhase: trancheapi.PhaseAborted, wantStep: 2,
		},
		{
			name: "paused while the canary is not ready: traffic goes to the primary",
			w: world{rollout: rollout(progressing, map[string]string{trancheapi.AnnotationPaused: "true"}),
				target: workload{revision: "rev2", replicas: 3}, primary: ptr.To(ready("rev1")), routes: atFifty},
			wantKind: actSetRoutes, wantPhase: trancheapi.PhasePaused, wantStep: 1,
		},
		{
			name: "routes that cannot be read are set again, even when idle",
			w: world{rollout: rollout(trancheapi.RolloutStatus{Phase: trancheapi.PhaseSucceeded, StableRevision: "rev1", CanaryRevision: "rev1"}, nil),
				target: workload{revision: "rev1"}, primary: ptr.To(ready("rev1")), routesUnknown: true},
			wantKind: actSetRoutes, wantPhase: trancheapi.PhaseSucceeded,
		},
		{
			name: "a step index past the steps the spec has now is clamped",
			w: world{rollout: rollout(trancheapi.RolloutStatus{Phase: trancheapi.PhaseProgressing, StableRevision: "rev1", CanaryRevision: "rev2", CurrentStep: 7},
				nil), target: ready("rev2"), primary: ptr.To(ready("rev1")), routes: atFifty},
			wantKind: actSetRoutes, wantPhase: trancheapi.PhaseProgressing, wantStep: 2,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.w.now = now
			p := decide(tc.w)
			assert.False(t, p.need.any(), "no webhook or analysis is configured to ask for")
			assert.Equal(t, tc.wantKind, p.action.kind, p.status.Message)
			assert.Equal(t, tc.wantPhase, p.status.Phase, p.status.Message)
			assert.Equal(t, tc.wantStep, p.status.CurrentStep)
			if p.action.kind == actSetRoutes && tc.wantPhase != trancheapi.PhaseProgressing {
				assert.Equal(t, providers.Routes{}, p.action.routes, "only ever back to the primary here")
			}
		})
	}
}

func TestNextSecondRoundsUp(t *testing.T) {
	base := time.Date(2026, 11, 25, 3, 0, 5, 0, time.UTC)
	for _, tc := range []struct{ in, want time.Time }{
		{base, base},
		{base.Add(time.Nanosecond), base.Add(time.Second)},
		{base.Add(200 * time.Millisecond), base.Add(time.Second)},
		{base.Add(999 * time.Millisecond), base.Add(time.Second)},
	} {
		assert.Equal(t, tc.want, nextSecond(tc.in), "nextSecond(%s)", tc.in.Format(time.RFC3339Nano))
	}
}

// TestReplicaDecisions pins who sets which count: the owner's declared count, or the
// autoscaler's bounds, never both.
func TestReplicaDecisions(t *testing.T) {
	now := simStart.Add(time.Hour)
	ro := func(st trancheapi.RolloutStatus) *trancheapi.Rollout {
		r := simRollout(weightStep(5, time.Minute))
		r.Status = st
		return r
	}
	idle := trancheapi.RolloutStatus{Phase: trancheapi.PhaseSucceeded, StableRevision: "rev1", CanaryRevision: "rev1",
		ScaleDownAt: ptr.To(metav1.NewTime(now.Add(-time.Minute)))}
	bounds := &autoscaling{name: "podinfo", min: 2, max: 4}
	primaryAt := func(n int32) *workload { return &workload{revision: "rev1", replicas: n, ready: true} }

	cases := []struct {
		name         string
		w            world
		wantKind     actionKind
		wantReplicas int32
	}{
		{"a new primary takes the declared count", world{rollout: ro(trancheapi.RolloutStatus{}), target: workload{revision: "rev1", replicas: 0}, declared: 3},
			actCreatePrimary, 3},
		{"a new primary takes the target's count within its autoscaler's bounds",
			world{rollout: ro(trancheapi.RolloutStatus{}), target: workload{revision: "rev1", replicas: 7}, autoscaler: bounds},
			actCreatePrimary, 4},
		{"an idle primary follows the declared count", world{rollout: ro(idle), target: workload{revision: "rev1", replicas: 5}, primary: primaryAt(3), declared: 5},
			actScalePrimary, 5},
		{"an autoscaled primary is left to its autoscaler", world{rollout: ro(idle), target: workload{revision: "rev1", replicas: 5}, primary: primaryAt(3), autoscaler: bounds},
			actScaleTarget, 0},
		{"a canary starts at the declared count", world{rollout: ro(idle), target: workload{revision: "rev2"}, primary: primaryAt(3), declared: 3},
			actScaleTarget, 3},
		{"an autoscaled canary starts within its autoscaler's bounds", world{rollout: ro(idle), target: workload{revision: "rev2"}, primary: primaryAt(6), autoscaler: bounds},
			actScaleTarget, 4},
		{"with no count known the canary takes the primary's", world{rollout: ro(idle), target: workload{revision: "rev2"}, primary: primaryAt(3)},
			actScaleTarget, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.w.now = now
			p := decide(tc.w)
			assert.Equal(t, tc.wantKind, p.action.kind, p.status.Message)
			assert.Equal(t, tc.wantReplicas, p.action.replicas)
			if tc.w.autoscaler != nil {
				assert.Equal(t, trancheapi.TargetStatus{Revision: tc.w.target.revision, Autoscaler: "podinfo"}, p.status.Target)
			} else {
				assert.Equal(t, tc.w.declared, p.status.Target.DeclaredReplicas)
			}
		})
	}
}
