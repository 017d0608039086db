package harness

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// Faults says which requests an APIFaults proxy fails, each a fraction of those it could.
type Faults struct {
	// Conflicts answer updates and patches 409 Conflict without passing them on, as when
	// another writer changed the object first.
	Conflicts float64
	// LostReplies pass writes on and then answer 504 Timeout: the write happened and the
	// client does not know it, as when a connection drops before the answer.
	LostReplies float64
	// ReadTimeouts answer gets and lists 504 Timeout without passing them on.
	ReadTimeouts float64
	// Seed makes the faults the same from run to run.
	Seed uint64
}

// APIFaults is a proxy in front of a control plane's API server that fails some of the
// requests its clients send, for tests of what a controller does when the API server
// misbehaves. Watches pass untouched. Its clients connect over plain HTTP with no
// credentials; it talks to the API server as the control plane's admin.
type APIFaults struct {
	faults   Faults
	listener net.Listener
	server   *http.Server
	proxy    *httputil.ReverseProxy

	mu   sync.Mutex
	rand *rand.Rand

	// Injected counts the faults of each kind so far, for the test to report.
	conflicts, lostReplies, readTimeouts atomic.Int64
}

// StartAPIFaults serves the proxy on a free port of 127.0.0.1.
func (cp *ControlPlane) StartAPIFaults(f Faults) (*APIFaults, error) {
	upstream, err := url.Parse(cp.Config.Host)
	if err != nil {
		return nil, err
	}
	transport, err := rest.TransportFor(cp.Config)
	if err != nil {
		return nil, err
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	proxy := httputil.NewSingleHostReverseProxy(upstream)
	proxy.Transport = transport
	proxy.FlushInterval = -1 // watches stream
	a := &APIFaults{faults: f, listener: listener, proxy: proxy, rand: rand.New(rand.NewPCG(f.Seed, f.Seed^0x9e3779b97f4a7c15))}
	a.server = &http.Server{Handler: http.HandlerFunc(a.serve)}
	go func() { _ = a.server.Serve(listener) }()
	return a, nil
}

// Kubeconfig writes a kubeconfig for the proxy into dir and returns its path.
func (a *APIFaults) Kubeconfig(dir string) (string, error) {
	path := filepath.Join(dir, "faults.kubeconfig")
	config := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: faults
  cluster:
    server: http://%s
contexts:
- name: faults
  context:
    cluster: faults
    user: anonymous
users:
- name: anonymous
  user: {}
current-context: faults
`, a.listener.Addr())
	return path, os.WriteFile(path, []byte(config), 0o600)
}

// Injected returns how many faults of each kind the proxy has injected.
func (a *APIFaults) Injected() (conflicts, lostReplies, readTimeouts int64) {
	return a.conflicts.Load(), a.lostReplies.Load(), a.readTimeouts.Load()
}

// Close stops the proxy.
func (a *APIFaults) Close() error { return a.server.Close() }

func (a *APIFaults) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Query().Get("watch") == "true":
	case r.Method == http.MethodGet:
		if a.roll(a.faults.ReadTimeouts) {
			a.readTimeouts.Add(1)
			writeStatus(w, http.StatusGatewayTimeout, metav1.StatusReasonTimeout, "injected: the read timed out")
			return
		}
	case r.Method == http.MethodPut || r.Method == http.MethodPatch:
		if a.roll(a.faults.Conflicts) {
			a.conflicts.Add(1)
			writeStatus(w, http.StatusConflict, metav1.StatusReasonConflict, "injected: the object has been modified; please apply your changes to the latest version and try again")
			return
		}
		fallthrough
	case r.Method == http.MethodPost || r.Method == http.MethodDelete:
		if a.roll(a.faults.LostReplies) {
			a.lostReplies.Add(1)
			a.proxy.ServeHTTP(discard{header: http.Header{}}, r)
			writeStatus(w, http.StatusGatewayTimeout, metav1.StatusReasonTimeout, "injected: the write was done but its answer was lost")
			return
		}
	}
	a.proxy.ServeHTTP(w, r)
}

func (a *APIFaults) roll(p float64) bool {
	if p <= 0 {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.rand.Float64() < p
}

// writeStatus answers as the API server does when it refuses a request.
func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(&metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure, Code: int32(code), Reason: reason, Message: message,
	})
}

// discard is a ResponseWriter that drops the answer of a write whose reply is "lost".
type discard struct{ header http.Header }

func (d discard) Header() http.Header         { return d.header }
func (d discard) Write(p []byte) (int, error) { return len(p), nil }
func (d discard) WriteHeader(int)             {}
