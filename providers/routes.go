package providers

import (
	"errors"
	"fmt"
	"net/http"
	"time"

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

// Equal reports whether two Routes send the same requests the same way. Header names are
// compared without regard to case, as HTTP compares them: some data planes keep them only in
// lower case (Istio's VirtualService), so what reads back is x-tester for X-Tester.
func (r Routes) Equal(o Routes) bool {
	return r.CanaryWeight == o.CanaryWeight && r.MirrorPercent == o.MirrorPercent &&
		equalMatches(r.Match, o.Match) &&
		(r.Sticky == nil) == (o.Sticky == nil) && (r.Sticky == nil || *r.Sticky == *o.Sticky)
}

func equalMatches(a, b []trancheapi.HTTPMatch) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !equalStringMatches(a[i].Headers, b[i].Headers, http.CanonicalHeaderKey) ||
			!equalStringMatches(a[i].QueryParams, b[i].QueryParams, nil) ||
			!equalStringMatches(a[i].Cookies, b[i].Cookies, nil) {
			return false
		}
	}
	return true
}

// equalStringMatches compares two lists of conditions, the names through canonical when it
// is set. A type left out is Exact.
func equalStringMatches(a, b []trancheapi.StringMatch, canonical func(string) string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if canonical != nil {
			x.Name, y.Name = canonical(x.Name), canonical(y.Name)
		}
		if x.Name != y.Name || x.Value != y.Value || matchType(x) != matchType(y) {
			return false
		}
	}
	return true
}

func matchType(m trancheapi.StringMatch) trancheapi.MatchType {
	if m.Type == "" {
		return trancheapi.MatchExact
	}
	return m.Type
}

// Validate reports a Routes whose percents are outside 0 to 100. Every Router calls it first,
// so that a bad value from the controller is an error rather than a strange route.
func (r Routes) Validate() error {
	if r.CanaryWeight < 0 || r.CanaryWeight > 100 {
		return fmt.Errorf("canary weight %d is not a percent between 0 and 100", r.CanaryWeight)
	}
	if r.MirrorPercent < 0 || r.MirrorPercent > 100 {
		return fmt.Errorf("mirror percent %d is not between 0 and 100", r.MirrorPercent)
	}
	if s := r.Sticky; s != nil {
		if s.Cookie == "" || s.MaxAge < time.Second {
			return fmt.Errorf("session affinity needs a cookie name and a max age of at least 1s, not %q and %s", s.Cookie, s.MaxAge)
		}
		if r.CanaryWeight == 0 || len(r.Match) > 0 {
			return errors.New("session affinity keeps clients on a canary that has a weight: it goes with a canary weight above 0 and no match")
		}
	}
	return nil
}

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

// SetCookie is the Set-Cookie header value with which the canary marks its clients.
func (s Sticky) SetCookie(value string) string {
	return fmt.Sprintf("%s=%s; Max-Age=%d; Path=/; HttpOnly", s.Cookie, value, int64(s.MaxAge/time.Second))
}

// ParseSetCookie reads back a Set-Cookie header value written by SetCookie: the affinity and
// the cookie's value. ok is false for any other header.
func ParseSetCookie(header string) (s Sticky, value string, ok bool) {
	cookie, err := http.ParseSetCookie(header)
	if err != nil || cookie.MaxAge <= 0 || cookie.Path != "/" {
		return Sticky{}, "", false
	}
	return Sticky{Cookie: cookie.Name, MaxAge: time.Duration(cookie.MaxAge) * time.Second}, cookie.Value, true
}

// StickyMatch is the request match of a client carrying the affinity cookie with value.
func (s Sticky) StickyMatch(value string) trancheapi.HTTPMatch {
	return trancheapi.HTTPMatch{Cookies: []trancheapi.StringMatch{{Name: s.Cookie, Value: value, Type: trancheapi.MatchExact}}}
}
