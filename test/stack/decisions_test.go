package stack

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// The report's decisions are each check once, in time, by metric, from the release on.
func TestDecisionsAreEachCheckOnceByMetric(t *testing.T) {
	start := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	check := func(metric string, after time.Duration, verdict trancheapi.Verdict, message string) trancheapi.CheckResult {
		return trancheapi.CheckResult{Metric: metric, At: metav1.NewMicroTime(start.Add(after)), Verdict: verdict, Value: "1", Message: message}
	}
	before := check("success-rate", -time.Second, trancheapi.VerdictFail, "of the release before")
	pass5 := check("success-rate", 5*time.Second, trancheapi.VerdictPass, "")
	undecided5 := check("errors", 5*time.Second, trancheapi.VerdictUndecided, "no verdict yet")
	pass10 := check("success-rate", 10*time.Second, trancheapi.VerdictPass, "")
	fail10 := check("errors", 10*time.Second, trancheapi.VerdictFail, "the canary is worse than the primary")
	fail15 := check("success-rate", 15*time.Second, trancheapi.VerdictFail, "97.5 < 99")
	samples := []Sample{
		{At: start, Checks: []trancheapi.CheckResult{before}},
		{At: start.Add(6 * time.Second), Checks: []trancheapi.CheckResult{undecided5, pass5, before}}, // newest first, as the status lists them
		{At: start.Add(11 * time.Second), Checks: []trancheapi.CheckResult{fail10, pass10, undecided5, pass5}},
		{At: start.Add(16 * time.Second), Checks: []trancheapi.CheckResult{fail15, fail10, pass10}},
	}
	got := DecisionsOf(samples)
	assert.Equal(t, []MetricDecisions{
		{Metric: "errors", Decisions: []Decision{
			{Seconds: 5, Verdict: trancheapi.VerdictUndecided, Value: "1", Message: "no verdict yet"},
			{Seconds: 10, Verdict: trancheapi.VerdictFail, Value: "1", Message: "the canary is worse than the primary"},
		}},
		{Metric: "success-rate", Decisions: []Decision{
			{Seconds: 5, Verdict: trancheapi.VerdictPass, Value: "1"}, {Seconds: 10, Verdict: trancheapi.VerdictPass, Value: "1"},
			{Seconds: 15, Verdict: trancheapi.VerdictFail, Value: "1", Message: "97.5 < 99"},
		}},
	}, got)
	assert.Equal(t, "errors: Undecided at 5.0 s, then Fail at 10.0 s (last: the canary is worse than the primary)", got[0].Summary())
	assert.Equal(t, "success-rate: Pass ×2 (5.0-10.0 s), then Fail at 15.0 s (last: 97.5 < 99)", got[1].Summary())
	assert.Empty(t, DecisionsOf(nil))
}
