// Package stack runs Tranche end to end on one machine, every part a real program on
// 127.0.0.1: kube-apiserver and etcd, the real kube-controller-manager and kube-scheduler
// with kwok nodes (harness.Workloads), Traefik as the Gateway API data plane, Prometheus
// scraping Traefik every second, the Tranche manager built from the tree, the demo app
// (test/apps/demoapp) as one process per pod, reached through each Service's ClusterIP
// (harness.ServiceProxy, which sends only to the pods the endpointslice controller lists as
// ready), and a load generator sending requests through the gateway. With Options.Istio,
// istiod too, and gRPC clients in proxyless mode that it routes (StartGRPCLoad). `make demo`
// and the end-to-end tests (`make e2e`) run on it.
package stack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/tranche-dev/tranche/test/harness"
)

// ServiceCIDR is the API server's Service range. It is loopback, because Traefik sends to
// ClusterIP:port, where the ServiceProxy listens: the API server refuses loopback addresses
// in EndpointSlices, so the pods' own IPs cannot be reached, and ClusterIPs are the way in.
const ServiceCIDR = "127.0.10.0/24"

// Names of the objects the stack creates.
const (
	GatewayClass = "traefik"
	Gateway      = "public"
)

// Options say where the programs the stack runs are.
type Options struct {
	// Manager is the Tranche manager binary (`make build` writes bin/tranche).
	Manager string
	// DemoApp is the demo app binary.
	DemoApp string
	// Namespace is where the apps and their Rollouts live.
	Namespace string
	// Dir receives the logs and the kubeconfig. It is left in place.
	Dir string
	// CRDDirectories hold CRDs to install besides Gateway API's and Traefik's (the peers').
	CRDDirectories []string
	// AuditPolicy, when set, has the API server keep an audit log by it (see
	// harness.Options.AuditPolicy and ControlPlane.Audit).
	AuditPolicy string
	// PerRequest has the Services' proxies send each request, not each connection, to a
	// ready pod (see harness.ServiceProxy.PerRequest): the bench's peers move Services'
	// selectors between pods that go on running.
	PerRequest bool
	// ManagerArgs are more flags for the manager.
	ManagerArgs []string
	// Istio runs istiod too, with Istio's CRDs, for proxyless gRPC clients (StartGRPCLoad),
	// and has Prometheus scrape the pods that ask for it (the gRPC demo app's own counters).
	Istio bool
	// UnscrapedManager keeps Prometheus to Traefik: the bench measures the CPU of controllers
	// that no one scrapes alike (every second, serving the metrics took a third of the
	// manager's CPU).
	UnscrapedManager bool
}

// Stack is the running whole. Stop stops every process it started.
type Stack struct {
	Options
	ControlPlane *harness.ControlPlane
	Traefik      *harness.Traefik
	Istiod       *harness.Istiod // with Options.Istio
	Prometheus   *harness.Prometheus
	Apps         *harness.PodApps
	Kubeconfig   string

	manager    *harness.Manager
	managerLog *os.File
	// managerMetrics is where the manager serves its metrics, which Prometheus scrapes.
	managerMetrics string
	cancel         context.CancelFunc
	ctx            context.Context // ends with Stop
	workloads      sync.WaitGroup  // the apps and the proxy of each namespace served
	stopOnce       sync.Once
}

// Start starts everything in order (each part needs the ones before) and returns once the
// Gateway is served. On error, what was started is stopped again.
func Start(opts Options) (s *Stack, err error) {
	s = &Stack{Options: opts}
	defer func() {
		if err != nil {
			_ = s.Stop()
			s = nil
		}
	}()
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return s, err
	}
	gatewayCRDs, err := harness.GatewayAPICRDs()
	if err != nil {
		return s, err
	}
	traefikCRDs, err := harness.TraefikCRDs()
	if err != nil {
		return s, err
	}
	crds := append(append(gatewayCRDs, traefikCRDs), opts.CRDDirectories...)
	if opts.Istio {
		istioCRDs, err := harness.IstioCRDs()
		if err != nil {
			return s, err
		}
		crds = append(crds, istioCRDs)
	}
	if s.ControlPlane, err = harness.Start(harness.Options{
		CRDDirectories: crds,
		APIServerArgs:  map[string]string{"service-cluster-ip-range": ServiceCIDR},
		Workloads:      &harness.WorkloadOptions{LogDir: opts.Dir},
		Audit:          opts.AuditPolicy != "",
		AuditPolicy:    opts.AuditPolicy,
	}); err != nil {
		return s, err
	}
	if s.Kubeconfig, err = s.ControlPlane.Kubeconfig(opts.Dir); err != nil {
		return s, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.ctx, s.cancel = ctx, cancel
	if err := s.ControlPlane.CreateNamespace(ctx, opts.Namespace); err != nil {
		return s, err
	}
	// Traefik serves both the Gateway API routes (TCPRoutes too) and its own IngressRoutes
	// (for the traefik provider's TraefikServices).
	if s.Traefik, err = harness.StartTraefik(harness.TraefikOptions{Kubeconfig: s.Kubeconfig, LogDir: opts.Dir, TCP: true, Args: []string{
		"--providers.kubernetescrd=true", "--providers.kubernetescrd.nativeLBByDefault=true",
	}}); err != nil {
		return s, err
	}
	if opts.Istio {
		if err := s.startIstiod(ctx); err != nil {
			return s, err
		}
	}
	// Prometheus scrapes the manager as well as Traefik, as a cluster's would (the Grafana
	// dashboard's panels are tested on what it scraped); the manager starts last.
	if s.managerMetrics, err = harness.FreeAddress(); err != nil {
		return s, err
	}
	prometheus := harness.PrometheusOptions{Targets: s.scraped()}
	if opts.Istio {
		prometheus.TargetsFile = filepath.Join(opts.Dir, "pod-targets.json")
		targets := &harness.PodTargets{Client: s.ControlPlane.Client, File: prometheus.TargetsFile}
		s.workloads.Go(func() { targets.Run(ctx) })
	}
	if s.Prometheus, err = harness.StartPrometheus(prometheus); err != nil {
		return s, err
	}
	if err := s.createGateway(ctx); err != nil {
		return s, err
	}
	// The demo app runs for the pods of every namespace (see harness.PodApps.Namespace).
	s.Apps = &harness.PodApps{Client: s.ControlPlane.Client, Binary: s.DemoApp, LogDir: s.Dir}
	s.workloads.Go(func() { s.Apps.Run(ctx) })
	s.serveServices(ctx, opts.Namespace, "")
	return s, s.startManager()
}

// scraped are Prometheus's targets: Traefik and, unless told not to, the manager.
func (s *Stack) scraped() []string {
	targets := []string{strings.TrimPrefix(s.Traefik.APIURL(), "http://")}
	if !s.UnscrapedManager {
		targets = append(targets, s.managerMetrics)
	}
	return targets
}

// ServeNamespace creates another namespace whose Services are served as the stack's own
// namespace's are (its pods run the demo app as every namespace's do), for apps the stack's
// manager does not release (the peers' in the bench).
func (s *Stack) ServeNamespace(ctx context.Context, ns string) error {
	if err := s.ControlPlane.CreateNamespace(ctx, ns); err != nil {
		return err
	}
	s.serveServices(s.ctx, ns, ns+"-")
	return nil
}

// serveServices runs the proxy that sends the connections to each Service of ns to its ready
// pods, until ctx ends; the log's name starts with prefix.
func (s *Stack) serveServices(ctx context.Context, ns, prefix string) {
	proxy := &harness.ServiceProxy{Client: s.ControlPlane.Client, Namespace: ns, PerRequest: s.PerRequest}
	proxyLog, err := os.Create(filepath.Join(s.Dir, prefix+"service-proxy.log"))
	if err == nil {
		proxy.Log = proxyLog
	}
	s.workloads.Add(1)
	go func() {
		defer s.workloads.Done()
		proxy.Run(ctx)
		if proxyLog != nil {
			_ = proxyLog.Close()
		}
	}()
}

// createGateway makes Traefik's GatewayClass and a Gateway listening on its web entrypoint,
// for HTTP and gRPC, and on its TCP entrypoint, for TCP.
func (s *Stack) createGateway(ctx context.Context) error {
	c := s.ControlPlane.Client
	class := &gatewayv1.GatewayClass{
		ObjectMeta: metav1.ObjectMeta{Name: GatewayClass},
		Spec:       gatewayv1.GatewayClassSpec{ControllerName: "traefik.io/gateway-controller"},
	}
	gateway := &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.Namespace, Name: Gateway},
		Spec: gatewayv1.GatewaySpec{
			GatewayClassName: GatewayClass,
			Listeners: []gatewayv1.Listener{
				{Name: "web", Port: s.Traefik.WebPort(), Protocol: gatewayv1.HTTPProtocolType},
				{Name: "pipe", Port: s.Traefik.TCPPort(), Protocol: gatewayv1.TCPProtocolType},
			},
		},
	}
	for _, obj := range []client.Object{class, gateway} {
		if err := c.Create(ctx, obj); err != nil {
			return fmt.Errorf("creating %s %s: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), err)
		}
	}
	return nil
}

// startManager runs the Tranche manager against the API server, with the stack's Prometheus
// as the default for built-in metrics, and waits until it is healthy.
func (s *Stack) startManager() error {
	log, err := os.Create(filepath.Join(s.Dir, "manager.log"))
	if err != nil {
		return err
	}
	s.managerLog = log
	s.manager = &harness.Manager{
		Binary: s.Manager, Kubeconfig: s.Kubeconfig, Log: log,
		Args: append([]string{"--leader-elect=false", "--metrics-bind-address=" + s.managerMetrics,
			"--prometheus-address=" + s.Prometheus.URL(), "--namespaces=" + s.Namespace}, s.ManagerArgs...),
	}
	if err := s.manager.Start(); err != nil {
		return fmt.Errorf("%w: see %s", err, log.Name())
	}
	return nil
}

// startIstiod starts istiod in its namespace.
func (s *Stack) startIstiod(ctx context.Context) error {
	if err := s.ControlPlane.CreateNamespace(ctx, harness.IstioNamespace); err != nil {
		return err
	}
	var err error
	s.Istiod, err = harness.StartIstiod(harness.IstiodOptions{Kubeconfig: s.Kubeconfig, LogDir: s.Dir})
	return err
}

// ManagerPid is the manager's process ID, 0 when it is not running.
func (s *Stack) ManagerPid() int { return s.manager.Pid() }

// Stop stops the manager, the apps, Prometheus, Traefik, istiod and the control plane. Calling it
// again does nothing.
func (s *Stack) Stop() error {
	var errs []error
	s.stopOnce.Do(func() {
		if s.manager != nil {
			errs = append(errs, s.manager.Stop())
			_ = s.managerLog.Close()
		}
		if s.cancel != nil {
			s.cancel()
			s.workloads.Wait()
		}
		if s.Prometheus != nil {
			errs = append(errs, s.Prometheus.Stop())
		}
		if s.Traefik != nil {
			errs = append(errs, s.Traefik.Stop())
		}
		if s.Istiod != nil {
			errs = append(errs, s.Istiod.Stop())
		}
		if s.ControlPlane != nil {
			errs = append(errs, s.ControlPlane.Stop())
		}
	})
	return errors.Join(errs...)
}
