package cli

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// With AuthToken a person signs in by pasting a token. The dashboard keeps it in memory for
// the session and gives the browser a random key for the session in a cookie.

// signInWithToken opens a session with the token the person pasted, once the API server
// says whom it belongs to. Signing in again from the same browser ends the session before.
func (t *Team) signInWithToken(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	token := strings.TrimSpace(r.PostFormValue("token"))
	if token == "" {
		t.serveSignIn(w, "Paste a token.", http.StatusBadRequest)
		return
	}
	cfg := rest.AnonymousClientConfig(t.opts.Config) // the address and CA; none of the dashboard's credentials
	cfg.BearerToken = token
	c, err := client.New(cfg, client.Options{Scheme: Scheme()})
	if err != nil {
		t.signInFailed(w, err, http.StatusUnauthorized)
		return
	}
	user, err := whoIs(r.Context(), c)
	if err != nil {
		t.signInFailed(w, err, http.StatusUnauthorized)
		return
	}
	s, err := t.open(ctx, r.Context(), cfg, DashboardOptions{User: user, SignOut: true})
	if err != nil {
		t.signInFailed(w, err, http.StatusForbidden)
		return
	}
	key := randomHex(32)
	t.mu.Lock()
	if before, err := r.Cookie(sessionCookie); err == nil {
		t.end(before.Value)
	}
	t.endOldestOf(user)
	t.sessions[key] = s
	t.mu.Unlock()
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: key, Path: "/", Expires: s.expires,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https",
	})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// signInFailed answers a sign-in with why it failed: with refusedCode when the API server
// refused the person, with 502 when it could not be asked.
func (t *Team) signInFailed(w http.ResponseWriter, err error, refusedCode int) {
	var refused refusal
	if errors.As(err, &refused) {
		t.serveSignIn(w, err.Error(), refusedCode)
		return
	}
	t.serveSignIn(w, err.Error(), http.StatusBadGateway)
}

// endOldestOf ends the user's oldest session when they have maxSessionsPerUser already; the
// caller holds t.mu.
func (t *Team) endOldestOf(user string) {
	var keys []string
	for key, s := range t.sessions {
		if s.user == user {
			keys = append(keys, key)
		}
	}
	if len(keys) < maxSessionsPerUser {
		return
	}
	oldest := keys[0]
	for _, key := range keys[1:] {
		if t.sessions[key].expires.Before(t.sessions[oldest].expires) {
			oldest = key
		}
	}
	t.end(oldest)
}

// signOut ends the session of the page that asks (it carries the page's token).
func (t *Team) signOut(w http.ResponseWriter, r *http.Request) {
	cookie, err := r.Cookie(sessionCookie)
	if err != nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	t.mu.Lock()
	s := t.sessions[cookie.Value]
	if s == nil || subtle.ConstantTimeCompare([]byte(r.Header.Get(tokenHeader)), []byte(s.dashboard.token)) != 1 {
		t.mu.Unlock()
		http.Error(w, "the request does not carry the dashboard page's token", http.StatusForbidden)
		return
	}
	t.end(cookie.Value)
	t.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

func (t *Team) serveSignIn(w http.ResponseWriter, problem string, code int) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = t.signIn.Execute(w, struct{ Error string }{problem})
}
