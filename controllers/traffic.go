package controllers

import (
	"fmt"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/controllers/planner"
)

// trafficCheckName names the check of spec.analysis.verifyTraffic in status.lastChecks.
const trafficCheckName = trancheapi.TrafficCheckName

// leastShare is the share below which a canary a step gives traffic has received none, as
// far as the check is concerned, whatever the tolerance: a data plane that ignored the split
// altogether is always caught.
const leastShare = 0.01

// trafficCheck is the metric that holds the canary's measured share of requests to the
// weight of the step under way, for a Rollout whose analysis verifies traffic: within the
// tolerance either side, or, with session affinity, not below it (clients kept on the
// canary add to its share), and never none when the weight is not 0. Steps that split
// otherwise (A/B matches, mirroring) say no share, and have no such check.
func trafficCheck(ro *trancheapi.Rollout) (trancheapi.Metric, bool) {
	a := ro.Spec.Analysis
	if a == nil || a.VerifyTraffic == nil {
		return trancheapi.Metric{}, false
	}
	steps := ro.Spec.EffectiveSteps()
	routes := planner.RoutesFor(&ro.Spec, steps[min(int(ro.Status.CurrentStep), len(steps)-1)])
	if len(routes.Match) > 0 || routes.MirrorPercent > 0 {
		return trancheapi.Metric{}, false
	}
	weight, tolerance := float64(routes.CanaryWeight), float64(a.VerifyTraffic.EffectiveTolerance())
	low, high := max(0, weight-tolerance), min(100, weight+tolerance)
	if weight > 0 {
		low = max(low, leastShare)
	}
	m := trancheapi.Metric{Name: trafficCheckName, Builtin: trancheapi.BuiltinTrafficShare, Min: &low, Max: &high}
	// Kept clients add to a sticky canary's share; and no share is above 100%, while the
	// query's division can say 100.00000000000001 for all of it.
	if routes.Sticky != nil || high >= 100 {
		m.Max = nil
	}
	return m, true
}

// trafficMessage says why a share failed the check m.
func trafficMessage(m trancheapi.Metric, share string) string {
	if m.Max == nil {
		return fmt.Sprintf("the canary received %s%% of the requests, below the %g%% its weight and tolerance give it: the data plane does not split as it was told", share, *m.Min)
	}
	return fmt.Sprintf("the canary received %s%% of the requests, outside the %g%% to %g%% its weight and tolerance give it: the data plane does not split as it was told", share, *m.Min, *m.Max)
}
