package planner

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/tranche-dev/tranche/analysis"
	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// keptChecks is how many results of each metric status keeps.
const keptChecks = 10

// analysisDue is when the next analysis run is due: one interval after the step's routes
// were confirmed or after the previous run, whichever is later. Zero when there is nothing
// to analyse.
func (d *decider) analysisDue() time.Time {
	if !d.w.Rollout.Spec.HasAnalysis() || d.st.StepStartedAt == nil {
		return time.Time{}
	}
	from := d.st.StepStartedAt.Time
	if d.st.LastAnalysisAt != nil && d.st.LastAnalysisAt.After(from) {
		from = d.st.LastAnalysisAt.Time
	}
	return from.Add(d.w.Rollout.Spec.EffectiveInterval())
}

// recordAnalysis counts a run's verdicts and rolls back when the failure limit is reached.
// It returns true when it rolled back.
func (d *decider) recordAnalysis(run AnalysisRun) bool {
	d.p.Analysed = true
	d.st.LastAnalysisAt = d.exactNow()
	d.st.LastChecks = mergeChecks(run.Checks, d.st.LastChecks)
	d.reportDryRun(run.Checks)
	tally := analysis.TallyFor(&d.w.Rollout.Spec)
	tally.Failed, tally.Inconclusive = d.st.FailedChecks, d.st.InconclusiveRuns
	counted := tally.Record(run.Checks)
	d.st.FailedChecks, d.st.InconclusiveRuns = tally.Failed, tally.Inconclusive
	limit := d.w.Rollout.Spec.EffectiveFailureLimit()
	switch {
	case len(counted.Failed) > 0:
		d.emit(true, "AnalysisFailed", fmt.Sprintf("Analysis failed (%d/%d): %s", tally.Failed, limit, strings.Join(counted.Failed, "; ")))
	case len(counted.NoData) > 0:
		d.emit(true, "AnalysisInconclusive", fmt.Sprintf("No data for %s: counted as a failed run (%d/%d)",
			strings.Join(counted.NoData, ", "), tally.Failed, limit))
	}
	if counted.RollBack != "" {
		d.rollback(trancheapi.PhaseFailed, counted.RollBack)
		return true
	}
	return false
}

// reportDryRun tells of the dry-run checks that would have failed the run: they are news,
// never a reason to act.
func (d *decider) reportDryRun(checks []trancheapi.CheckResult) {
	var failed []string
	for _, c := range checks {
		if c.DryRun && c.Verdict == trancheapi.VerdictFail {
			failed = append(failed, describeCheck(c))
		}
	}
	if len(failed) > 0 {
		d.emit(false, "DryRunFailed", "Dry run: would have failed the run: "+strings.Join(failed, "; "))
	}
}

// describeCheck is a check in a sentence: its value, and the judge's message when it has one.
func describeCheck(c trancheapi.CheckResult) string {
	s := c.Metric + " = " + cmp.Or(c.Value, "no data")
	if c.Message != "" {
		s += " (" + c.Message + ")"
	}
	return s
}

// endsHoldEarly reports whether the step may end before its hold: the Rollout opts in, and
// the latest run of the step had every Compare metric pass for good and every other check
// pass.
func (d *decider) endsHoldEarly() bool {
	a := d.w.Rollout.Spec.Analysis
	if a == nil || !a.EndHoldEarly || !d.ranThisStep() {
		return false
	}
	compare := map[string]bool{}
	for _, m := range a.Metrics {
		compare[m.Name] = m.Judge == trancheapi.JudgeCompare
	}
	sure := false
	for _, c := range d.lastRun() {
		if c.DryRun {
			continue
		}
		switch {
		case c.Verdict != trancheapi.VerdictPass:
			return false
		case compare[c.Metric] && !c.Final:
			return false
		case compare[c.Metric]:
			sure = true
		}
	}
	return sure
}

// lackingData is the checks of the latest run that lack data and whose metric's policy for
// too little data is policy (Wait or Pause).
func (d *decider) lackingData(policy trancheapi.InsufficientDataPolicy) []trancheapi.CheckResult {
	if !d.w.Rollout.Spec.HasAnalysis() || !d.ranThisStep() {
		return nil
	}
	follows := map[string]bool{}
	for _, m := range d.w.Rollout.Spec.Analysis.Metrics {
		follows[m.Name] = m.Judge == trancheapi.JudgeCompare && m.EffectiveCompare().InsufficientData == policy
	}
	var checks []trancheapi.CheckResult
	for _, c := range d.lastRun() {
		if !c.DryRun && c.Verdict == trancheapi.VerdictWaiting && follows[c.Metric] {
			checks = append(checks, c)
		}
	}
	return checks
}

// undecided is the checks of the latest run whose Compare test has reached neither bound.
func (d *decider) undecided() []trancheapi.CheckResult {
	if !d.w.Rollout.Spec.HasAnalysis() || !d.ranThisStep() {
		return nil
	}
	var checks []trancheapi.CheckResult
	for _, c := range d.lastRun() {
		if !c.DryRun && c.Verdict == trancheapi.VerdictUndecided {
			checks = append(checks, c)
		}
	}
	return checks
}

// lastRun is the checks of the latest analysis run.
func (d *decider) lastRun() []trancheapi.CheckResult {
	var run []trancheapi.CheckResult
	for _, c := range d.st.LastChecks {
		if d.st.LastAnalysisAt != nil && c.At.Equal(d.st.LastAnalysisAt) {
			run = append(run, c)
		}
	}
	return run
}

// lastRunPassed reports whether the latest analysis run of this step passed every check
// (true when there is no analysis).
func (d *decider) lastRunPassed() bool {
	if !d.w.Rollout.Spec.HasAnalysis() {
		return true
	}
	if !d.ranThisStep() {
		return false
	}
	for _, c := range d.lastRun() {
		if !c.DryRun && c.Verdict != trancheapi.VerdictPass && c.Verdict != trancheapi.VerdictUndecided {
			return false
		}
	}
	return true
}

// ranThisStep reports whether the latest analysis run happened after the step started.
// Stored times have second precision, so a run in the same second as the start of the step
// might be the previous step's: it does not count.
func (d *decider) ranThisStep() bool {
	return d.st.LastAnalysisAt != nil && d.st.StepStartedAt != nil && d.st.LastAnalysisAt.After(d.st.StepStartedAt.Time)
}

// lastRunSummary describes the latest analysis run of this step for the status message.
func (d *decider) lastRunSummary() string {
	if !d.w.Rollout.Spec.HasAnalysis() || !d.ranThisStep() {
		return ""
	}
	var notes []string
	for _, c := range d.lastRun() {
		switch {
		case c.DryRun:
		case c.Verdict == trancheapi.VerdictWaiting:
			return fmt.Sprintf("; waiting for data (%s: %s)", c.Metric, c.Message)
		case c.Verdict == trancheapi.VerdictUndecided && c.Message != "":
			notes = append(notes, c.Metric+" undecided: "+c.Message)
		case c.Verdict == trancheapi.VerdictPass && c.Message != "":
			notes = append(notes, c.Metric+": "+c.Message) // a Compare test's state, and how long it may take
		}
	}
	if !d.lastRunPassed() {
		return "; analysis not passing"
	}
	if len(notes) > 0 && len(d.undecided()) > 0 {
		return "; analysis undecided (" + strings.Join(notes, "; ") + ")"
	}
	if len(notes) > 0 {
		return "; analysis passed (" + strings.Join(notes, "; ") + ")"
	}
	return "; analysis passed"
}

// mergeChecks puts a run's checks before the older ones, keeping keptChecks per metric.
func mergeChecks(run, older []trancheapi.CheckResult) []trancheapi.CheckResult {
	merged := append([]trancheapi.CheckResult{}, run...)
	count := map[string]int{}
	for _, c := range run {
		count[c.Metric]++
	}
	for _, c := range older {
		if count[c.Metric] < keptChecks {
			merged = append(merged, c)
			count[c.Metric]++
		}
	}
	return merged
}
