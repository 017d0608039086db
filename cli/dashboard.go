package cli

import (
	"bytes"
	"context"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// The dashboard is a web page served on the loopback interface with the user's kubeconfig.
// It shows what list and get show, computed by the same functions (dashboard_model.go), from
// the same watches, and sends the same requests as the commands. It is pushed every change
// as server-sent events.
//
// Only the dashboard's own page can act through it: every request must name the server's
// own address as its Host (a page of another site whose name resolves to 127.0.0.1 names its
// own), no request may come from another origin, and an action must carry the token that is
// written into the page, which no other page can read (browsers keep other origins from
// reading our responses, and we allow none).

//go:embed web
var webFiles embed.FS

// DashboardOptions say what a dashboard shows and allows.
type DashboardOptions struct {
	// Namespaces are the namespaces whose Rollouts it shows; none (or "") for all. Served to a
	// team, those the person may read.
	Namespaces []string
	// ReadOnly hides every action, and refuses it if sent anyway.
	ReadOnly bool
	// User is whom the dashboard acts as, for the page to say; "" for the kubeconfig's user.
	User string
	// SignOut offers a button that ends the user's session (a dashboard served to a team
	// whose users sign in with a token).
	SignOut bool
}

// shown is the namespaces the dashboard shows, [""] for all.
func (o DashboardOptions) shown() []string {
	if len(o.Namespaces) == 0 {
		return []string{""}
	}
	return o.Namespaces
}

// Dashboard serves the web page.
type Dashboard struct {
	client   client.WithWatch
	opts     DashboardOptions
	token    string
	rollouts *RolloutWatch
	page     *template.Template
	// ctx ends the dashboard: its watches, and the event streams open on it.
	ctx context.Context

	mu      sync.Mutex
	history map[types.UID]*History
	changed chan struct{} // closed, and replaced, at every change of the Rollouts
}

// NewDashboard makes a dashboard that reads through c.
func NewDashboard(c client.WithWatch, opts DashboardOptions) (*Dashboard, error) {
	page, err := template.ParseFS(webFiles, "web/index.html")
	if err != nil {
		return nil, err
	}
	d := &Dashboard{
		client: c, opts: opts, token: randomHex(32), page: page,
		history: map[types.UID]*History{}, changed: make(chan struct{}),
	}
	return d, nil
}

// follow records the history of every Rollout at each change, and tells the pages.
func (d *Dashboard) follow(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.rollouts.Changed():
		}
		rollouts, err := d.rollouts.Rollouts()
		d.mu.Lock()
		if err == nil {
			seen := map[types.UID]*History{}
			for i := range rollouts {
				ro := &rollouts[i]
				h := d.history[ro.UID]
				if h == nil {
					h = &History{}
				}
				h.Observe(ro, time.Now())
				seen[ro.UID] = h
			}
			d.history = seen // a deleted Rollout's history goes with it
		}
		close(d.changed)
		d.changed = make(chan struct{})
		d.mu.Unlock()
	}
}

// next is closed at the next change of the Rollouts.
func (d *Dashboard) next() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.changed
}

func (d *Dashboard) historyOf(ro *trancheapi.Rollout) History {
	d.mu.Lock()
	defer d.mu.Unlock()
	h := d.history[ro.UID]
	if h == nil {
		return History{}
	}
	return History{Traffic: slices.Clone(h.Traffic), Checks: maps.Clone(h.Checks)} // follow goes on writing h
}

// Serve follows the Rollouts and serves the dashboard on l until ctx ends; once only. l
// must listen on a loopback address.
func (d *Dashboard) Serve(ctx context.Context, l net.Listener) error {
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok || !addr.IP.IsLoopback() {
		return fmt.Errorf("the dashboard listens on the loopback interface only, not on %s", l.Addr())
	}
	d.start(ctx)
	return serveHTTP(ctx, l, sameOrigin(addr.Port, d.routes()), nil)
}

// start follows the Rollouts the dashboard shows until ctx ends; once only.
func (d *Dashboard) start(ctx context.Context) {
	d.ctx = ctx
	d.rollouts = WatchRolloutsIn(ctx, d.client, d.opts.shown())
	go d.follow(ctx)
}

// routes are the dashboard's page, its assets and its API, with no check of who asks.
func (d *Dashboard) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", d.servePage)
	mux.Handle("GET /assets/", assets())
	mux.HandleFunc("GET /api/rollouts", d.serveList)
	mux.HandleFunc("GET /api/rollouts/{namespace}/{name}", d.serveRollout)
	mux.HandleFunc("GET /api/stream", d.serveStream)
	mux.HandleFunc("POST /api/rollouts/{namespace}/{name}/{action}", d.serveAction)
	return mux
}

func (d *Dashboard) servePage(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = d.page.Execute(w, struct {
		Token     string
		ReadOnly  bool
		Namespace string
		User      string
		SignOut   bool
	}{d.token, d.opts.ReadOnly, strings.Join(d.opts.shown(), ","), d.opts.User, d.opts.SignOut})
}

func (d *Dashboard) rows() ([]Row, error) {
	rollouts, err := d.rollouts.Rollouts()
	if err != nil {
		return nil, err
	}
	rows := make([]Row, 0, len(rollouts))
	for i := range rollouts {
		rows = append(rows, RowOf(&rollouts[i]))
	}
	return rows, nil
}

func (d *Dashboard) serveList(w http.ResponseWriter, _ *http.Request) {
	rows, err := d.rows()
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, rows)
}

// key is the Rollout named, if the dashboard shows its namespace; else it answers why not.
func (d *Dashboard) key(w http.ResponseWriter, namespace, name string) (types.NamespacedName, bool) {
	key := types.NamespacedName{Namespace: namespace, Name: name}
	if shown := d.opts.shown(); !slices.Contains(shown, "") && !slices.Contains(shown, namespace) {
		http.Error(w, fmt.Sprintf("this dashboard shows the Rollouts of %s only", strings.Join(shown, ", ")), http.StatusNotFound)
		return key, false
	}
	return key, true
}

func (d *Dashboard) serveRollout(w http.ResponseWriter, r *http.Request) {
	key, ok := d.key(w, r.PathValue("namespace"), r.PathValue("name"))
	if !ok {
		return
	}
	v, err := LoadView(r.Context(), d.client, key)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	writeJSON(w, PageOf(v, d.historyOf(v.Rollout), time.Now()))
}

// streamTick is how often a stream looks whether the page it follows changed without a
// change of the Rollout: the time left of a hold.
const streamTick = time.Second

// serveStream sends the list, and with namespace and name the page of that Rollout, at
// every change: events "list", "page" and "problem" (why there is nothing to show).
func (d *Dashboard) serveStream(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming is not supported", http.StatusInternalServerError)
		return
	}
	// A stream ends with its request, or with the dashboard: a team's session that ends
	// (signed out, expired) closes its pages' streams and their watches.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(d.ctx, cancel)()
	var view *ViewWatch
	var viewChanged <-chan struct{}
	if r.URL.Query().Get("name") != "" {
		r.SetPathValue("namespace", r.URL.Query().Get("namespace"))
		r.SetPathValue("name", r.URL.Query().Get("name"))
		key, ok := d.key(w, r.PathValue("namespace"), r.PathValue("name"))
		if !ok {
			return
		}
		view = WatchView(ctx, d.client, key)
		viewChanged = view.Changed()
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	tick := time.NewTicker(streamTick)
	defer tick.Stop()
	out := &events{w: w, sent: map[string][]byte{}}
	for {
		next := d.next()
		if !d.push(out, view) {
			return
		}
		flusher.Flush()
		select {
		case <-ctx.Done():
			return
		case <-next:
		case <-viewChanged:
		case <-tick.C:
		}
	}
}

// push sends the list, the page the stream follows (view, when not nil) and why either is
// missing ("" when nothing is); false once the stream is gone.
func (d *Dashboard) push(out *events, view *ViewWatch) bool {
	var problem string
	if rows, err := d.rows(); err == nil {
		if !out.send("list", rows) {
			return false
		}
	} else if !errors.Is(err, errNotListed) {
		problem = err.Error()
	}
	if view != nil {
		if v, err := view.View(); err == nil {
			if !out.send("page", PageOf(v, d.historyOf(v.Rollout), time.Now())) {
				return false
			}
		} else if !errors.Is(err, errNotListed) {
			problem = err.Error()
		}
	}
	return out.send("problem", problem)
}

// events writes server-sent events, each only when it differs from the last of its name.
type events struct {
	w    io.Writer
	sent map[string][]byte
}

// send writes an event unless it is the last one of its name again; false once the stream
// cannot be written.
func (e *events) send(event string, v any) bool {
	data, err := json.Marshal(v)
	if err != nil || bytes.Equal(e.sent[event], data) {
		return err == nil
	}
	e.sent[event] = data
	_, err = fmt.Fprintf(e.w, "event: %s\ndata: %s\n\n", event, data)
	return err == nil
}

// tokenHeader carries the token of the page in every action it sends.
const tokenHeader = "X-Tranche-Token"

// serveAction sends a request about a Rollout, as the command of the same name would.
func (d *Dashboard) serveAction(w http.ResponseWriter, r *http.Request) {
	switch {
	case d.opts.ReadOnly:
		http.Error(w, "this dashboard is read-only (it was started with --read-only): it sends no requests", http.StatusForbidden)
		return
	case subtle.ConstantTimeCompare([]byte(r.Header.Get(tokenHeader)), []byte(d.token)) != 1:
		http.Error(w, "the request does not carry the dashboard page's token: only the dashboard's own page may act", http.StatusForbidden)
		return
	}
	key, ok := d.key(w, r.PathValue("namespace"), r.PathValue("name"))
	if !ok {
		return
	}
	act, ok := actions[r.PathValue("action")]
	if !ok {
		http.Error(w, fmt.Sprintf("unknown action %q", r.PathValue("action")), http.StatusNotFound)
		return
	}
	said, err := act(r.Context(), d.client, key)
	switch {
	case apierrors.IsForbidden(err):
		who := "you"
		if d.opts.User != "" {
			who = d.opts.User
		}
		http.Error(w, fmt.Sprintf("Refused: %s may not %s rollout %s. The API server said: %v", who, r.PathValue("action"), key, err), http.StatusForbidden)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	writeJSON(w, map[string]string{"message": said})
}

// actions are the requests the page can send, by name: the commands' own functions.
var actions = map[string]func(context.Context, client.Client, types.NamespacedName) (string, error){
	ActionPromote: func(ctx context.Context, c client.Client, key types.NamespacedName) (string, error) {
		return Promote(ctx, c, key, false)
	},
	ActionPromoteFull: func(ctx context.Context, c client.Client, key types.NamespacedName) (string, error) {
		return Promote(ctx, c, key, true)
	},
	ActionAbort:  Abort,
	ActionRetry:  Retry,
	ActionPause:  Pause,
	ActionResume: Resume,
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}
