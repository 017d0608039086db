package notify

import (
	"time"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// Kinds are the kinds of news, in the order a rollout tells them.
var Kinds = []Kind{Started, StepReached, WaitingApproval, Promoted, RolledBack, Aborted, Undone, AnalysisFailing, DryRunFailing, Stalled}

// Sample is a piece of news of the kind, about a Rollout shop/podinfo walking 5%, 50% and
// 100%: what `kubectl tranche notify test` sends, and what templates are tried on before
// they are used. The golden files of the messages are made from them.
func Sample(kind Kind) News {
	n := News{
		Kind: kind, Rollout: "podinfo", Namespace: "shop", Phase: trancheapi.PhaseProgressing,
		Stable: "7f9c2a1b3d", Canary: "1a2b3c4d5e", Step: 2, Steps: []string{"5%", "50%", "100%"}, Weight: 50,
		Message: "Step 2/3: weight 50%",
		Checks: []Check{
			{Metric: "success-rate", Value: "99.7", Threshold: ">= 99", Verdict: trancheapi.VerdictPass},
			{Metric: "latency-p99", Value: "230", Threshold: "<= 500", Verdict: trancheapi.VerdictPass},
		},
		At: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC),
	}
	switch kind {
	case Started:
		n.Step, n.Weight, n.Checks, n.Message = 1, 0, nil, "Rolling out revision 1a2b3c4d5e (stable: 7f9c2a1b3d): scaling the canary up"
	case WaitingApproval:
		n.Step, n.Weight, n.Phase = 3, 50, trancheapi.PhaseWaitingApproval
		n.Message = "Step 3 waits for approval: kubectl tranche promote podinfo -n shop"
	case Promoted:
		n.Step, n.Weight, n.Phase, n.Stable = 0, 0, trancheapi.PhaseSucceeded, "1a2b3c4d5e"
		n.Message = "Promoted revision 1a2b3c4d5e"
	case RolledBack:
		n.Step, n.Weight, n.Phase = 0, 0, trancheapi.PhaseFailed
		n.Checks[1] = Check{Metric: "latency-p99", Value: "612", Threshold: "<= 500", Verdict: trancheapi.VerdictFail}
		n.Message = "Rolled back revision 1a2b3c4d5e: 2 failed analysis runs"
	case Aborted:
		n.Step, n.Weight, n.Phase = 0, 0, trancheapi.PhaseAborted
		n.Message = "Rolled back revision 1a2b3c4d5e: aborted on request"
	case Undone:
		n.Step, n.Weight, n.Phase, n.Checks = 0, 0, trancheapi.PhaseAborted, nil
		n.Stable, n.Canary = "0f9e8d7c6b", "1a2b3c4d5e"
		n.Message = "Undone revision 1a2b3c4d5e on request by alice@example.com: revision 0f9e8d7c6b serves all traffic again. " +
			"Revision 1a2b3c4d5e is not rolled out again until the target changes or a retry is requested"
	case AnalysisFailing:
		n.Checks[1] = Check{Metric: "latency-p99", Value: "612", Threshold: "<= 500", Verdict: trancheapi.VerdictFail}
		n.Message = "Analysis failed (1/2): latency-p99 = 612"
	case DryRunFailing:
		n.Checks = append(n.Checks, Check{Metric: "latency-p95", Value: "310", Threshold: "<= 250", Verdict: trancheapi.VerdictFail, DryRun: true})
		n.Message = "Dry run: would have failed the run: latency-p95 = 310"
	case Stalled:
		n.Step, n.Weight, n.Checks, n.Phase = 0, 0, nil, trancheapi.PhaseInitialized
		n.Message = `MetricTemplate "errors" does not exist: create it, or fix the reference <spec.analysis>`
	}
	return n
}
