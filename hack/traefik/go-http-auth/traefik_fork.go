package auth

// Traefik v3 builds against a fork of this package (github.com/containous/go-http-auth) whose
// zip the Go module proxy refuses. hack/build-traefik.sh adds this file to a copy of upstream
// v0.4.0: it holds the two functions Traefik calls that v0.4.0 lacks. Only Traefik's basicAuth
// and digestAuth middlewares use them; Tranche's tests use neither.

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// CheckSecret reports whether password matches secret, a hash in one of the htpasswd formats
// that BasicAuth.CheckAuth accepts. Traefik looks users up itself and only needs the check.
func CheckSecret(password, secret string) bool {
	compare := compareFuncs[0].compare
	for _, cmp := range compareFuncs[1:] {
		if strings.HasPrefix(secret, cmp.prefix) {
			compare = cmp.compare
			break
		}
	}
	return compare([]byte(secret), []byte(password)) == nil
}

// RequireAuthStale is RequireAuth with stale=true in the challenge (RFC 7616, section 3.3):
// the credentials were right but the nonce was not, so a client may retry without asking its
// user again. Upstream's CheckAuth never reports a stale nonce, so Traefik never calls this
// with v0.4.0; it must exist to compile. It holds the mutex that guards the nonce cache.
func (a *DigestAuth) RequireAuthStale(w http.ResponseWriter, r *http.Request) {
	a.mutex.Lock()
	if len(a.clients) > a.ClientCacheSize+a.ClientCacheTolerance {
		a.Purge(a.ClientCacheTolerance * 2)
	}
	nonce := RandomKey()
	a.clients[nonce] = &digest_client{nc: 0, last_seen: time.Now().UnixNano()}
	a.mutex.Unlock()
	w.Header().Set(contentType, a.Headers.V().UnauthContentType)
	w.Header().Set(a.Headers.V().Authenticate,
		fmt.Sprintf(`Digest realm="%s", nonce="%s", opaque="%s", algorithm="MD5", qop="auth", stale=true`,
			a.Realm, nonce, a.Opaque))
	w.WriteHeader(a.Headers.V().UnauthCode)
	_, _ = w.Write([]byte(a.Headers.V().UnauthResponse))
}
