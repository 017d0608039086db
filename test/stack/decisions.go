package stack

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// A release's report says what each of the analysis's checks decided and when: a threshold
// check beside a Compare judge, say, each with its own verdicts over the same traffic.

// Decision is one check of a metric: its verdict, seconds after the release.
type Decision struct {
	Seconds float64
	Verdict trancheapi.Verdict
	Value   string
	Message string
}

// MetricDecisions are a metric's checks through a release, oldest first.
type MetricDecisions struct {
	Metric    string
	Decisions []Decision
}

// DecisionsOf are the checks the samples saw made after the first sample, each once, by
// metric: in the order each first decided, by name where two first decided at once.
func DecisionsOf(samples []Sample) []MetricDecisions {
	if len(samples) == 0 {
		return nil
	}
	start := samples[0].At
	seen := map[string]bool{}
	var out []MetricDecisions
	for _, smp := range samples {
		checks := slices.Clone(smp.Checks)
		slices.SortStableFunc(checks, func(a, b trancheapi.CheckResult) int { return a.At.Compare(b.At.Time) })
		for _, c := range checks {
			key := c.Metric + "@" + c.At.String()
			if seen[key] || c.At.Time.Before(start) {
				continue
			}
			seen[key] = true
			i := slices.IndexFunc(out, func(m MetricDecisions) bool { return m.Metric == c.Metric })
			if i < 0 {
				out = append(out, MetricDecisions{Metric: c.Metric})
				i = len(out) - 1
			}
			out[i].Decisions = append(out[i].Decisions, Decision{
				Seconds: c.At.Sub(start).Seconds(), Verdict: c.Verdict, Value: c.Value, Message: c.Message,
			})
		}
	}
	slices.SortStableFunc(out, func(a, b MetricDecisions) int {
		return cmp.Or(cmp.Compare(a.Decisions[0].Seconds, b.Decisions[0].Seconds), cmp.Compare(a.Metric, b.Metric))
	})
	return out
}

// Summary says in a line what a metric decided: its verdicts in runs of the same, with when
// each run began and ended, and the message of its last check that did not pass.
func (m MetricDecisions) Summary() string {
	var runs []string
	for i := 0; i < len(m.Decisions); {
		j := i
		for j+1 < len(m.Decisions) && m.Decisions[j+1].Verdict == m.Decisions[i].Verdict {
			j++
		}
		from, to := m.Decisions[i].Seconds, m.Decisions[j].Seconds
		if i == j {
			runs = append(runs, fmt.Sprintf("%s at %.1f s", m.Decisions[i].Verdict, from))
		} else {
			runs = append(runs, fmt.Sprintf("%s ×%d (%.1f-%.1f s)", m.Decisions[i].Verdict, j-i+1, from, to))
		}
		i = j + 1
	}
	line := m.Metric + ": " + strings.Join(runs, ", then ")
	for i := len(m.Decisions) - 1; i >= 0; i-- {
		if d := m.Decisions[i]; d.Verdict != trancheapi.VerdictPass && d.Message != "" {
			return line + " (last: " + d.Message + ")"
		}
	}
	return line
}
