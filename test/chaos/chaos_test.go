//go:build e2e

// Package chaos runs many rollouts at once while things go wrong around the manager: the
// manager process is killed and started again at random moments, or the API server fails
// some of its requests. Whatever happens, every rollout must end as its canary deserves, no
// request may be routed to a workload that is not ready, no revision may be promoted twice
// and no secret may show in the logs, events or status. The manager is the real binary; the
// API server, etcd, Prometheus, kube-controller-manager and kube-scheduler are real; kwok
// plays the nodes (harness.Workloads). `make e2e` runs it.
package chaos

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tranche-dev/tranche/test/harness"
)

// The planted secrets: the Prometheus password (harness.PrometheusPassword) and the token in
// the Slack webhook's URL. Neither may appear in what the manager shows.
const slackToken = "T0CHAOS/B0CHAOS/planted-slack-token-6f1d"

var (
	cp         *harness.ControlPlane
	prom       *harness.Prometheus
	canaryBad  *prometheus.GaugeVec
	slack      *httptest.Server
	managerBin string
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	managerBin = os.Getenv("TRANCHE_MANAGER")
	if managerBin == "" {
		fmt.Fprintln(os.Stderr, "chaos: TRANCHE_MANAGER must name the built manager: run `make e2e`")
		return 1
	}
	crds, err := harness.GatewayAPICRDs()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// Three Services a Rollout: envtest's /24 holds 85 Rollouts. Up to three pods a Rollout
	// (the primary's, the canary's and a surge's), 254 a node.
	if cp, err = harness.Start(harness.Options{
		CRDDirectories: crds,
		APIServerArgs:  map[string]string{"service-cluster-ip-range": "10.96.0.0/16"},
		Workloads:      &harness.WorkloadOptions{Nodes: 4, PodReadyDelay: 300 * time.Millisecond},
		AcceptRoutes:   true,
	}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cp.Stop()

	// Whether each rollout's canary is bad, for Prometheus to scrape and the analysis to read.
	canaryBad = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tranche_chaos_canary_bad", Help: "1 when the test made the Rollout's canary bad.",
	}, []string{"namespace", "rollout"})
	registry := prometheus.NewRegistry()
	registry.MustRegister(canaryBad)
	exporter := httptest.NewServer(promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	defer exporter.Close()
	target, _ := url.Parse(exporter.URL)
	if prom, err = harness.StartPrometheus(harness.PrometheusOptions{Targets: []string{target.Host}, BasicAuth: true}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer prom.Stop()

	// A Slack that fails one delivery in three, so that the manager has failures to log.
	var deliveries atomic.Int64
	slack = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if deliveries.Add(1)%3 == 0 {
			http.Error(w, "rollout_failure", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer slack.Close()

	return m.Run()
}

// TestCrashAnywhere kills the manager every few seconds, at seeded random moments, while 100
// rollouts (a third of them with bad canaries) initialize and roll out.
func TestCrashAnywhere(t *testing.T) {
	s := newScenario(t, scenario{rollouts: 100, seed: seed(t, 1), kills: true})
	s.run()
	t.Logf("the manager was killed %d times", s.killed)
	if s.killed < 10 {
		t.Errorf("the manager was killed only %d times: the run tested little", s.killed)
	}
}

// TestAPIFaults runs 40 rollouts through a proxy that answers one update in ten with a
// conflict, loses the answer to one write in ten after the write is done, and times out one
// read in twenty.
func TestAPIFaults(t *testing.T) {
	faults, err := cp.StartAPIFaults(harness.Faults{Conflicts: 0.1, LostReplies: 0.1, ReadTimeouts: 0.05, Seed: uint64(seed(t, 2))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = faults.Close() })
	s := newScenario(t, scenario{rollouts: 40, seed: seed(t, 2), faults: faults})
	s.run()
	conflicts, lost, timeouts := faults.Injected()
	t.Logf("injected %d conflicts, %d lost replies, %d read timeouts", conflicts, lost, timeouts)
	if conflicts == 0 || lost == 0 || timeouts == 0 {
		t.Errorf("some kind of fault was never injected: the run tested little")
	}
}
