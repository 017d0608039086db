package cli

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// A dashboard served to a team shows each person what their own Kubernetes rights allow.
// It holds no rights of its own to lend: with tokens, every request it makes for a person
// carries that person's token (who they are is asked with it too); behind an authenticating
// proxy, every request impersonates the user the proxy names. Each person's session has a
// dashboard of its own, following only the namespaces they may list Rollouts in.

// Auth is how a dashboard served to a team learns who is asking.
type Auth string

const (
	// AuthToken: each person signs in with a bearer token the API server accepts, and the
	// dashboard makes their requests with it.
	AuthToken Auth = "token"
	// AuthProxy: an authenticating proxy in front (in the same pod, so the dashboard listens
	// on the loopback interface only) names the user and their groups in request headers,
	// and the dashboard impersonates them with its own credentials.
	AuthProxy Auth = "proxy"
)

// DashboardUserAgent is the user agent of every request a dashboard served to a team makes,
// unless its TeamOptions.Config names another.
const DashboardUserAgent = "tranche-dashboard"

// TeamOptions say how a dashboard served to a team knows its users and what it shows them.
type TeamOptions struct {
	// Config is the API server's address and certificate authority, and with AuthProxy the
	// dashboard's own credentials, which may only impersonate. With AuthToken its
	// credentials are never used. Its UserAgent, if any, replaces DashboardUserAgent.
	Config *rest.Config
	Auth   Auth
	// UserHeader and GroupsHeader are the headers the proxy names the user and their groups
	// (comma-separated) in, with AuthProxy.
	UserHeader, GroupsHeader string
	// Namespaces are the namespaces the dashboard shows, of those each person may list
	// Rollouts in; none for every namespace.
	Namespaces []string
	// ReadOnly hides every action, whatever a person may do.
	ReadOnly bool
	// SessionTTL is how long a session lasts from its sign-in (AuthToken) or its first
	// request (AuthProxy); a session unused for SessionIdle ends sooner.
	SessionTTL, SessionIdle time.Duration
}

// Team serves the dashboard to a team.
type Team struct {
	opts   TeamOptions
	signIn *template.Template

	mu       sync.Mutex
	sessions map[string]*session // by cookie (AuthToken) or identity (AuthProxy)
}

// session is one person's dashboard.
type session struct {
	user      string
	dashboard *Dashboard
	handler   http.Handler
	cancel    context.CancelFunc
	expires   time.Time
	lastSeen  time.Time
}

// sessionCookie carries a session's key with AuthToken.
const sessionCookie = "tranche-session"

// NewTeam makes a dashboard to serve to a team.
func NewTeam(opts TeamOptions) (*Team, error) {
	switch opts.Auth {
	case AuthToken:
	case AuthProxy:
		if opts.UserHeader == "" {
			return nil, errors.New("with --auth=proxy, --user-header names the header the proxy gives the user in")
		}
	default:
		return nil, fmt.Errorf("unknown --auth %q: token (each person signs in with a bearer token) or proxy (an authenticating proxy in front names the user)", opts.Auth)
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 8 * time.Hour
	}
	if opts.SessionIdle <= 0 {
		opts.SessionIdle = time.Hour
	}
	page, err := template.ParseFS(webFiles, "web/signin.html")
	if err != nil {
		return nil, err
	}
	return &Team{opts: opts, signIn: page, sessions: map[string]*session{}}, nil
}

// Serve serves the dashboard on l until ctx ends, with TLS when config is not nil. With
// AuthProxy l must listen on the loopback interface: whoever reaches the dashboard can name
// any user in the header, so only the proxy beside it may.
func (t *Team) Serve(ctx context.Context, l net.Listener, config *tls.Config) error {
	if addr, ok := l.Addr().(*net.TCPAddr); t.opts.Auth == AuthProxy && (!ok || !addr.IP.IsLoopback()) {
		return fmt.Errorf("with --auth=proxy the dashboard believes the user the %s header names, so it listens on the loopback interface only, for the proxy beside it, not on %s", t.opts.UserHeader, l.Addr())
	}
	go t.expire(ctx)
	return serveHTTP(ctx, l, t.Handler(ctx), config)
}

// Handler is the dashboard's HTTP handler; the sessions it opens end with ctx.
func (t *Team) Handler(ctx context.Context) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /assets/", assets())
	if t.opts.Auth == AuthToken {
		mux.HandleFunc("GET /signin", func(w http.ResponseWriter, _ *http.Request) { t.serveSignIn(w, "", http.StatusOK) })
		mux.HandleFunc("POST /signin", func(w http.ResponseWriter, r *http.Request) { t.signInWithToken(ctx, w, r) })
		mux.HandleFunc("POST /signout", t.signOut)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s, err := t.session(ctx, r)
		switch {
		case errors.Is(err, errSignIn) && r.Method == http.MethodGet && r.URL.Path == "/":
			http.Redirect(w, r, "/signin", http.StatusSeeOther)
		case errors.Is(err, errSignIn):
			http.Error(w, "sign in first: your session ended or never began", http.StatusUnauthorized)
		case err != nil:
			http.Error(w, err.Error(), http.StatusForbidden)
		default:
			s.handler.ServeHTTP(w, r)
		}
	})
	return ownSite(mux)
}

// errSignIn is the answer to a request without a session, with AuthToken.
var errSignIn = errors.New("no session")

// session is the session of the person asking, opened for them with AuthProxy.
func (t *Team) session(ctx context.Context, r *http.Request) (*session, error) {
	now := time.Now()
	if t.opts.Auth == AuthToken {
		cookie, err := r.Cookie(sessionCookie)
		if err != nil {
			return nil, errSignIn
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		s := t.sessions[cookie.Value]
		if s == nil || now.After(s.expires) {
			return nil, errSignIn
		}
		s.lastSeen = now
		return s, nil
	}
	user := r.Header.Get(t.opts.UserHeader)
	if user == "" {
		return nil, fmt.Errorf("the request names no user in %s: the dashboard is reached through the authenticating proxy, which sets it", t.opts.UserHeader)
	}
	var groups []string
	if t.opts.GroupsHeader != "" {
		for _, g := range strings.Split(r.Header.Get(t.opts.GroupsHeader), ",") {
			if g = strings.TrimSpace(g); g != "" {
				groups = append(groups, g)
			}
		}
	}
	key := user + "\x00" + strings.Join(groups, "\x00")
	t.mu.Lock()
	s := t.sessions[key]
	if s != nil && now.Before(s.expires) {
		s.lastSeen = now
		t.mu.Unlock()
		return s, nil
	}
	t.mu.Unlock()
	cfg := rest.CopyConfig(t.opts.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: groups}
	s, err := t.open(ctx, cfg, user, false)
	if err != nil {
		return nil, err
	}
	t.keep(key, s)
	return s, nil
}

// signInWithToken opens a session with the token the person pasted, once the API server
// says whom it belongs to.
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
		t.serveSignIn(w, err.Error(), http.StatusInternalServerError)
		return
	}
	user := whoAmI(r.Context(), c)
	if user == "" {
		t.serveSignIn(w, "The API server does not accept this token (or does not say whom it belongs to).", http.StatusUnauthorized)
		return
	}
	s, err := t.open(ctx, cfg, user, true)
	if err != nil {
		t.serveSignIn(w, err.Error(), http.StatusForbidden)
		return
	}
	key := randomHex(32)
	t.keep(key, s)
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: key, Path: "/", Expires: s.expires,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https",
	})
	http.Redirect(w, r, "/", http.StatusSeeOther)
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
	delete(t.sessions, cookie.Value)
	t.mu.Unlock()
	s.cancel()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

// open starts a dashboard that acts as the user cfg authenticates as, over the namespaces
// the user may list Rollouts in.
func (t *Team) open(ctx context.Context, cfg *rest.Config, user string, signOut bool) (*session, error) {
	cfg.UserAgent = cmp.Or(t.opts.Config.UserAgent, DashboardUserAgent)
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: Scheme()})
	if err != nil {
		return nil, err
	}
	namespaces, err := readableNamespaces(ctx, c, user, t.opts.Namespaces)
	if err != nil {
		return nil, err
	}
	d, err := NewDashboard(c, DashboardOptions{Namespaces: namespaces, ReadOnly: t.opts.ReadOnly, User: user, SignOut: signOut})
	if err != nil {
		return nil, err
	}
	sessionCtx, cancel := context.WithCancel(ctx)
	d.start(sessionCtx)
	now := time.Now()
	return &session{user: user, dashboard: d, handler: d.routes(), cancel: cancel, expires: now.Add(t.opts.SessionTTL), lastSeen: now}, nil
}

// keep records a session under key, ending one it replaces.
func (t *Team) keep(key string, s *session) {
	t.mu.Lock()
	old := t.sessions[key]
	t.sessions[key] = s
	t.mu.Unlock()
	if old != nil {
		old.cancel()
	}
}

// expire ends the sessions past their time or unused for SessionIdle, every minute, and all
// of them when ctx ends.
func (t *Team) expire(ctx context.Context) {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			t.mu.Lock()
			for key, s := range t.sessions {
				if now.After(s.expires) || now.Sub(s.lastSeen) > t.opts.SessionIdle {
					delete(t.sessions, key)
					s.cancel()
				}
			}
			t.mu.Unlock()
		}
	}
}

func (t *Team) serveSignIn(w http.ResponseWriter, problem string, code int) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = t.signIn.Execute(w, struct{ Error string }{problem})
}

// ownSite refuses requests a browser marks as coming from another site. The session cookie
// is SameSite=Strict, and an action must carry the page's token too.
func ownSite(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The sign-in is a form. Not no-referrer: under it a browser sends "Origin: null"
		// with a form's POST, and fromElsewhere could not tell it from a foreign page's.
		setPageHeaders(w.Header(), "'self'", "same-origin")
		if why := fromElsewhere(r, func(origin string) bool { return sameHost(origin, r.Host) }); why != "" {
			http.Error(w, why, http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sameHost reports whether an Origin header names a page of host.
func sameHost(origin, host string) bool {
	u, err := url.Parse(origin)
	return err == nil && slices.Contains([]string{"http", "https"}, u.Scheme) && u.Path == "" && u.Host == host
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
