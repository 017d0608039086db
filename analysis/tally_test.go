package analysis_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tranche-dev/tranche/analysis"
	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

func TestTallyCountsRunsAsTheControllerActsOnThem(t *testing.T) {
	pass := trancheapi.CheckResult{Metric: "rate", Value: "99.9", Verdict: trancheapi.VerdictPass}
	fail := trancheapi.CheckResult{Metric: "rate", Value: "70", Verdict: trancheapi.VerdictFail}
	none := trancheapi.CheckResult{Metric: "rate", Verdict: trancheapi.VerdictInconclusive}
	sure := trancheapi.CheckResult{Metric: "errors", Verdict: trancheapi.VerdictFail, Final: true, Message: "3× the primary's"}
	dry := trancheapi.CheckResult{Metric: "latency", Value: "900", Verdict: trancheapi.VerdictFail, DryRun: true}
	drySure := sure
	drySure.DryRun = true
	undecided := trancheapi.CheckResult{Metric: "errors", Verdict: trancheapi.VerdictUndecided}
	for _, tc := range []struct {
		name     string
		runs     [][]trancheapi.CheckResult
		failed   int32
		rollBack string // of the last run
	}{
		{"passing runs", [][]trancheapi.CheckResult{{pass}, {pass}, {pass}}, 0, ""},
		{"two failed runs reach the limit", [][]trancheapi.CheckResult{{fail}, {pass}, {fail}}, 2, "2 failed analysis runs"},
		{"a sure failure rolls back at once", [][]trancheapi.CheckResult{{pass, sure}}, 0, "the canary is worse than the primary: errors: 3× the primary's"},
		{"three runs without data count as one failed", [][]trancheapi.CheckResult{{none}, {none}, {none}}, 1, ""},
		{"a run with data starts the count of runs without data again", [][]trancheapi.CheckResult{{none}, {none}, {pass}, {none}}, 0, ""},
		{"dry-run failures are never counted", [][]trancheapi.CheckResult{{pass, dry}, {pass, dry}, {pass, drySure}}, 0, ""},
		{"an undecided test is no failure", [][]trancheapi.CheckResult{{pass, undecided}, {pass, undecided}}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tally := analysis.Tally{FailureLimit: 2, InconclusiveLimit: 3}
			var last analysis.Counted
			for _, run := range tc.runs {
				last = tally.Record(run)
			}
			assert.Equal(t, tc.failed, tally.Failed)
			assert.Equal(t, tc.rollBack, last.RollBack)
		})
	}
}
