package analysis

import (
	"context"
	"fmt"
	"time"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// Source is where one metric's queries come from: a MetricTemplate's query and totalQuery,
// or a provider's built-in query (Total empty). Template names the MetricTemplate, for
// messages; "" for a built-in.
type Source struct {
	Query, Total, Template string
}

// StepWindow is where an analysis run stands in its step: the queries of a Compare metric
// count from the step's start, and its tests spend their error over the step's runs.
type StepWindow struct {
	Start    time.Time     // when the data plane took the step's split
	Hold     time.Duration // the step's hold
	Interval time.Duration // the analysis interval
	Scrape   time.Duration // how often Prometheus scrapes the counters; 0: the default
	// AllOnCanary is true in a step that sends every request to the canary: a Compare
	// metric has no primary traffic to compare it with then.
	AllOnCanary bool
}

// StepWindowOf is the window of step (an index into the spec's steps) that began at start:
// its hold and interval as the spec says, and whether it sends every request to the canary.
// ok is false for a step the spec does not have, whose window then has the interval alone.
func StepWindowOf(spec *trancheapi.RolloutSpec, step int32, start time.Time) (w StepWindow, ok bool) {
	w = StepWindow{Start: start, Interval: spec.EffectiveInterval(), Scrape: spec.EffectiveScrapeInterval()}
	steps := spec.EffectiveSteps()
	if step < 0 || int(step) >= len(steps) {
		return w, false
	}
	w.Hold = spec.EffectiveHold(steps[step])
	w.AllOnCanary = steps[step].SendsAllToCanary()
	return w, true
}

// EvaluateMetric runs one metric at time now: a Threshold metric's query judged against
// its bounds, or a Compare metric's queries for the canary and for the primary over the
// time since the step began. The controller runs it at every analysis run, and replay runs
// it at the times a past rollout's runs would have been made.
func EvaluateMetric(ctx context.Context, q CompareQuerier, ro *trancheapi.Rollout, m trancheapi.Metric, src Source, step StepWindow, now time.Time) Check {
	var c Check
	if m.Judge == trancheapi.JudgeCompare {
		c = compareMetric(ctx, q, ro, m, src, step, now)
	} else if query, err := Render(src.Query, VarsFor(ro)); err != nil {
		c = Check{Verdict: trancheapi.VerdictInconclusive, Err: err}
	} else {
		c = Evaluate(ctx, q, query, now, m.Min, m.Max)
	}
	c.Metric = m.Name
	return c
}

// EvaluatePrimary runs a Threshold metric's query with the primary in the canary's place
// (see VarsOfPrimary) and judges the value against its bounds: a paced rollback watches the
// primary with it while it hands the primary its traffic back.
func EvaluatePrimary(ctx context.Context, q Querier, ro *trancheapi.Rollout, m trancheapi.Metric, src Source, now time.Time) Check {
	var c Check
	if query, err := Render(src.Query, VarsOfPrimary(ro)); err != nil {
		c = Check{Verdict: trancheapi.VerdictInconclusive, Err: err}
	} else {
		c = Evaluate(ctx, q, query, now, m.Min, m.Max)
	}
	c.Metric = m.Name
	return c
}

func compareMetric(ctx context.Context, q CompareQuerier, ro *trancheapi.Rollout, m trancheapi.Metric, src Source, step StepWindow, now time.Time) Check {
	if step.AllOnCanary {
		// Waiting would only wait (an Extend policy held such a step to its deadline): the
		// steps before judged the canary against the primary, the thresholds judge it here.
		return Check{Verdict: trancheapi.VerdictPass, Message: "this step sends every request to the canary: no primary traffic to compare it with, so the comparison of the steps before stands"}
	}
	run := CompareRun{Spec: m.EffectiveCompare(), Hold: step.Hold, Part: PartLength(max(step.Interval, time.Second), step.Scrape)}
	if !step.Start.IsZero() {
		run.Window = now.Sub(step.Start)
	}
	run.Window = max(run.Window, time.Second)
	interval := max(step.Interval, time.Second)
	run.Look = max(1, int((run.Window+interval/2)/interval))
	if run.Spec.Kind == trancheapi.CompareErrorRate && src.Total == "" {
		return Check{Verdict: trancheapi.VerdictInconclusive, Err: fmt.Errorf(
			"MetricTemplate %s has no totalQuery: a Compare metric of kind ErrorRate needs one counting the workload's requests", src.Template)}
	}
	vars := VarsFor(ro)
	for _, w := range []struct {
		canary bool
		into   *WorkloadQueries
	}{{true, &run.Canary}, {false, &run.Primary}} {
		wv, pv := vars.ForWorkload(ro, w.canary, run.Window), vars.ForWorkload(ro, w.canary, run.Part)
		var err error
		if w.into.Query, err = Render(src.Query, wv); err == nil && src.Total != "" {
			w.into.Total, err = Render(src.Total, wv)
		}
		if err == nil && src.Total != "" {
			// The parts' queries render as the whole window's do.
			w.into.PartQuery, _ = Render(src.Query, pv)
			w.into.PartTotal, _ = Render(src.Total, pv)
		}
		if err != nil {
			return Check{Verdict: trancheapi.VerdictInconclusive, Err: err}
		}
	}
	return Compare(ctx, q, run, now)
}
