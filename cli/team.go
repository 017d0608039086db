package cli

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// A dashboard served to a team shows each person what their own Kubernetes rights allow.
// With tokens it holds no rights of its own to lend: every request it makes for a person
// carries that person's token (who they are is asked with it too). Behind an authenticating
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
	// Auth is how people are known: AuthToken or AuthProxy.
	Auth Auth
	// UserHeader and GroupsHeader are the headers the proxy names the user and their groups
	// (comma-separated) in, with AuthProxy.
	UserHeader, GroupsHeader string
	// Namespaces are the namespaces the dashboard shows, of those each person may list
	// Rollouts in; none for every namespace. Which of them a person may read is asked when
	// their session opens.
	Namespaces []string
	// ReadOnly hides every action, whatever a person may do.
	ReadOnly bool
	// SessionTTL is how long a session lasts from its sign-in (AuthToken) or its first
	// request (AuthProxy); a session with no request for SessionIdle ends sooner (an open
	// page's event stream is a request as long as it is open).
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
	cancel    context.CancelFunc // ends the dashboard's watches and its open event streams
	expires   time.Time
	lastSeen  time.Time
	inUse     int // requests being served, open event streams included
}

// sessionCookie carries a session's key with AuthToken.
const sessionCookie = "tranche-session"

// maxSessionsPerUser is how many sessions one person may have at once: a sign-in past it
// ends their oldest.
const maxSessionsPerUser = 8

// askTimeout bounds what opening a session asks of the API server as the person.
const askTimeout = 30 * time.Second

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
	opts.SessionTTL = cmp.Or(opts.SessionTTL, 8*time.Hour)
	opts.SessionIdle = cmp.Or(opts.SessionIdle, time.Hour)
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
		var s *session
		var err error
		if t.opts.Auth == AuthToken {
			s, err = t.cookieSession(r)
		} else {
			s, err = t.proxySession(ctx, r)
		}
		var refused refusal
		switch {
		case errors.Is(err, errSignIn) && r.Method == http.MethodGet && r.URL.Path == "/":
			http.Redirect(w, r, "/signin", http.StatusSeeOther)
		case errors.Is(err, errSignIn):
			http.Error(w, "sign in first: your session ended or never began", http.StatusUnauthorized)
		case errors.As(err, &refused):
			http.Error(w, err.Error(), http.StatusForbidden)
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadGateway)
		default:
			defer t.release(s)
			s.handler.ServeHTTP(w, r)
		}
	})
	return ownSite(mux)
}

// errSignIn is the answer to a request without a session, with AuthToken.
var errSignIn = errors.New("no session")

// refusal is an error that says what a person may not do, rather than what went wrong.
type refusal struct{ why string }

func (r refusal) Error() string { return r.why }

// cookieSession is the session the request's cookie names, marked in use.
func (t *Team) cookieSession(r *http.Request) (*session, error) {
	cookie, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, errSignIn
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sessions[cookie.Value]
	if s == nil || time.Now().After(s.expires) {
		return nil, errSignIn
	}
	s.inUse++
	return s, nil
}

// release marks a request of s served.
func (t *Team) release(s *session) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s.inUse--
	s.lastSeen = time.Now()
}

// open starts a dashboard that acts as the user cfg authenticates as (opts.User), over the
// namespaces the user may list Rollouts in, asked of the API server within ask; the
// dashboard lasts as long as ctx, or its session.
func (t *Team) open(ctx, ask context.Context, cfg *rest.Config, opts DashboardOptions) (*session, error) {
	cfg.UserAgent = cmp.Or(t.opts.Config.UserAgent, DashboardUserAgent)
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: Scheme()})
	if err != nil {
		return nil, err
	}
	ask, cancelAsk := context.WithTimeout(ask, askTimeout)
	defer cancelAsk()
	if opts.Namespaces, err = readableNamespaces(ask, c, opts.User, t.opts.Namespaces); err != nil {
		return nil, err
	}
	opts.ReadOnly = t.opts.ReadOnly
	d, err := NewDashboard(c, opts)
	if err != nil {
		return nil, err
	}
	sessionCtx, cancel := context.WithCancel(ctx)
	d.start(sessionCtx)
	now := time.Now()
	return &session{user: opts.User, dashboard: d, handler: d.routes(), cancel: cancel, expires: now.Add(t.opts.SessionTTL), lastSeen: now}, nil
}

// end ends a session; the caller holds t.mu.
func (t *Team) end(key string) {
	if s := t.sessions[key]; s != nil {
		delete(t.sessions, key)
		s.cancel()
	}
}

// expire ends the sessions past their time, and those unused for SessionIdle, until ctx
// ends.
func (t *Team) expire(ctx context.Context) {
	tick := time.NewTicker(min(time.Minute, t.opts.SessionIdle/2))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			t.mu.Lock()
			for key, s := range t.sessions {
				if now.After(s.expires) || s.inUse == 0 && now.Sub(s.lastSeen) > t.opts.SessionIdle {
					t.end(key)
				}
			}
			t.mu.Unlock()
		}
	}
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
