package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
)

// The views are pure functions of what was read and the time: tests compare them with golden
// files, and -w draws them again.

// style colours text on a terminal and leaves it alone elsewhere. tabwriter counts the
// colour codes as width, so a column is either coloured in every row or in none.
type style bool

const (
	green  = "32"
	red    = "31"
	yellow = "33"
	blue   = "34"
	faint  = "2"
)

func (s style) paint(code, text string) string {
	if !s || text == "" {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}

func (s style) phase(p trancheapi.Phase) string {
	switch p {
	case trancheapi.PhaseSucceeded, trancheapi.PhaseInitialized:
		return s.paint(green, string(p))
	case trancheapi.PhaseFailed, trancheapi.PhaseAborted:
		return s.paint(red, string(p))
	case trancheapi.PhaseWaitingApproval, trancheapi.PhasePaused:
		return s.paint(yellow, string(p))
	case "":
		return s.paint(faint, "-")
	}
	return s.paint(blue, string(p))
}

func (s style) verdict(v trancheapi.Verdict) string {
	switch v {
	case trancheapi.VerdictPass:
		return s.paint(green, string(v))
	case trancheapi.VerdictFail:
		return s.paint(red, string(v))
	}
	return s.paint(yellow, string(v))
}

// RenderList writes the table of `kubectl tranche list`.
func RenderList(w io.Writer, rollouts []trancheapi.Rollout, allNamespaces bool, now time.Time, color bool) error {
	s := style(color)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if allNamespaces {
		fmt.Fprint(tw, "NAMESPACE\t")
	}
	// Members of a group (spec.group) are released as one: the column shows which, when any is.
	grouped := slices.ContainsFunc(rollouts, func(ro trancheapi.Rollout) bool { return ro.Spec.Group != nil })
	if grouped {
		fmt.Fprint(tw, "GROUP\t")
	}
	fmt.Fprintln(tw, "NAME\tPHASE\tSTEP\tWEIGHT\tSTABLE\tCANARY\tCHECKS\tAGE")
	for i := range rollouts {
		ro := &rollouts[i]
		if allNamespaces {
			fmt.Fprintf(tw, "%s\t", ro.Namespace)
		}
		if grouped {
			group := "-"
			if g := ro.Spec.Group; g != nil {
				group = g.Name
			}
			fmt.Fprintf(tw, "%s\t", group)
		}
		st := ro.Status
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d%%\t%s\t%s\t%s\t%s\n", ro.Name, s.phase(st.Phase), stepOf(ro), st.CanaryWeight,
			orDash(st.StableRevision), orDash(canaryOf(ro)), s.checks(st.LastChecks), age(ro.CreationTimestamp.Time, now))
	}
	return tw.Flush()
}

// stepOf is "i/n" while a rollout is under way, else "-".
func stepOf(ro *trancheapi.Rollout) string {
	if !ro.Status.Phase.UnderWay() {
		return "-"
	}
	return fmt.Sprintf("%d/%d", ro.Status.CurrentStep+1, len(ro.Spec.EffectiveSteps()))
}

// canaryOf is the canary revision while it differs from the stable one.
func canaryOf(ro *trancheapi.Rollout) string {
	if ro.Status.CanaryRevision == ro.Status.StableRevision {
		return ""
	}
	return ro.Status.CanaryRevision
}

// checks sums up the latest analysis: Pass, or the verdict and names of the metrics that
// did not pass.
func (s style) checks(results []trancheapi.CheckResult) string {
	if len(results) == 0 {
		return s.paint(faint, "-")
	}
	var failing []string
	for _, r := range trancheapi.LatestChecks(results) {
		if !r.DryRun && r.Verdict != trancheapi.VerdictPass && r.Verdict != trancheapi.VerdictUndecided {
			failing = append(failing, r.Metric)
		}
	}
	worst := worstVerdict(results)
	if len(failing) == 0 {
		return s.verdict(worst)
	}
	return s.verdict(worst) + " (" + strings.Join(failing, ",") + ")"
}

func orDash(v string) string {
	if v == "" {
		return "-"
	}
	return v
}

func age(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return duration.HumanDuration(now.Sub(t))
}

// View is what `kubectl tranche get` shows of one Rollout.
type View struct {
	Rollout *trancheapi.Rollout
	Events  []eventsv1.Event // oldest first
	// Members are the members of the Rollout's group, it included, in release order (Members).
	Members []trancheapi.Rollout
}

// RenderView writes the view of `kubectl tranche get`.
func RenderView(w io.Writer, v View, now time.Time, color bool) error {
	s := style(color)
	ro, st := v.Rollout, v.Rollout.Status
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Name:\t%s\n", ro.Name)
	fmt.Fprintf(tw, "Namespace:\t%s\n", ro.Namespace)
	fmt.Fprintf(tw, "Target:\t%s %s\n", ro.Spec.TargetRef.Kind, ro.Spec.TargetRef.Name)
	fmt.Fprintf(tw, "Provider:\t%s\n", providers.Name(ro))
	fmt.Fprintf(tw, "Phase:\t%s\n", s.phase(st.Phase))
	if st.Message != "" {
		fmt.Fprintf(tw, "Message:\t%s\n", st.Message)
	}
	fmt.Fprintf(tw, "Revisions:\tstable %s, canary %s\n", orDash(st.StableRevision), orDash(canaryOf(ro)))
	fmt.Fprintf(tw, "Traffic:\tprimary %d%%, canary %d%%\n", 100-st.CanaryWeight, st.CanaryWeight)
	fmt.Fprintf(tw, "Steps:\t%s\n", s.progress(ro, now))
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := renderGroup(w, s, v); err != nil {
		return err
	}
	renderAnalysis(w, s, ro, now)
	renderConditions(w, s, ro, now)
	renderEvents(w, s, v.Events, now)
	return nil
}

// progress draws the steps on one line: done ones ticked, the current one marked, with the
// time left of its hold.
func (s style) progress(ro *trancheapi.Rollout, now time.Time) string {
	marks := map[StepState]struct{ color, mark string }{
		StepDone: {green, "✔ "}, StepCurrent: {blue, "▶ "}, StepFailed: {red, "✘ "}, StepAhead: {faint, "· "},
	}
	var parts []string
	for _, step := range Steps(ro, now) {
		m := marks[step.State]
		parts = append(parts, s.paint(m.color, m.mark+step.Label+step.Left))
	}
	return strings.Join(parts, "  ")
}

// StepState is where a rollout is with one of its steps.
type StepState string

const (
	StepDone    StepState = "done"
	StepCurrent StepState = "current"
	StepFailed  StepState = "failed" // the step the rollout failed or was aborted at
	StepAhead   StepState = "ahead"
)

// StepProgress is one step of a Rollout as the views show it.
type StepProgress struct {
	Label string    `json:"label"`
	State StepState `json:"state"`
	// Left is " (1m left)" while the current step holds.
	Left string `json:"left,omitempty"`
}

// Steps is where the rollout is with each of its steps at now.
func Steps(ro *trancheapi.Rollout, now time.Time) []StepProgress {
	st := ro.Status
	var steps []StepProgress
	for i, step := range ro.Spec.EffectiveSteps() {
		p := StepProgress{Label: stepLabel(step), State: StepAhead}
		switch {
		case st.Phase == trancheapi.PhaseSucceeded || st.Phase == trancheapi.PhasePromoting || i < int(st.CurrentStep) && st.Phase.UnderWay():
			p.State = StepDone
		case i == int(st.CurrentStep) && st.Phase.UnderWay():
			p.State, p.Left = StepCurrent, holdLeft(step, st, now)
		case i == int(st.CurrentStep) && (st.Phase == trancheapi.PhaseFailed || st.Phase == trancheapi.PhaseAborted):
			p.State = StepFailed
		}
		steps = append(steps, p)
	}
	return steps
}

// stepLabel is the step's label, with "+approval" when it waits for one.
func stepLabel(step trancheapi.Step) string {
	if step.Approval == trancheapi.ApprovalManual {
		return step.Label() + " +approval"
	}
	return step.Label()
}

// holdLeft is " (1m left)" while the current step holds, else "".
func holdLeft(step trancheapi.Step, st trancheapi.RolloutStatus, now time.Time) string {
	if step.Hold == nil || st.StepStartedAt == nil {
		return ""
	}
	left := st.StepStartedAt.Add(step.Hold.Duration).Sub(now)
	if left <= 0 {
		return ""
	}
	return " (" + duration.HumanDuration(left) + " left)"
}

func renderAnalysis(w io.Writer, s style, ro *trancheapi.Rollout, now time.Time) {
	a := ro.Spec.Analysis
	if a == nil || len(a.Metrics) == 0 {
		return
	}
	fmt.Fprintf(w, "Analysis:   every %s, failed runs %d/%d\n", ro.Spec.EffectiveInterval(), ro.Status.FailedChecks, ro.Spec.EffectiveFailureLimit())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  METRIC\tVALUE\tTHRESHOLD\tVERDICT\tCHECKED")
	latest := trancheapi.LatestChecks(ro.Status.LastChecks)
	for _, m := range a.Metrics {
		value, verdict, at := "-", s.paint(faint, "-"), "-"
		for _, c := range latest {
			if c.Metric == m.Name {
				value, verdict, at = orDash(c.Value), s.verdict(c.Verdict), age(c.At.Time, now)+" ago"
				if c.DryRun {
					verdict += " (dry run)"
				}
			}
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", m.Name, value, m.Bounds(), verdict, at)
	}
	_ = tw.Flush()
}

func renderConditions(w io.Writer, s style, ro *trancheapi.Rollout, now time.Time) {
	if len(ro.Status.Conditions) == 0 {
		return
	}
	fmt.Fprintln(w, "Conditions:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range ro.Status.Conditions {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", c.Type, c.Status, c.Reason, age(c.LastTransitionTime.Time, now), c.Message)
	}
	_ = tw.Flush()
}

// eventsShown is how many of the latest events the view lists.
const eventsShown = 8

func renderEvents(w io.Writer, s style, events []eventsv1.Event, now time.Time) {
	if len(events) == 0 {
		return
	}
	fmt.Fprintln(w, "Events:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, e := range events[max(len(events)-eventsShown, 0):] {
		kind := s.paint(faint, e.Type)
		if e.Type == "Warning" {
			kind = s.paint(red, e.Type)
		}
		fmt.Fprintf(tw, "  %s ago\t%s\t%s\t%s\n", age(eventTime(e), now), kind, e.Reason, e.Note)
	}
	_ = tw.Flush()
}

// eventTime is when an event last happened, from whichever field its recorder set.
func eventTime(e eventsv1.Event) time.Time {
	switch {
	case e.Series != nil:
		return e.Series.LastObservedTime.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.DeprecatedLastTimestamp.IsZero():
		return e.DeprecatedLastTimestamp.Time
	}
	return e.CreationTimestamp.Time
}
