package planner

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers/traffic"
)

// TestDecideEdgeCases pins decisions the simulations cannot reach at a chosen moment.
func TestDecideEdgeCases(t *testing.T) {
	now := simStart.Add(time.Hour)
	ready := func(rev string) Workload { return Workload{Revision: rev, Replicas: 3, Ready: true} }
	rollout := func(st trancheapi.RolloutStatus, annotations map[string]string) *trancheapi.Rollout {
		ro := simRollout(weightStep(5, time.Minute), weightStep(50, time.Minute), weightStep(100, time.Minute))
		ro.Annotations = annotations
		ro.Status = st
		return ro
	}
	promoting := trancheapi.RolloutStatus{Phase: trancheapi.PhasePromoting, StableRevision: "rev1", CanaryRevision: "rev2", CurrentStep: 2, CanaryWeight: 100}
	progressing := trancheapi.RolloutStatus{Phase: trancheapi.PhaseProgressing, StableRevision: "rev1", CanaryRevision: "rev2", CurrentStep: 1, CanaryWeight: 50,
		StepStartedAt: ptr.To(metav1.NewMicroTime(now.Add(-10 * time.Second)))}
	atFifty := traffic.Routes{CanaryWeight: 50}

	cases := []struct {
		name      string
		w         World
		wantKind  ActionKind
		wantPhase trancheapi.Phase
		wantStep  int32
	}{
		{
			name: "target moved on before the primary got the tested template: start again, traffic first",
			w: World{Rollout: rollout(promoting, nil), Target: ready("rev3"), Primary: ptr.To(ready("rev1")),
				Routes: traffic.Routes{CanaryWeight: 100}},
			wantKind: SetRoutes, wantPhase: trancheapi.PhasePromoting, wantStep: 2,
		},
		{
			name: "target moved on after the primary got the tested template: finish the promotion",
			w: World{Rollout: rollout(promoting, nil), Target: ready("rev3"), Primary: ptr.To(Workload{Revision: "rev2", Replicas: 3}),
				Routes: traffic.Routes{CanaryWeight: 100}},
			wantKind: NoAction, wantPhase: trancheapi.PhasePromoting, wantStep: 2,
		},
		{
			name: "abort while promoting, before the primary changed: roll back",
			w: World{Rollout: rollout(promoting, map[string]string{trancheapi.AnnotationAbort: "a1"}), Target: ready("rev2"),
				Primary: ptr.To(ready("rev1")), Routes: traffic.Routes{CanaryWeight: 100}},
			wantKind: SetRoutes, wantPhase: trancheapi.PhaseAborted, wantStep: 2,
		},
		{
			name: "paused while the canary is not ready: traffic goes to the primary",
			w: World{Rollout: rollout(progressing, map[string]string{trancheapi.AnnotationPaused: "true"}),
				Target: Workload{Revision: "rev2", Replicas: 3}, Primary: ptr.To(ready("rev1")), Routes: atFifty},
			wantKind: SetRoutes, wantPhase: trancheapi.PhasePaused, wantStep: 1,
		},
		{
			name: "routes that cannot be read are set again, even when idle",
			w: World{Rollout: rollout(trancheapi.RolloutStatus{Phase: trancheapi.PhaseSucceeded, StableRevision: "rev1", CanaryRevision: "rev1"}, nil),
				Target: Workload{Revision: "rev1"}, Primary: ptr.To(ready("rev1")), RoutesUnknown: true},
			wantKind: SetRoutes, wantPhase: trancheapi.PhaseSucceeded,
		},
		{
			name: "a step index past the steps the spec has now is clamped",
			w: World{Rollout: rollout(trancheapi.RolloutStatus{Phase: trancheapi.PhaseProgressing, StableRevision: "rev1", CanaryRevision: "rev2", CurrentStep: 7},
				nil), Target: ready("rev2"), Primary: ptr.To(ready("rev1")), Routes: atFifty},
			wantKind: SetRoutes, wantPhase: trancheapi.PhaseProgressing, wantStep: 2,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.w.Now = now
			p := Decide(tc.w)
			assert.False(t, p.Need.Any(), "no webhook or analysis is configured to ask for")
			assert.Equal(t, tc.wantKind, p.Action.Kind, p.Status.Message)
			assert.Equal(t, tc.wantPhase, p.Status.Phase, p.Status.Message)
			assert.Equal(t, tc.wantStep, p.Status.CurrentStep)
			if p.Action.Kind == SetRoutes && tc.wantPhase != trancheapi.PhaseProgressing {
				assert.Equal(t, traffic.Routes{}, p.Action.Routes, "only ever back to the primary here")
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
	longIdle := *idle.DeepCopy()
	longIdle.ScaleDownAt = ptr.To(metav1.NewTime(now.Add(-trancheapi.DefaultProgressDeadline - time.Second)))
	bounds := &Autoscaling{Name: "podinfo", Min: 2, Max: 4}
	settled := &Autoscaling{Name: "podinfo", Min: 2, Max: 4, Settled: true}
	primaryAt := func(n int32) *Workload { return &Workload{Revision: "rev1", Replicas: n, Ready: true} }

	cases := []struct {
		name         string
		w            World
		wantKind     ActionKind
		wantReplicas int32
	}{
		{"a new primary takes the declared count", World{Rollout: ro(trancheapi.RolloutStatus{}), Target: Workload{Revision: "rev1", Replicas: 0}, Declared: 3},
			CreatePrimary, 3},
		{"a new primary takes the target's count within its autoscaler's bounds",
			World{Rollout: ro(trancheapi.RolloutStatus{}), Target: Workload{Revision: "rev1", Replicas: 7}, Autoscaler: bounds},
			CreatePrimary, 4},
		{"an idle primary follows the declared count", World{Rollout: ro(idle), Target: Workload{Revision: "rev1", Replicas: 5}, Primary: primaryAt(3), Declared: 5},
			ScalePrimary, 5},
		{"an autoscaled primary is left to its autoscaler", World{Rollout: ro(idle), Target: Workload{Revision: "rev1", Replicas: 5}, Primary: primaryAt(3), Autoscaler: settled},
			ScaleTarget, 0},
		// The HPA controller writes the count it wants over one written since it read: the
		// zero waits until the autoscaler has written it.
		{"an idle target is not scaled to zero while its autoscaler is about to write a count",
			World{Rollout: ro(idle), Target: Workload{Revision: "rev1", Replicas: 5}, Primary: primaryAt(3), Autoscaler: bounds},
			NoAction, 0},
		{"nor for longer than the progress deadline",
			World{Rollout: ro(longIdle), Target: Workload{Revision: "rev1", Replicas: 5}, Primary: primaryAt(3), Autoscaler: bounds},
			ScaleTarget, 0},
		{"a canary starts at the declared count", World{Rollout: ro(idle), Target: Workload{Revision: "rev2"}, Primary: primaryAt(3), Declared: 3},
			ScaleTarget, 3},
		{"an autoscaled canary starts within its autoscaler's bounds", World{Rollout: ro(idle), Target: Workload{Revision: "rev2"}, Primary: primaryAt(6), Autoscaler: bounds},
			ScaleTarget, 4},
		{"with no count known the canary takes the primary's", World{Rollout: ro(idle), Target: Workload{Revision: "rev2"}, Primary: primaryAt(3)},
			ScaleTarget, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.w.Now = now
			p := Decide(tc.w)
			assert.Equal(t, tc.wantKind, p.Action.Kind, p.Status.Message)
			assert.Equal(t, tc.wantReplicas, p.Action.Replicas)
			if tc.w.Autoscaler != nil {
				assert.Equal(t, trancheapi.TargetStatus{Revision: tc.w.Target.Revision, Autoscaler: "podinfo"}, p.Status.Target)
			} else {
				assert.Equal(t, tc.w.Declared, p.Status.Target.DeclaredReplicas)
			}
		})
	}
}
