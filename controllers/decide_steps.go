package controllers

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
)

const (
	// routeCheckDelay is how soon a reconcile that changed the routes looks again, to read
	// back what the data plane was told and start the step's hold.
	routeCheckDelay = 200 * time.Millisecond
	// maxRouteCheckDelay is the longest wait between asks while the data plane has not said
	// the split back: each wait is as long as the asking has lasted, up to this.
	maxRouteCheckDelay = 10 * time.Second
	// keptChecks is how many results of each metric status keeps.
	keptChecks = 10
)

// progress walks the steps: canary ready, routes set, hold with analysis, next step.
func (d *decider) progress() {
	steps := d.w.rollout.Spec.EffectiveSteps()
	if d.w.target.revision != d.st.CanaryRevision {
		d.restart()
		return
	}
	for {
		if !d.canaryServes() {
			return
		}
		step := steps[d.st.CurrentStep]
		want := routesFor(&d.w.rollout.Spec, step)
		if !d.routesAre(want) {
			d.changeRoutes(want)
			return
		}
		d.st.RoutesSetAt = nil // the data plane says the step's routes
		if !d.hold(step) {
			return
		}
		if int(d.st.CurrentStep)+1 >= len(steps) {
			d.finishSteps()
			return
		}
		// The next step starts at once, in this same decision.
		d.st.CurrentStep++
		d.st.Phase = trancheapi.PhaseProgressing
		d.st.StepStartedAt = nil
		d.emit(false, "StepCompleted", fmt.Sprintf("Step %d/%d passed", d.st.CurrentStep, len(steps)))
	}
}

// restart begins again from the first step when a newer revision arrives mid-rollout,
// after taking traffic off the revision being replaced.
func (d *decider) restart() {
	if !d.routesAre(providers.Routes{}) {
		d.say(fmt.Sprintf("Revision %s replaces %s mid-rollout: routing all traffic to the primary first",
			d.w.target.revision, d.st.CanaryRevision))
		d.setRoutes(providers.Routes{})
		return
	}
	d.emit(false, "RolloutRestarted", fmt.Sprintf("Revision %s replaces %s: starting again from the first step",
		d.w.target.revision, d.st.CanaryRevision))
	d.start()
}

// canaryServes reports whether the canary is up and ready. A canary that is not ready gets
// no traffic, and rolls back once the progress deadline passes.
func (d *decider) canaryServes() bool {
	switch {
	case d.w.target.replicas == 0:
		d.say("Scaling the canary up")
		d.p.action = action{kind: actScaleTarget, replicas: d.w.primary.replicas}
		return false
	case !d.w.target.ready:
		if !d.routesAre(providers.Routes{}) {
			d.setRoutes(providers.Routes{})
			d.say("The canary is not ready: routing all traffic to the primary")
			return false
		}
		d.wait(canaryWaitMessage(d.st.CanaryRevision), d.w.rollout.Spec.EffectiveProgressDeadline())
		return false
	}
	return true
}

// canaryWaitMessage is said from the start of a rollout until its canary is ready: the same
// words before and after the scale-up, so that the wait costs no status write.
func canaryWaitMessage(revision string) string {
	return fmt.Sprintf("Waiting for the canary (revision %s) to be ready", revision)
}

// changeRoutes moves to the current step's routes; more traffic for the canary waits for the
// ConfirmTrafficIncrease gate, and the very first traffic for the PreRollout webhooks.
func (d *decider) changeRoutes(want providers.Routes) {
	if d.firstTraffic() && !d.preRolloutPassed() {
		return
	}
	if sendsMoreToCanary(d.w.routes, want) && !d.gateOpen(trancheapi.WebhookConfirmTrafficIncrease) {
		return
	}
	if !d.setRoutes(want) {
		return // rolled back: the data plane never took the split
	}
	message := fmt.Sprintf("Step %d/%d: %s", d.st.CurrentStep+1, len(d.w.rollout.Spec.EffectiveSteps()), describeRoutes(want))
	if d.st.RoutesSetAt.Time.Before(d.w.now) {
		message += fmt.Sprintf("; the data plane still says %s", d.saidRoutes())
	}
	d.say(message)
}

// firstTraffic reports whether the routes about to be set are the first of this rollout to
// send the canary any traffic: no earlier step did, and none does now.
func (d *decider) firstTraffic() bool {
	if !d.routesAre(providers.Routes{}) {
		return false
	}
	for _, step := range d.w.rollout.Spec.EffectiveSteps()[:d.st.CurrentStep] {
		if !isPrimaryOnly(routesFor(&d.w.rollout.Spec, step)) {
			return false
		}
	}
	return true
}

// preRolloutPassed asks the PreRollout webhooks once; a no rolls the canary back.
func (d *decider) preRolloutPassed() bool {
	if !hasWebhook(d.w.rollout, trancheapi.WebhookPreRollout) {
		return true
	}
	answer, asked := d.w.gates[trancheapi.WebhookPreRollout]
	switch {
	case !asked:
		d.p.need = need{gate: trancheapi.WebhookPreRollout}
		return false
	case !answer.open:
		d.rollback(trancheapi.PhaseFailed, "pre-rollout webhook said no: "+answer.message)
		return false
	}
	return true
}

// hold runs the analysis while the step holds; it returns true once the step has held for
// its hold with the latest analysis run passing.
func (d *decider) hold(step trancheapi.Step) bool {
	if d.st.StepStartedAt == nil {
		// Status keeps whole seconds: the hold starts at the next one, so that the start
		// status shows is the one the hold is timed from (after a restart as well) and no
		// hold is shorter than asked.
		d.st.StepStartedAt = &metav1.Time{Time: nextSecond(d.w.now)}
	}
	if due := d.analysisDue(); !due.IsZero() {
		if !d.w.now.Before(due) {
			if d.w.analysis == nil {
				d.p.need = need{analysis: true}
				return false
			}
			if d.recordAnalysis(*d.w.analysis) {
				return false // rolled back
			}
		}
		d.requeueIn(d.analysisDue().Sub(d.w.now))
	}
	hold := stepHold(d.w.rollout, step)
	held := max(0, d.w.now.Sub(d.st.StepStartedAt.Time))
	steps := len(d.w.rollout.Spec.EffectiveSteps())
	d.say(fmt.Sprintf("Step %d/%d: %s, held %s of %s%s", d.st.CurrentStep+1, steps,
		describeRoutes(routesFor(&d.w.rollout.Spec, step)), held.Round(time.Second), hold, d.lastRunSummary()))
	if held < hold && !d.endsHoldEarly() {
		d.requeueIn(d.st.StepStartedAt.Add(hold).Sub(d.w.now))
		return false
	}
	if waiting := d.pausedForData(); len(waiting) > 0 && !d.approve() {
		d.waitForApproval(fmt.Sprintf("Step %d waits for a person: not enough data to judge %s; kubectl tranche promote %s -n %s goes on, abort rolls back",
			d.st.CurrentStep+1, strings.Join(waiting, ", "), d.w.rollout.Name, d.w.rollout.Namespace))
		return false
	}
	if !d.lastRunPassed() {
		return false // the next analysis run, already scheduled, decides
	}
	if step.Approval == trancheapi.ApprovalManual && !d.approve() {
		d.waitForApproval(fmt.Sprintf("Step %d waits for approval: kubectl tranche promote %s -n %s",
			d.st.CurrentStep+1, d.w.rollout.Name, d.w.rollout.Namespace))
		return false
	}
	return true
}

// waitForApproval holds the rollout until a person promotes it.
func (d *decider) waitForApproval(message string) {
	d.say(message)
	if d.st.Phase != trancheapi.PhaseWaitingApproval {
		d.emit(false, "WaitingApproval", d.st.Message)
	}
	d.st.Phase = trancheapi.PhaseWaitingApproval
}

// finishSteps starts the promotion once the ConfirmPromotion gate is open.
func (d *decider) finishSteps() {
	if !d.gateOpen(trancheapi.WebhookConfirmPromotion) {
		return
	}
	d.st.Phase = trancheapi.PhasePromoting
	d.st.WaitingSince = nil
	d.emit(false, "Promoting", fmt.Sprintf("All steps passed: promoting revision %s", d.st.CanaryRevision))
	d.promote()
}

// analysisDue is when the next analysis run is due: one interval after the step's routes
// were confirmed or after the previous run, whichever is later. Zero when there is nothing
// to analyse.
func (d *decider) analysisDue() time.Time {
	if !hasAnalysis(d.w.rollout) || d.st.StepStartedAt == nil {
		return time.Time{}
	}
	from := d.st.StepStartedAt.Time
	if d.st.LastAnalysisAt != nil && d.st.LastAnalysisAt.After(from) {
		from = d.st.LastAnalysisAt.Time
	}
	return from.Add(d.w.rollout.Spec.EffectiveInterval())
}

// recordAnalysis counts a run's verdicts and rolls back when the failure limit is reached.
// It returns true when it rolled back.
func (d *decider) recordAnalysis(run analysisRun) bool {
	d.p.analysed = true
	d.st.LastAnalysisAt = d.now()
	d.st.LastChecks = mergeChecks(run.checks, d.st.LastChecks)
	if final := finalFailures(run.checks); len(final) > 0 {
		// A sequential test that is sure needs no second run: roll back now.
		d.rollback(trancheapi.PhaseFailed, "the canary is worse than the primary: "+strings.Join(final, "; "))
		return true
	}
	failed, inconclusive := verdicts(run.checks)
	switch {
	case len(failed) > 0:
		d.st.FailedChecks++
		d.st.InconclusiveRuns = 0
		d.emit(true, "AnalysisFailed", fmt.Sprintf("Analysis failed (%d/%d): %s",
			d.st.FailedChecks, d.w.rollout.Spec.EffectiveFailureLimit(), strings.Join(failed, "; ")))
	case len(inconclusive) > 0:
		d.st.InconclusiveRuns++
		if d.st.InconclusiveRuns >= d.w.rollout.Spec.EffectiveInconclusiveLimit() {
			d.st.FailedChecks++
			d.st.InconclusiveRuns = 0
			d.emit(true, "AnalysisInconclusive", fmt.Sprintf("No data for %s: counted as a failed run (%d/%d)",
				strings.Join(inconclusive, ", "), d.st.FailedChecks, d.w.rollout.Spec.EffectiveFailureLimit()))
		}
	default:
		d.st.InconclusiveRuns = 0
	}
	if d.st.FailedChecks >= d.w.rollout.Spec.EffectiveFailureLimit() {
		d.rollback(trancheapi.PhaseFailed, fmt.Sprintf("%d failed analysis runs", d.st.FailedChecks))
		return true
	}
	return false
}

// endsHoldEarly reports whether the step may end before its hold: the Rollout opts in, and
// the latest run of the step had every Compare metric pass for good and every other check
// pass.
func (d *decider) endsHoldEarly() bool {
	a := d.w.rollout.Spec.Analysis
	if a == nil || !a.EndHoldEarly || !d.ranThisStep() {
		return false
	}
	compare := map[string]bool{}
	for _, m := range a.Metrics {
		compare[m.Name] = m.Judge == trancheapi.JudgeCompare
	}
	sure := false
	for _, c := range d.lastRun() {
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

// pausedForData names the metrics of the latest run that lack data and whose policy is to
// pause for a person.
func (d *decider) pausedForData() []string {
	if !hasAnalysis(d.w.rollout) || !d.ranThisStep() {
		return nil
	}
	pause := map[string]bool{}
	for _, m := range d.w.rollout.Spec.Analysis.Metrics {
		pause[m.Name] = m.Judge == trancheapi.JudgeCompare && m.EffectiveCompare().InsufficientData == trancheapi.InsufficientPause
	}
	var names []string
	for _, c := range d.lastRun() {
		if c.Verdict == trancheapi.VerdictWaiting && pause[c.Metric] {
			names = append(names, c.Metric)
		}
	}
	return names
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
	if !hasAnalysis(d.w.rollout) {
		return true
	}
	if !d.ranThisStep() {
		return false
	}
	for _, c := range d.lastRun() {
		if c.Verdict != trancheapi.VerdictPass {
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
	if !hasAnalysis(d.w.rollout) || !d.ranThisStep() {
		return ""
	}
	var notes []string
	for _, c := range d.lastRun() {
		switch {
		case c.Verdict == trancheapi.VerdictWaiting:
			return fmt.Sprintf("; waiting for data (%s: %s)", c.Metric, c.Message)
		case c.Verdict == trancheapi.VerdictPass && c.Message != "":
			notes = append(notes, c.Metric+": "+c.Message) // a Compare test's state, and how long it may take
		}
	}
	if !d.lastRunPassed() {
		return "; analysis not passing"
	}
	if len(notes) > 0 {
		return "; analysis passed (" + strings.Join(notes, "; ") + ")"
	}
	return "; analysis passed"
}

// nextSecond is t rounded up to a whole second.
func nextSecond(t time.Time) time.Time {
	if r := t.Truncate(time.Second); !r.Equal(t) {
		return r.Add(time.Second)
	}
	return t
}

func (d *decider) now() *metav1.Time {
	t := metav1.NewTime(d.w.now)
	return &t
}

// routesFor is the split a step asks for. Session affinity goes with the steps that split
// by weight: at 100% every client is on the canary already.
func routesFor(spec *trancheapi.RolloutSpec, step trancheapi.Step) providers.Routes {
	r := providers.Routes{Match: step.Match}
	if step.Weight != nil {
		r.CanaryWeight = *step.Weight
	}
	if step.Mirror != nil {
		r.MirrorPercent = *step.Mirror
	}
	if a := spec.SessionAffinity; a != nil && r.CanaryWeight > 0 && r.CanaryWeight < 100 {
		r.Sticky = &providers.Sticky{Cookie: a.EffectiveCookieName(), MaxAge: a.EffectiveMaxAge().Truncate(time.Second)}
	}
	return r
}

func equalRoutes(a, b providers.Routes) bool {
	return a.CanaryWeight == b.CanaryWeight && a.MirrorPercent == b.MirrorPercent &&
		len(a.Match) == len(b.Match) && (len(a.Match) == 0 || equality.Semantic.DeepEqual(a.Match, b.Match)) &&
		(a.Sticky == nil) == (b.Sticky == nil) && (a.Sticky == nil || *a.Sticky == *b.Sticky)
}

func isPrimaryOnly(r providers.Routes) bool { return equalRoutes(r, providers.Routes{}) }

func sendsMoreToCanary(from, to providers.Routes) bool {
	return to.CanaryWeight > from.CanaryWeight || to.MirrorPercent > from.MirrorPercent ||
		(len(to.Match) > 0 && !equalRoutes(from, to))
}

func describeRoutes(r providers.Routes) string {
	switch {
	case len(r.Match) > 0:
		return fmt.Sprintf("matching requests (%d rules) go to the canary", len(r.Match))
	case r.MirrorPercent > 0:
		return fmt.Sprintf("%d%% of requests mirrored to the canary, weight %d%%", r.MirrorPercent, r.CanaryWeight)
	}
	if r.Sticky != nil {
		return fmt.Sprintf("weight %d%%, clients that reach the canary stay on it", r.CanaryWeight)
	}
	return fmt.Sprintf("weight %d%%", r.CanaryWeight)
}

// newRequest returns the token of a request annotation when it differs from the one handled
// last, else "".
func newRequest(ro *trancheapi.Rollout, annotation, handled string) string {
	token := ro.Annotations[annotation]
	if token == "" || token == handled {
		return ""
	}
	return token
}

// verdicts names the failed and inconclusive checks of a run.
// finalFailures describes the checks whose judge failed the canary for good.
func finalFailures(checks []trancheapi.CheckResult) []string {
	var out []string
	for _, c := range checks {
		if c.Final && c.Verdict == trancheapi.VerdictFail {
			out = append(out, fmt.Sprintf("%s: %s", c.Metric, c.Message))
		}
	}
	return out
}

func verdicts(checks []trancheapi.CheckResult) (failed, inconclusive []string) {
	for _, c := range checks {
		switch c.Verdict {
		case trancheapi.VerdictFail:
			failed = append(failed, fmt.Sprintf("%s = %s", c.Metric, c.Value))
		case trancheapi.VerdictInconclusive:
			inconclusive = append(inconclusive, c.Metric)
		}
	}
	return failed, inconclusive
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

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
