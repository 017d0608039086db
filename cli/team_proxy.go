package cli

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/rest"
)

// With AuthProxy the proxy beside the dashboard names the person, and the dashboard
// impersonates them. Its right to impersonate is as strong as the strongest user's, so it
// refuses to act as Kubernetes' own users and groups (system:...), but for ServiceAccounts
// and the groups the API server gives every user or ServiceAccount.

// proxySession is the session of the person the proxy names, opened for them at their first
// request, marked in use.
func (t *Team) proxySession(ctx context.Context, r *http.Request) (*session, error) {
	user, groups, err := t.identity(r)
	if err != nil {
		return nil, err
	}
	key := user + "\x00" + strings.Join(groups, "\x00")
	if s := t.inUse(key); s != nil {
		return s, nil
	}
	cfg := rest.CopyConfig(t.opts.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: groups}
	s, err := t.open(ctx, r.Context(), cfg, DashboardOptions{User: user})
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if other := t.sessions[key]; other != nil && time.Now().Before(other.expires) {
		s.cancel() // another request opened one meanwhile: one session a person
		s = other
	} else {
		t.end(key)
		t.sessions[key] = s
	}
	s.inUse++
	return s, nil
}

// inUse is the live session under key, marked in use, or nil.
func (t *Team) inUse(key string) *session {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sessions[key]
	if s == nil || time.Now().After(s.expires) {
		return nil
	}
	s.inUse++
	return s
}

// identity is the user and groups the proxy names; a refusal when it names none, or one of
// Kubernetes' own. Without GroupsHeader, or with it empty, the user is impersonated with no
// group: rights granted to their groups do not apply.
func (t *Team) identity(r *http.Request) (string, []string, error) {
	user := r.Header.Get(t.opts.UserHeader)
	if user == "" {
		return "", nil, refusal{"the request names no user in " + t.opts.UserHeader + ": the dashboard is reached through the authenticating proxy, which sets it"}
	}
	if strings.HasPrefix(user, "system:") && !strings.HasPrefix(user, "system:serviceaccount:") {
		return "", nil, refusal{"the dashboard does not act as Kubernetes' own user " + user}
	}
	var groups []string
	if t.opts.GroupsHeader != "" {
		for _, g := range strings.Split(r.Header.Get(t.opts.GroupsHeader), ",") {
			if g = strings.TrimSpace(g); g == "" {
				continue
			}
			if strings.HasPrefix(g, "system:") && !everyonesGroup(g) {
				return "", nil, refusal{"the dashboard does not act as a member of Kubernetes' own group " + g}
			}
			groups = append(groups, g)
		}
	}
	return user, groups, nil
}

// everyonesGroup reports whether a group of the system: prefix is one the API server gives
// every signed-in user or ServiceAccount, which grants nothing a person lacks.
func everyonesGroup(g string) bool {
	return slices.Contains([]string{"system:authenticated", "system:serviceaccounts"}, g) || strings.HasPrefix(g, "system:serviceaccounts:")
}
