package harness

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Exporter serves request metrics that tests set by hand, for a real Prometheus to scrape:
// a test decides the error rate and the latency a "service" shows, and so what a metric
// query returns.
type Exporter struct {
	server    *http.Server
	listener  net.Listener
	requests  *prometheus.CounterVec
	durations *prometheus.HistogramVec
	// linkerd-proxy's families, for the linkerd and smi providers' built-in queries.
	responses *prometheus.CounterVec
	latencies *prometheus.HistogramVec
	// Istio's standard families, for the istio provider's.
	istioRequests  *prometheus.CounterVec
	istioDurations *prometheus.HistogramVec
}

// NewExporter serves /metrics on a free port of 127.0.0.1, from a registry of its own (so no
// Go runtime metrics, and two exporters in one test binary do not clash).
func NewExporter() (*Exporter, error) {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tranche_test_requests_total",
		Help: "Requests the test says a service answered, by status code.",
	}, []string{"namespace", "service", "code"})
	durations := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "tranche_test_request_duration_seconds",
		Help:    "How long the test says a service took to answer.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"namespace", "service"})
	responses := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "response_total",
		Help: "Responses, as linkerd-proxy counts them.",
	}, []string{"namespace", "deployment", "direction", "classification", "status_code"})
	latencies := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "response_latency_ms",
		Help:    "Response latency in milliseconds, as linkerd-proxy measures it.",
		Buckets: []float64{1, 5, 10, 25, 50, 100, 250, 500, 1000, 5000},
	}, []string{"namespace", "deployment", "direction"})
	istioRequests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "istio_requests_total",
		Help: "Requests, as Istio's sidecars report them.",
	}, []string{"reporter", "destination_workload_namespace", "destination_workload", "response_code"})
	istioDurations := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "istio_request_duration_milliseconds",
		Help:    "Request duration in milliseconds, as Istio's sidecars report it.",
		Buckets: []float64{1, 5, 10, 25, 50, 100, 250, 500, 1000, 5000},
	}, []string{"reporter", "destination_workload_namespace", "destination_workload"})
	registry := prometheus.NewRegistry()
	if err := errors.Join(registry.Register(requests), registry.Register(durations),
		registry.Register(responses), registry.Register(latencies),
		registry.Register(istioRequests), registry.Register(istioDurations)); err != nil {
		return nil, err
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	e := &Exporter{
		server:    &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second},
		listener:  listener,
		requests:  requests,
		durations: durations,
		responses: responses,
		latencies: latencies,

		istioRequests:  istioRequests,
		istioDurations: istioDurations,
	}
	go func() { _ = e.server.Serve(listener) }()
	return e, nil
}

// Serve records that service in namespace answered n requests with code, each taking d.
// n may be 0: the series then exist with the value 0, as for a canary that got no traffic.
func (e *Exporter) Serve(namespace, service string, n int, code int, d time.Duration) {
	e.requests.WithLabelValues(namespace, service, strconv.Itoa(code)).Add(float64(n))
	observer := e.durations.WithLabelValues(namespace, service)
	for i := 0; i < n; i++ {
		observer.Observe(d.Seconds())
	}
}

// ServeLinkerd records that the pods of deployment in namespace answered n requests with
// code, each taking d, as their linkerd-proxy would count them (inbound, a 5xx classified
// as a failure).
func (e *Exporter) ServeLinkerd(namespace, deployment string, n int, code int, d time.Duration) {
	classification := "success"
	if code >= 500 {
		classification = "failure"
	}
	e.responses.WithLabelValues(namespace, deployment, "inbound", classification, strconv.Itoa(code)).Add(float64(n))
	observer := e.latencies.WithLabelValues(namespace, deployment, "inbound")
	for i := 0; i < n; i++ {
		observer.Observe(float64(d.Milliseconds()))
	}
}

// ServeIstio records that the pods of workload in namespace answered n requests with code,
// each taking d, as their sidecars would report them (reporter="destination").
func (e *Exporter) ServeIstio(namespace, workload string, n int, code int, d time.Duration) {
	e.istioRequests.WithLabelValues("destination", namespace, workload, strconv.Itoa(code)).Add(float64(n))
	observer := e.istioDurations.WithLabelValues("destination", namespace, workload)
	for i := 0; i < n; i++ {
		observer.Observe(float64(d.Milliseconds()))
	}
}

// ServeCanary records that a Rollout's canary, the Deployment target behind the Service
// target-canary, answered n requests with code, each taking d, as every source of request
// metrics the tests' queries read counts them: the exporter's own series of the Service, and
// those linkerd-proxy and Istio's sidecars keep of the Deployment. Traffic so need not know
// which mesh, if any, the Rollout's provider is.
func (e *Exporter) ServeCanary(namespace, target string, n int, code int, d time.Duration) {
	e.Serve(namespace, target+"-canary", n, code, d)
	e.ServeLinkerd(namespace, target, n, code, d)
	e.ServeIstio(namespace, target, n, code, d)
}

// Address is the host:port to scrape, for PrometheusOptions.Targets.
func (e *Exporter) Address() string {
	return e.listener.Addr().String()
}

// Close stops serving.
func (e *Exporter) Close() error {
	return e.server.Close()
}
