package cli

import (
	"strconv"
	"strings"
	"time"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
)

// What the dashboard's page is sent, as JSON: the same facts as the list and get views,
// computed by the same functions, and like them pure functions of what was read and the time.

// Row is one Rollout in the dashboard's list: the columns of `kubectl tranche list`.
type Row struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Group is the group the Rollout is released with (spec.group), "-" for none.
	Group    string `json:"group"`
	Provider string `json:"provider"`
	Phase    string `json:"phase"`
	Step     string `json:"step"`
	Weight   int32  `json:"weight"`
	Stable   string `json:"stable"`
	Canary   string `json:"canary"`
	// Checks sums up the latest analysis as the list does: "Pass", or "Fail (latency)".
	Checks  string    `json:"checks"`
	Verdict string    `json:"verdict"`
	Created time.Time `json:"created"`
}

// RowOf is the list's row of a Rollout.
func RowOf(ro *trancheapi.Rollout) Row {
	st := ro.Status
	group := "-"
	if g := ro.Spec.Group; g != nil {
		group = g.Name
	}
	return Row{
		Namespace: ro.Namespace, Name: ro.Name, Group: group, Provider: providers.Name(ro),
		Phase: orDash(string(st.Phase)), Step: stepOf(ro), Weight: st.CanaryWeight,
		Stable: orDash(st.StableRevision), Canary: orDash(canaryOf(ro)),
		Checks: style(false).checks(st.LastChecks), Verdict: string(worstVerdict(st.LastChecks)),
		Created: ro.CreationTimestamp.Time,
	}
}

// worstVerdict is the worst of the latest checks that are not dry runs: Fail over
// Inconclusive or Waiting over Undecided over Pass; "" when there are none.
func worstVerdict(results []trancheapi.CheckResult) trancheapi.Verdict {
	var worst trancheapi.Verdict
	for _, r := range trancheapi.LatestChecks(results) {
		switch {
		case r.DryRun: // shown beside its metric, never the rollout's verdict
		case worst == "", r.Verdict == trancheapi.VerdictFail:
			worst = r.Verdict
		case worst == trancheapi.VerdictPass, worst == trancheapi.VerdictUndecided && r.Verdict != trancheapi.VerdictPass:
			worst = r.Verdict
		}
	}
	return worst
}

// Page is what the dashboard shows of one Rollout.
type Page struct {
	Row
	Target     string         `json:"target"`
	Message    string         `json:"message"`
	Primary    int32          `json:"primary"`
	Steps      []StepProgress `json:"steps"`
	Analysis   *AnalysisView  `json:"analysis,omitempty"`
	Traffic    []TrafficPoint `json:"traffic"`
	Conditions []Condition    `json:"conditions"`
	Events     []EventView    `json:"events"`
	// GroupMembers are the members of the group the Rollout is released with (Row.Group), in
	// the order they are released; none without a group.
	GroupMembers []MemberView `json:"groupMembers,omitempty"`
	// Actions are the requests that make sense for the Rollout as it is (the request
	// functions check again when one is sent).
	Actions []string `json:"actions"`
}

// MemberView is a member of a group, with whom it comes after.
type MemberView struct {
	Row
	After string `json:"after"`
}

// AnalysisView is the analysis of a Rollout: each metric and webhook with its checks over
// time, newest last.
type AnalysisView struct {
	Interval     string       `json:"interval"`
	FailedRuns   int32        `json:"failedRuns"`
	FailureLimit int32        `json:"failureLimit"`
	Metrics      []MetricView `json:"metrics"`
	Webhooks     []MetricView `json:"webhooks"`
}

// MetricView is one metric (or webhook) and the checks of it seen so far.
type MetricView struct {
	Name string `json:"name"`
	// Judge is Threshold or Compare; empty for a webhook.
	Judge  string       `json:"judge,omitempty"`
	Min    *float64     `json:"min,omitempty"`
	Max    *float64     `json:"max,omitempty"`
	Bounds string       `json:"bounds"`
	Checks []CheckPoint `json:"checks"`
}

// CheckPoint is one check of a metric.
type CheckPoint struct {
	At time.Time `json:"at"`
	// Value is the measured value when it is a number, for the plot; Text as the check wrote it.
	Value   *float64 `json:"value,omitempty"`
	Text    string   `json:"text"`
	Verdict string   `json:"verdict"`
	// Message is why a verdict is not Pass; for a Compare metric, the judge's evidence.
	Message string `json:"message,omitempty"`
	Final   bool   `json:"final,omitempty"`
	// DryRun marks a dry-run metric's check: shown, never acted on.
	DryRun bool `json:"dryRun,omitempty"`
}

// TrafficPoint is the canary's weight at a time, and its measured share of requests where
// spec.analysis.verifyTraffic measured one.
type TrafficPoint struct {
	At     time.Time `json:"at"`
	Weight int32     `json:"weight"`
	Share  *float64  `json:"share,omitempty"`
}

// Condition is a status condition as the page lists it.
type Condition struct {
	Type    string    `json:"type"`
	Status  string    `json:"status"`
	Reason  string    `json:"reason"`
	Message string    `json:"message"`
	Since   time.Time `json:"since"`
}

// EventView is an event about the Rollout.
type EventView struct {
	At     time.Time `json:"at"`
	Type   string    `json:"type"`
	Reason string    `json:"reason"`
	Note   string    `json:"note"`
}

// The actions a page can ask for, by the names the page sends.
const (
	ActionPromote     = "promote"
	ActionPromoteFull = "promote-full"
	ActionAbort       = "abort"
	ActionRetry       = "retry"
	ActionPause       = "pause"
	ActionResume      = "resume"
)

// PageOf is the page of a Rollout, with what the dashboard has seen of it over time.
func PageOf(v View, seen History, now time.Time) Page {
	ro, st := v.Rollout, v.Rollout.Status
	p := Page{
		Row:     RowOf(ro),
		Target:  ro.Spec.TargetRef.Kind + " " + ro.Spec.TargetRef.Name,
		Message: st.Message, Primary: 100 - st.CanaryWeight,
		Steps:   Steps(ro, now),
		Traffic: seen.Traffic, Actions: actionsFor(ro),
	}
	if p.Traffic == nil {
		p.Traffic = []TrafficPoint{{At: now, Weight: st.CanaryWeight}}
	}
	for i := range v.Members {
		m := &v.Members[i]
		p.GroupMembers = append(p.GroupMembers, MemberView{Row: RowOf(m), After: after(m.Spec.Group)})
	}
	if a := ro.Spec.Analysis; a != nil && (len(a.Metrics) > 0 || len(a.Webhooks) > 0) {
		p.Analysis = &AnalysisView{
			Interval: ro.Spec.EffectiveInterval().String(), FailedRuns: st.FailedChecks, FailureLimit: ro.Spec.EffectiveFailureLimit(),
			Metrics: []MetricView{}, Webhooks: []MetricView{},
		}
		for _, m := range a.Metrics {
			judge := string(m.Judge)
			if judge == "" {
				judge = string(trancheapi.JudgeThreshold)
			}
			p.Analysis.Metrics = append(p.Analysis.Metrics, MetricView{
				Name: m.Name, Judge: judge, Min: m.Min, Max: m.Max, Bounds: m.Bounds(), Checks: orEmpty(seen.Checks[m.Name]),
			})
		}
		for _, hook := range ro.Spec.WebhooksOf(trancheapi.WebhookRollout) {
			name := trancheapi.WebhookCheckPrefix + hook.Name
			p.Analysis.Webhooks = append(p.Analysis.Webhooks, MetricView{Name: hook.Name, Bounds: "answers 2xx", Checks: orEmpty(seen.Checks[name])})
		}
	}
	p.Conditions = []Condition{}
	for _, c := range st.Conditions {
		p.Conditions = append(p.Conditions, Condition{Type: c.Type, Status: string(c.Status), Reason: c.Reason, Message: c.Message, Since: c.LastTransitionTime.Time})
	}
	p.Events = []EventView{}
	for _, e := range v.Events {
		p.Events = append(p.Events, EventView{At: eventTime(e), Type: e.Type, Reason: e.Reason, Note: e.Note})
	}
	return p
}

func orEmpty(checks []CheckPoint) []CheckPoint {
	if checks == nil {
		return []CheckPoint{}
	}
	return checks
}

// actionsFor is what may be asked of the Rollout as it is, as the request functions judge it.
func actionsFor(ro *trancheapi.Rollout) []string {
	phase := ro.Status.Phase
	actions := []string{}
	if phase == trancheapi.PhaseWaitingApproval {
		actions = append(actions, ActionPromote)
	}
	if phase.UnderWay() {
		actions = append(actions, ActionPromoteFull)
	}
	if phase.UnderWay() || phase == trancheapi.PhasePromoting {
		actions = append(actions, ActionAbort)
	}
	if phase == trancheapi.PhaseFailed || phase == trancheapi.PhaseAborted {
		actions = append(actions, ActionRetry)
	}
	if ro.Annotations[trancheapi.AnnotationPaused] == "true" {
		actions = append(actions, ActionResume)
	} else {
		actions = append(actions, ActionPause)
	}
	return actions
}

// History is what the dashboard has seen of one Rollout since it started: the weight each
// time it changed, and every check (status.lastChecks keeps only the latest ten of each).
type History struct {
	Traffic []TrafficPoint
	Checks  map[string][]CheckPoint // by the check's name in status.lastChecks
}

// historyKept is how many points of each series the dashboard keeps per Rollout.
const historyKept = 500

// Observe adds what a Rollout read at now says to the history: its weight when it changed
// (with the latest measured share), and the checks not seen before, oldest first.
func (h *History) Observe(ro *trancheapi.Rollout, now time.Time) {
	if h.Checks == nil {
		h.Checks = map[string][]CheckPoint{}
	}
	results := ro.Status.LastChecks
	for i := len(results) - 1; i >= 0; i-- { // status lists them newest first
		r := results[i]
		series := h.Checks[r.Metric]
		if n := len(series); n > 0 && !r.At.After(series[n-1].At) {
			continue
		}
		h.Checks[r.Metric] = keepLast(append(series, pointOf(r)), historyKept)
	}
	point := TrafficPoint{At: now, Weight: ro.Status.CanaryWeight}
	if shares := h.Checks[trancheapi.TrafficCheckName]; len(shares) > 0 {
		point.Share = shares[len(shares)-1].Value
	}
	if n := len(h.Traffic); n > 0 && h.Traffic[n-1].Weight == point.Weight && sameShare(h.Traffic[n-1].Share, point.Share) {
		return
	}
	h.Traffic = keepLast(append(h.Traffic, point), historyKept)
}

func pointOf(r trancheapi.CheckResult) CheckPoint {
	p := CheckPoint{At: r.At.Time, Text: orDash(r.Value), Verdict: string(r.Verdict), Message: r.Message, Final: r.Final, DryRun: r.DryRun}
	if v, err := strconv.ParseFloat(strings.TrimSpace(r.Value), 64); err == nil {
		p.Value = &v
	}
	return p
}

func sameShare(a, b *float64) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

func keepLast[T any](s []T, n int) []T {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
