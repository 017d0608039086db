package notify

import (
	"fmt"
	"time"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// Kind is what a piece of news is about.
type Kind string

// The kinds of news. Info: started, step reached, waiting for approval, promoted, a dry-run
// metric failing (never acted on). Error: rolled back, aborted, undone (a person put the
// earlier revision back, in an incident most likely), analysis failing, stalled on bad
// configuration.
const (
	Started         Kind = "Started"
	StepReached     Kind = "StepReached"
	WaitingApproval Kind = "WaitingApproval"
	Promoted        Kind = "Promoted"
	RolledBack      Kind = "RolledBack"
	Aborted         Kind = "Aborted"
	Undone          Kind = "Undone"
	AnalysisFailing Kind = "AnalysisFailing"
	DryRunFailing   Kind = "DryRunFailing"
	Stalled         Kind = "Stalled"
)

// kindOfReason maps the reasons of the controller's events to the news they are. Reasons
// not listed (Approved, Paused, RequestIgnored, ...) are nobody's news but the event log's.
// (A restart and a retry each start the rollout again, which is RolloutStarted's news.)
var kindOfReason = map[string]Kind{
	"RolloutStarted":       Started,
	"StepCompleted":        StepReached,
	"WaitingApproval":      WaitingApproval,
	"Promoted":             Promoted,
	"RolledBack":           RolledBack,
	"Undone":               Undone,
	"AnalysisFailed":       AnalysisFailing,
	"AnalysisInconclusive": AnalysisFailing, // counted as a failed run
	"DryRunFailed":         DryRunFailing,
	"Stalled":              Stalled, // whatever the Stalled condition's own reason
}

// Severity is Error for the kinds that need someone's attention, else Info.
func (k Kind) Severity() trancheapi.Severity {
	switch k {
	case RolledBack, Aborted, Undone, AnalysisFailing, Stalled:
		return trancheapi.SeverityError
	}
	return trancheapi.SeverityInfo
}

// News is one thing that happened to a Rollout, with what a message shows about it. It is a
// copy: the Rollout it came from goes on changing.
type News struct {
	Kind      Kind
	Rollout   string
	Namespace string
	Cluster   string // the manager's --cluster-name; "" when it has none
	Message   string // the controller's own words, as in the event, or the provider's template's
	// Headline, when set, is the provider's template's title of the message; else the
	// message type writes its own (see headline).
	Headline string
	Phase    trancheapi.Phase
	Stable   string // revisions
	Canary   string
	Attempt  string // when this rollout of Canary started: a retry is another attempt
	Step     int    // 1-based: the step under way, or the one rolled back from; 0 otherwise
	Steps    []string
	Weight   int32
	Checks   []Check
	At       time.Time
}

// Check is a metric's latest result against its threshold.
type Check struct {
	Metric    string             `json:"metric"`
	Value     string             `json:"value"`
	Threshold string             `json:"threshold"`
	Verdict   trancheapi.Verdict `json:"verdict"`
	DryRun    bool               `json:"dryRun,omitempty"` // a dry-run metric: its verdict is never acted on
}

// NewsOf makes the news of an event the controller recorded about ro, or false when the
// event is not news (see kindOfReason).
func NewsOf(ro *trancheapi.Rollout, reason, message string, at time.Time) (News, bool) {
	kind, ok := kindOfReason[reason]
	if !ok {
		return News{}, false
	}
	st := ro.Status
	if kind == RolledBack && st.Phase == trancheapi.PhaseAborted {
		kind = Aborted // a person asked for it: the same rollback, other news
	}
	n := News{
		Kind: kind, Rollout: ro.Name, Namespace: ro.Namespace, Message: message, Phase: st.Phase,
		Stable: st.StableRevision, Canary: st.CanaryRevision, Weight: st.CanaryWeight, At: at,
	}
	for _, step := range ro.Spec.EffectiveSteps() {
		n.Steps = append(n.Steps, step.Label())
	}
	if st.RolloutStartedAt != nil {
		n.Attempt = st.RolloutStartedAt.UTC().Format(time.RFC3339)
	}
	if st.Phase.UnderWay() || kind == RolledBack || kind == Aborted {
		n.Step = int(st.CurrentStep) + 1
	}
	n.Checks = checksOf(ro)
	return n, true
}

// checksOf pairs each metric's newest result with its bounds.
func checksOf(ro *trancheapi.Rollout) []Check {
	if ro.Spec.Analysis == nil {
		return nil
	}
	var checks []Check
	latest := trancheapi.LatestChecks(ro.Status.LastChecks)
	for _, m := range ro.Spec.Analysis.Metrics {
		for _, r := range latest {
			if r.Metric == m.Name {
				checks = append(checks, Check{Metric: m.Name, Value: r.Value, Threshold: m.Bounds(), Verdict: r.Verdict, DryRun: r.DryRun})
			}
		}
	}
	return checks
}

// headline is the title of the news: the provider's template's, else the Rollout and what
// happened to it, such as "shop/podinfo promoted".
func headline(n News) string {
	if n.Headline != "" {
		return n.Headline
	}
	return fmt.Sprintf("%s/%s %s", n.Namespace, n.Rollout, titles[n.Kind])
}

// verdictOf is a check's verdict as a message shows it: a dry run says so.
func verdictOf(c Check) string {
	if c.DryRun {
		return string(c.Verdict) + " (dry run)"
	}
	return string(c.Verdict)
}
