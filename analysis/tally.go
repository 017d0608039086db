package analysis

import (
	"fmt"
	"strings"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// Tally counts the runs of a rollout's analysis the way the controller acts on them: a check
// whose judge failed the canary for good rolls back at once; a run with a failed check, or
// the last of InconclusiveLimit runs in a row without data, counts towards FailureLimit.
// Dry-run checks are never counted. The controller keeps Failed and Inconclusive in status;
// replay keeps them here.
type Tally struct {
	FailureLimit, InconclusiveLimit int32
	Failed, Inconclusive            int32
}

// TallyFor starts the tally of an analysis with its limits.
func TallyFor(spec *trancheapi.RolloutSpec) Tally {
	return Tally{FailureLimit: spec.EffectiveFailureLimit(), InconclusiveLimit: spec.EffectiveInconclusiveLimit()}
}

// Counted is what one run did to the tally.
type Counted struct {
	// Final describes the checks whose judge failed the canary for good.
	Final []string
	// Failed names the failed checks ("metric = value") of a run that counted as failed.
	Failed []string
	// NoData names the checks without data that made the run count as failed.
	NoData []string
	// RollBack says why the canary is rolled back; "" while it is not.
	RollBack string
}

// Record counts one run's checks.
func (t *Tally) Record(checks []trancheapi.CheckResult) Counted {
	var c Counted
	var inconclusive []string
	for _, check := range checks {
		switch {
		case check.DryRun:
		case check.Verdict == trancheapi.VerdictFail && check.Final:
			c.Final = append(c.Final, fmt.Sprintf("%s: %s", check.Metric, check.Message))
		case check.Verdict == trancheapi.VerdictFail:
			c.Failed = append(c.Failed, fmt.Sprintf("%s = %s", check.Metric, check.Value))
		case check.Verdict == trancheapi.VerdictInconclusive:
			inconclusive = append(inconclusive, check.Metric)
		}
	}
	switch {
	case len(c.Final) > 0:
		// A sequential test that is sure needs no second run.
		c.RollBack = "the canary is worse than the primary: " + strings.Join(c.Final, "; ")
		return c
	case len(c.Failed) > 0:
		t.Failed++
		t.Inconclusive = 0
	case len(inconclusive) > 0:
		t.Inconclusive++
		if t.Inconclusive >= t.InconclusiveLimit {
			t.Failed++
			t.Inconclusive = 0
			c.NoData = inconclusive
		}
	default:
		t.Inconclusive = 0
	}
	if t.Failed >= t.FailureLimit {
		c.RollBack = fmt.Sprintf("%d failed analysis runs", t.Failed)
	}
	return c
}
