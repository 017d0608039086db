package v1alpha1

import (
	"strconv"
	"strings"
)

// Short descriptions of parts of a Rollout, for the plugin's views and notifications.

// The names of the checks in status.lastChecks that are not spec.analysis.metrics: the slash
// keeps them apart from the metrics' names, which cannot have one.
const (
	// TrafficCheckName names the check of spec.analysis.verifyTraffic: the canary's measured
	// share of requests, in percent.
	TrafficCheckName = "traffic/share"
	// WebhookCheckPrefix starts the name of a Rollout webhook's check; the webhook's name
	// follows.
	WebhookCheckPrefix = "webhook/"
)

// Label says what a step does in a few characters: "5%", "match", "mirror 100%".
func (s Step) Label() string {
	switch {
	case s.Match != nil:
		return "match"
	case s.Mirror != nil:
		return "mirror " + strconv.Itoa(int(*s.Mirror)) + "%"
	case s.Weight != nil:
		return strconv.Itoa(int(*s.Weight)) + "%"
	}
	return "?"
}

// SendsAllToCanary reports whether the step sends every request to the canary (weight 100),
// leaving the primary none to be compared with.
func (s Step) SendsAllToCanary() bool {
	return s.Match == nil && s.Mirror == nil && s.Weight != nil && *s.Weight >= 100
}

// Bounds is the range a metric must stay in, such as ">= 99" or ">= 0, <= 500"; "-"
// without one.
func (m Metric) Bounds() string {
	var parts []string
	if m.Min != nil {
		parts = append(parts, ">= "+strconv.FormatFloat(*m.Min, 'g', -1, 64))
	}
	if m.Max != nil {
		parts = append(parts, "<= "+strconv.FormatFloat(*m.Max, 'g', -1, 64))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

// LatestChecks keeps each metric's newest result of status.lastChecks (newest first, several
// runs), in the order the metrics first appear.
func LatestChecks(results []CheckResult) []CheckResult {
	seen := map[string]bool{}
	var latest []CheckResult
	for _, r := range results {
		if !seen[r.Metric] {
			seen[r.Metric] = true
			latest = append(latest, r)
		}
	}
	return latest
}
