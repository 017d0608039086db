package planner

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers/traffic"
)

var fuzzPhases = []trancheapi.Phase{"", trancheapi.PhaseInitializing, trancheapi.PhaseInitialized, trancheapi.PhaseProgressing,
	trancheapi.PhaseWaitingApproval, trancheapi.PhasePromoting, trancheapi.PhaseSucceeded, trancheapi.PhaseFailed,
	trancheapi.PhaseAborted, trancheapi.PhasePaused}

var fuzzVerdicts = []trancheapi.Verdict{trancheapi.VerdictPass, trancheapi.VerdictFail, trancheapi.VerdictInconclusive, trancheapi.VerdictWaiting}

// FuzzDecide feeds decide arbitrary worlds, consistent or not (a status from another time, a
// canary not ready, requests at odd moments, any analysis answer), and holds it to the
// promises Tranche makes whatever happens: no panic, no traffic to a canary that is not
// ready, a primary changed only to the revision under test while promoting, a rollout under
// way at a step the spec has, and routes that some provider takes.
func FuzzDecide(f *testing.F) {
	f.Add(uint8(3), uint8(0), uint8(5), true, true, true, uint8(0), uint8(0), uint16(30), uint8(0), false, false)
	f.Add(uint8(5), uint8(2), uint8(100), true, false, true, uint8(1), uint8(1), uint16(600), uint8(1), true, true)
	f.Add(uint8(4), uint8(1), uint8(50), false, true, false, uint8(2), uint8(3), uint16(5), uint8(2), false, true)
	f.Fuzz(func(t *testing.T, phase, step, weight uint8, targetNew, targetReady, primaryReady bool,
		verdict, routeWeight uint8, heldSeconds uint16, request uint8, compare, final bool) {
		ro := simRollout(weightStep(5, time.Minute), weightStep(50, time.Minute), trancheapi.Step{Weight: ptr.To[int32](100), Approval: trancheapi.ApprovalManual})
		if compare {
			ro.Spec.Analysis.Metrics[0] = trancheapi.Metric{Name: "success-rate", TemplateRef: &trancheapi.NamespacedObjectReference{Name: "errors"},
				Judge: trancheapi.JudgeCompare, Compare: &trancheapi.CompareSpec{InsufficientData: trancheapi.InsufficientPause}}
			ro.Spec.Analysis.EndHoldEarly = final
		}
		now := simStart.Add(time.Hour)
		started := metav1.NewMicroTime(now.Add(-time.Duration(heldSeconds) * time.Second))
		ro.Status = trancheapi.RolloutStatus{
			Phase: fuzzPhases[int(phase)%len(fuzzPhases)], CurrentStep: int32(step % 5), CanaryWeight: int32(weight % 101),
			StableRevision: "rev1", CanaryRevision: "rev2", StepStartedAt: &started, LastAnalysisAt: &started,
		}
		switch request % 4 {
		case 1:
			ro.Annotations = map[string]string{trancheapi.AnnotationPromote: "t"}
		case 2:
			ro.Annotations = map[string]string{trancheapi.AnnotationAbort: "t"}
		case 3:
			ro.Annotations = map[string]string{trancheapi.AnnotationPaused: "true"}
		}
		target := Workload{Revision: "rev1", Replicas: 3, Ready: targetReady}
		if targetNew {
			target.Revision = "rev2"
		}
		w := World{
			Now: now, Rollout: ro, Target: target,
			Primary: &Workload{Revision: "rev1", Replicas: 3, Ready: primaryReady},
			Routes:  traffic.Routes{CanaryWeight: int32(routeWeight % 101)},
		}
		v := fuzzVerdicts[int(verdict)%len(fuzzVerdicts)]
		w.Analysis = &AnalysisRun{Checks: []trancheapi.CheckResult{{Metric: "success-rate", Verdict: v, Final: final && (v == trancheapi.VerdictPass || v == trancheapi.VerdictFail), At: metav1.NewMicroTime(now)}}}

		p := Decide(w)
		if p.Action.Kind == SetRoutes {
			require.NoError(t, p.Action.Routes.Validate())
			if !isPrimaryOnly(p.Action.Routes) {
				require.True(t, w.Target.Ready, "routes %+v to a canary that is not ready", p.Action.Routes)
			}
		}
		if p.Action.Kind == UpdatePrimary {
			require.Equal(t, trancheapi.PhasePromoting, p.Status.Phase, "the primary changed outside a promotion")
			require.Equal(t, w.Target.Revision, p.Status.CanaryRevision, "the primary gets a revision that was not tested")
		}
		if p.Status.Phase.UnderWay() {
			require.Less(t, int(p.Status.CurrentStep), len(ro.Spec.EffectiveSteps()), "a step the spec does not have")
		}
		require.GreaterOrEqual(t, p.Status.CurrentStep, int32(0))
		require.GreaterOrEqual(t, p.Status.CanaryWeight, int32(0))
		require.LessOrEqual(t, p.Status.CanaryWeight, int32(100))
	})
}
