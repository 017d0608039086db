package harness

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"slices"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ServiceProxy plays kube-proxy for the Services of a namespace: on each Service's ClusterIP
// and port it accepts connections and sends each to one of the Service's ready endpoints, as
// the endpointslice controller lists them, in turn. So a request reaches a pod only while
// Kubernetes itself says the pod is ready.
//
// The ClusterIPs must be loopback addresses (the API server's service-cluster-ip-range), to
// listen on. Pod IPs cannot be (the API server refuses them in EndpointSlices): the proxy
// reaches a pod at the loopback twin of its IP (PodTwin), where the program playing the pod
// listens.
type ServiceProxy struct {
	Client    client.Client
	Namespace string
	// Log, when set, gets a line for every change of a Service's backends and for every
	// connection the proxy could not forward, with the time: what to read when a data plane
	// saw a connection fail.
	Log io.Writer
	// PerRequest sends each HTTP request, rather than each connection, to a ready endpoint in
	// turn, as a data plane that resolves a Service's endpoints itself does (Traefik and Envoy
	// by default): a connection kept alive does not stay with a pod that left the Service
	// while it still runs (a selector changed). Every port's traffic must then be HTTP/1.1.
	PerRequest bool

	mu        sync.Mutex
	logMu     sync.Mutex
	listeners map[string]*proxyListener // by ClusterIP:port
}

// PodTwin is the loopback address standing in for a pod IP: 10.244.a.b is 127.244.a.b.
func PodTwin(podIP string) (string, error) {
	ip := net.ParseIP(podIP).To4()
	if ip == nil {
		return "", fmt.Errorf("harness: pod IP %q is not an IPv4 address", podIP)
	}
	return net.IPv4(127, ip[1], ip[2], ip[3]).String(), nil
}

type proxyListener struct {
	address  string
	log      func(format string, args ...any)
	listener net.Listener
	server   *http.Server // with PerRequest
	mu       sync.Mutex
	backends []string // the ready endpoints' twins with the target port
	next     int
}

// nextBackend is the ready endpoint to send to next, "" when there is none.
func (l *proxyListener) nextBackend() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.backends) == 0 {
		return ""
	}
	backend := l.backends[l.next%len(l.backends)]
	l.next++
	return backend
}

// close stops accepting, and with PerRequest closes the connections too.
func (l *proxyListener) close() {
	if l.server != nil {
		_ = l.server.Close()
	}
	_ = l.listener.Close()
}

// Run keeps a listener for every Service port in line with the EndpointSlices until ctx is
// done, looking every 100 ms, then closes them.
func (p *ServiceProxy) Run(ctx context.Context) {
	defer p.closeAll()
	lookEvery(ctx, 100*time.Millisecond, p.sync)
}

func (p *ServiceProxy) sync(ctx context.Context) {
	var services corev1.ServiceList
	var endpointSlices discoveryv1.EndpointSliceList
	if p.Client.List(ctx, &services, client.InNamespace(p.Namespace)) != nil ||
		p.Client.List(ctx, &endpointSlices, client.InNamespace(p.Namespace)) != nil {
		return
	}
	wanted := map[string][]string{}
	for _, svc := range services.Items {
		ip := net.ParseIP(svc.Spec.ClusterIP)
		if ip == nil || !ip.IsLoopback() {
			continue
		}
		for _, port := range svc.Spec.Ports {
			address := net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(int(port.Port)))
			wanted[address] = readyBackends(endpointSlices.Items, svc.Name, port.Name)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.listeners == nil {
		p.listeners = map[string]*proxyListener{}
	}
	for address, l := range p.listeners {
		if _, ok := wanted[address]; !ok {
			l.close()
			delete(p.listeners, address)
		}
	}
	for address, backends := range wanted {
		l := p.listeners[address]
		if l == nil {
			listener, err := net.Listen("tcp", address)
			if err != nil {
				continue // tried again at the next sync
			}
			l = &proxyListener{address: address, log: p.logf, listener: listener}
			p.listeners[address] = l
			if p.PerRequest {
				l.server = l.httpServer()
				go func() { _ = l.server.Serve(listener) }()
			} else {
				go l.serve()
			}
		}
		l.mu.Lock()
		if !slices.Equal(l.backends, backends) {
			p.logf("%s: backends %v", address, backends)
		}
		l.backends = backends
		l.mu.Unlock()
	}
}

// readyBackends are the twins, with target ports, of the ready endpoints the slices of
// service list for its port named portName.
func readyBackends(endpointSlices []discoveryv1.EndpointSlice, service, portName string) []string {
	var backends []string
	for _, slice := range endpointSlices {
		if slice.Labels[discoveryv1.LabelServiceName] != service {
			continue
		}
		for _, port := range slice.Ports {
			if ptr.Deref(port.Name, "") != portName || port.Port == nil {
				continue
			}
			for _, e := range slice.Endpoints {
				if !ptr.Deref(e.Conditions.Ready, false) || len(e.Addresses) == 0 {
					continue
				}
				if twin, err := PodTwin(e.Addresses[0]); err == nil {
					backends = append(backends, net.JoinHostPort(twin, strconv.Itoa(int(*port.Port))))
				}
			}
		}
	}
	slices.Sort(backends) // in one order whatever the slices' order, for the log
	return backends
}

func (l *proxyListener) serve() {
	for {
		conn, err := l.listener.Accept()
		if err != nil {
			return // closed
		}
		go l.forward(conn)
	}
}

// forward sends a connection to the next ready backend; without one, it is refused, as
// kube-proxy rejects connections to a Service with no ready endpoints.
func (l *proxyListener) forward(conn net.Conn) {
	defer conn.Close()
	backend := l.nextBackend()
	if backend == "" {
		l.log("%s: refused a connection from %s: no ready endpoint", l.address, conn.RemoteAddr())
		return
	}
	upstream, err := net.DialTimeout("tcp", backend, time.Second)
	if err != nil {
		l.log("%s: closed a connection from %s: %v", l.address, conn.RemoteAddr(), err)
		return
	}
	defer upstream.Close()
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(upstream, conn)
		if tcp, ok := upstream.(*net.TCPConn); ok {
			_ = tcp.CloseWrite()
		}
		close(done)
	}()
	_, _ = io.Copy(conn, upstream)
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.CloseWrite()
	}
	<-done
}

// httpServer sends each request to the next ready backend; without one it answers 503, as
// Traefik does for a service with no server.
func (l *proxyListener) httpServer() *http.Server {
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host = "http", r.In.Context().Value(backendKey{}).(string)
			r.Out.Host = r.In.Host
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			l.log("%s: a request from %s failed: %v", l.address, r.RemoteAddr, err)
			w.WriteHeader(http.StatusBadGateway)
		},
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second},
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		backend := l.nextBackend()
		if backend == "" {
			l.log("%s: answered 503 to %s: no ready endpoint", l.address, r.RemoteAddr)
			http.Error(w, "no ready endpoint", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), backendKey{}, backend)))
	})
	return &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
}

// backendKey carries the backend chosen for a request to the proxy's Rewrite.
type backendKey struct{}

func (p *ServiceProxy) logf(format string, args ...any) {
	if p.Log == nil {
		return
	}
	p.logMu.Lock()
	defer p.logMu.Unlock()
	fmt.Fprintf(p.Log, time.Now().Format("15:04:05.000")+" "+format+"\n", args...)
}

func (p *ServiceProxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for address, l := range p.listeners {
		l.close()
		delete(p.listeners, address)
	}
}
