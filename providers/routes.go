package providers

import (
	"errors"
	"fmt"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// ErrUnsupported is wrapped by the errors of a Router asked for something its data plane
// cannot do, such as a 5% split with plain Services. The API rejects most such Rollouts
// already; this error is for what slips through (and says what the provider cannot do).
var ErrUnsupported = errors.New("not supported by this provider")

// ErrUnreadable is wrapped by Routes when the routing objects exist but do not describe a
// split it can read (a person edited them by hand, Tranche's rule was deleted). SetRoutes
// repairs them, so a caller sets the split it wants rather than giving up.
var ErrUnreadable = errors.New("routes cannot be read as a split")

// Split returns the weights to give the primary and the canary backends for a canary weight
// in percent. Writing weights that add up to 100 keeps a route readable by a person: the
// canary's weight is its percent.
func Split(canaryWeight int32) (primary, canary int32) {
	return 100 - canaryWeight, canaryWeight
}

// CanaryPercent is the canary's share of the two weights, in percent rounded to the nearest
// integer. Data planes accept any weights (a person may write 3 and 1), so the percent is
// computed rather than read. Two zero weights send requests nowhere, which no Routes can
// express: that is an error.
func CanaryPercent(primaryWeight, canaryWeight int32) (int32, error) {
	if primaryWeight < 0 || canaryWeight < 0 {
		return 0, fmt.Errorf("negative weight (primary %d, canary %d)", primaryWeight, canaryWeight)
	}
	sum := int64(primaryWeight) + int64(canaryWeight)
	if sum == 0 {
		return 0, errors.New("the primary and the canary both have weight 0: no request reaches either")
	}
	return int32((int64(canaryWeight)*100 + sum/2) / sum), nil
}

// StickyValue is the value of the affinity cookie a Router writes for the Rollout: the canary
// revision under test, so that each rollout marks its own clients.
func StickyValue(ro *trancheapi.Rollout) string {
	if rev := ro.Status.CanaryRevision; rev != "" {
		return rev
	}
	return "canary"
}
