package cli

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
	user, err := whoIs(r.Context(), cfg)
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

// whoIs asks the API server whom the credentials of cfg belong to: a refusal when it does not
// accept them, another error when it could not be asked.
func whoIs(ctx context.Context, cfg *rest.Config) (string, error) {
	c, err := client.New(cfg, client.Options{Scheme: Scheme()})
	if apierrors.IsUnauthorized(err) {
		return "", refusal{"The API server does not accept this token."}
	}
	if err != nil {
		return "", fmt.Errorf("could not ask the API server whom the token belongs to: %w", err)
	}
	review := &authenticationv1.SelfSubjectReview{}
	switch err := c.Create(ctx, review); {
	case apierrors.IsUnauthorized(err):
		return "", refusal{"The API server does not accept this token."}
	case err != nil:
		return "", fmt.Errorf("could not ask the API server whom the token belongs to: %w", err)
	case review.Status.UserInfo.Username == "":
		return "", refusal{"The API server does not say whom this token belongs to."}
	}
	return review.Status.UserInfo.Username, nil
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
