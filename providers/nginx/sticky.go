package nginx

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tranche-dev/tranche/providers/traffic"
)

// Session affinity is ingress-nginx's own: cookie affinity on the canary Ingress, with the
// canary behaviour "sticky", makes ingress-nginx keep a client it once sent to the canary
// there. ingress-nginx marks the client with the cookie and chooses its value.
const (
	affinity               = annotationPrefix + "affinity"
	affinityCanaryBehavior = annotationPrefix + "affinity-canary-behavior"
	sessionCookieName      = annotationPrefix + "session-cookie-name"
	sessionCookieMaxAge    = annotationPrefix + "session-cookie-max-age"

	// affinityOwned marks the affinity annotations of the canary Ingress as Tranche's. While
	// it is there, the affinity annotations of the user's Ingress are not copied over them;
	// once Tranche removes its own, the user's come back with the next Reconcile.
	affinityOwned = "tranche.dev/nginx-affinity"
)

var affinityAnnotations = []string{affinity, affinityCanaryBehavior, sessionCookieName, sessionCookieMaxAge, affinityOwned}

// setAffinity writes Tranche's affinity annotations, or removes them for nil.
func setAffinity(annotations map[string]string, s *traffic.Sticky) {
	if s == nil {
		if annotations[affinityOwned] != "" {
			for _, a := range affinityAnnotations {
				delete(annotations, a)
			}
		}
		return
	}
	annotations[affinity] = "cookie"
	annotations[affinityCanaryBehavior] = "sticky"
	annotations[sessionCookieName] = s.Cookie
	annotations[sessionCookieMaxAge] = strconv.FormatInt(int64(s.MaxAge/time.Second), 10)
	annotations[affinityOwned] = "true"
}

// affinityOf reads Tranche's affinity annotations back; nil when they are not Tranche's.
func affinityOf(annotations map[string]string) *traffic.Sticky {
	if annotations[affinityOwned] == "" || annotations[affinity] != "cookie" || annotations[affinityCanaryBehavior] != "sticky" {
		return nil
	}
	seconds, err := strconv.ParseInt(annotations[sessionCookieMaxAge], 10, 64)
	if err != nil || seconds <= 0 || annotations[sessionCookieName] == "" {
		return nil
	}
	return &traffic.Sticky{Cookie: annotations[sessionCookieName], MaxAge: time.Duration(seconds) * time.Second}
}

// copiedFromUser says whether the user's annotation a goes onto the canary Ingress: not the
// canary annotations, and not the affinity annotations while Tranche's are there.
func copiedFromUser(a string, canaryAnnotations map[string]string) bool {
	if strings.HasPrefix(a, canary) {
		return false
	}
	return canaryAnnotations[affinityOwned] == "" || !slices.Contains(affinityAnnotations, a)
}
