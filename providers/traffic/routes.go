package traffic

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// Routes is what the data plane is told: how requests are split between the primary and the
// canary. The zero value sends everything to the primary.
type Routes struct {
	// CanaryWeight is the percent of requests sent to the canary, 0 to 100.
	CanaryWeight int32
	// Match, when set, sends the requests that match any of these to the canary and every
	// other request to the primary (A/B testing); CanaryWeight is then 0.
	Match []trancheapi.HTTPMatch
	// MirrorPercent is the percent of the primary's requests copied to the canary, 0 to 100.
	MirrorPercent int32
	// Sticky, when set with a CanaryWeight, keeps a client that reached the canary on it.
	Sticky *Sticky
}

// Sticky is session affinity by cookie: the canary's responses set the cookie, and requests
// that carry it go to the canary. Where the Router writes the cookie's value itself, the value
// names the canary revision under test (see providers.StickyValue), so that a cookie from an earlier
// rollout does not pin its client to a later canary; Routes reads the affinity back only
// when the value is this rollout's.
type Sticky struct {
	// Cookie is the cookie's name.
	Cookie string
	// MaxAge is how long a client keeps the cookie, in whole seconds.
	MaxAge time.Duration
}

// Equal reports whether two Routes send the same requests the same way. Header names are
// compared without regard to case, as HTTP compares them: some data planes keep them only in
// lower case (Istio's VirtualService), so what reads back is x-tester for X-Tester.
func (r Routes) Equal(o Routes) bool {
	return r.CanaryWeight == o.CanaryWeight && r.MirrorPercent == o.MirrorPercent &&
		equalMatches(r.Match, o.Match) &&
		(r.Sticky == nil) == (o.Sticky == nil) && (r.Sticky == nil || *r.Sticky == *o.Sticky)
}

func equalMethods(a, b *trancheapi.GRPCMethodMatch) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

func equalMatches(a, b []trancheapi.HTTPMatch) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !equalStringMatches(a[i].Headers, b[i].Headers, http.CanonicalHeaderKey) ||
			!equalStringMatches(a[i].QueryParams, b[i].QueryParams, nil) ||
			!equalStringMatches(a[i].Cookies, b[i].Cookies, nil) ||
			!equalMethods(a[i].GRPCMethod, b[i].GRPCMethod) {
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
