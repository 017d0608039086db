// Package replay judges past rollouts again. A Rollout's status.history records when each
// step of its last rollouts held; replay runs an analysis over those windows at the times
// the controller's runs would have been made, with the code the controller runs
// (analysis.EvaluateMetric and analysis.Tally), on what Prometheus holds of then. The
// analysis may be the Rollout's own or one proposed in its place.
//
// What replay cannot know, it does not guess: it judges the windows as they were recorded.
// A step the analysis would have ended early, or held longer, is judged on its recorded
// window alone, and the steps after a recorded rollback were never taken. Webhooks and the
// traffic check are not replayed: their answers are not in Prometheus.
package replay

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tranche-dev/tranche/analysis"
	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// Metric is one metric of the analysis replayed, with where its queries come from.
type Metric struct {
	trancheapi.Metric
	Source analysis.Source
	// Prometheus answers the metric's queries; nil when Err says why there is none.
	Prometheus analysis.RangeQuerier
	// Err is why the metric cannot be asked (its MetricTemplate is missing, say): each of
	// its checks is then inconclusive, as the controller's would be.
	Err error
}

// Judgement is what the analysis would have done in one past rollout.
type Judgement struct {
	Record trancheapi.RolloutRecord
	// Runs is how many analysis runs fit in the recorded windows, and Judged how long the
	// windows were.
	Runs   int
	Judged time.Duration
	// RollBack is when and why the analysis would have rolled the canary back; nil when it
	// would not have in the recorded windows.
	RollBack *Decision
	// NoData is how many runs had data for no metric: many of them mean Prometheus no longer
	// holds the rollout's data (its retention), not that the canary served nothing.
	NoData int
	// DryRunFailed is how many runs a dry-run metric would have failed.
	DryRunFailed int
	// Steps is how many steps the analysis's Rollout has.
	Steps int
}

// Decision is a rollback the analysis would have made.
type Decision struct {
	At     time.Time
	Step   int32 // index in spec.steps
	Weight int32
	Reason string
}

// Promoted reports whether the analysis would have let the rollout through all its steps:
// it passed every step, and the record holds them all.
func (j Judgement) Promoted() bool {
	return j.RollBack == nil && j.Record.Outcome == trancheapi.OutcomeSucceeded
}

// Judge replays the analysis of ro (its spec; its name and namespace render the queries)
// over the step windows of one past rollout.
func Judge(ctx context.Context, ro *trancheapi.Rollout, metrics []Metric, rec trancheapi.RolloutRecord) Judgement {
	j := Judgement{Record: rec, Steps: len(ro.Spec.EffectiveSteps())}
	tally := analysis.TallyFor(&ro.Spec)
	for _, step := range rec.Steps {
		j.Judged += step.EndedAt.Sub(step.StartedAt.Time)
		if j.RollBack = judgeStep(ctx, ro, metrics, step, &tally, &j); j.RollBack != nil {
			return j
		}
	}
	return j
}

// judgeStep makes the runs of one step window and returns the rollback they lead to, if any.
func judgeStep(ctx context.Context, ro *trancheapi.Rollout, metrics []Metric, step trancheapi.StepRecord, tally *analysis.Tally, j *Judgement) *Decision {
	window, ok := analysis.StepWindowOf(&ro.Spec, step.Step, step.StartedAt.Time)
	if !ok { // a step the spec no longer has: it held as long as it lasted
		window.Hold = step.EndedAt.Sub(step.StartedAt.Time)
	}
	end := step.EndedAt.Time
	last := window.Start
	for at := window.Start.Add(window.Interval); !at.After(end); at = at.Add(window.Interval) {
		last = at
	}
	queriers := make([]analysis.CompareQuerier, len(metrics))
	for i, m := range metrics {
		if m.Err == nil {
			queriers[i] = analysis.NewPastQuerier(m.Prometheus, window.Interval, last)
		}
	}
	decide := func(at time.Time, reason string) *Decision {
		return &Decision{At: at, Step: step.Step, Weight: step.Weight, Reason: reason}
	}
	var checks []trancheapi.CheckResult
	for at := window.Start.Add(window.Interval); !at.After(last); at = at.Add(window.Interval) {
		checks = run(ctx, ro, metrics, queriers, window, at)
		j.Runs++
		j.count(checks)
		counted := tally.Record(checks)
		if counted.RollBack != "" {
			reason := counted.RollBack
			if len(counted.Failed) > 0 {
				reason += ": " + strings.Join(counted.Failed, "; ")
			} else if len(counted.NoData) > 0 {
				reason += ": no data for " + strings.Join(counted.NoData, ", ")
			}
			return decide(at, reason)
		}
	}
	// The hold is over with a test still undecided: its policy says what the step does.
	if held := end.Sub(window.Start); held >= window.Hold {
		policy := map[string]trancheapi.UndecidedPolicy{}
		for _, m := range metrics {
			policy[m.Name] = m.EffectiveCompare().Undecided
		}
		for _, c := range checks {
			if !c.DryRun && c.Verdict == trancheapi.VerdictUndecided && policy[c.Metric] == trancheapi.UndecidedFail {
				return decide(window.Start.Add(window.Hold), fmt.Sprintf("%s was undecided when the hold of %s ended: %s", c.Metric, window.Hold, c.Message))
			}
		}
	}
	return nil
}

// run is one analysis run at time at: every metric's check, as status would record it.
func run(ctx context.Context, ro *trancheapi.Rollout, metrics []Metric, queriers []analysis.CompareQuerier, window analysis.StepWindow, at time.Time) []trancheapi.CheckResult {
	checks := make([]trancheapi.CheckResult, 0, len(metrics))
	dryRun := ro.Spec.Analysis != nil && ro.Spec.Analysis.DryRun
	for i, m := range metrics {
		var c analysis.Check
		if m.Err != nil {
			c = analysis.Check{Metric: m.Name, Verdict: trancheapi.VerdictInconclusive, Err: m.Err}
		} else {
			c = analysis.EvaluateMetric(ctx, queriers[i], ro, m.Metric, m.Source, window, at)
		}
		checks = append(checks, c.Result(dryRun || m.DryRun, at))
	}
	return checks
}

// count adds a run's checks to the counts of runs without data and of dry-run failures.
func (j *Judgement) count(checks []trancheapi.CheckResult) {
	noData, dryRunFailed := len(checks) > 0, false
	for _, c := range checks {
		if c.Value != "" || c.Verdict != trancheapi.VerdictInconclusive {
			noData = false
		}
		if c.DryRun && c.Verdict == trancheapi.VerdictFail {
			dryRunFailed = true
		}
	}
	if noData {
		j.NoData++
	}
	if dryRunFailed {
		j.DryRunFailed++
	}
}
