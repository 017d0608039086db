// Command scale is the scale bench of the manager: against a real API server (envtest) and
// Prometheus, it creates N Rollouts with their Deployments (the real controllers and kwok
// nodes run their pods), waits until every one is initialized, then releases a new version to 10% of them at
// once, each walking three short steps judged by a fast analysis against Prometheus. It
// reads the manager's own metrics (the real binary, a process of its own) and prints, per
// size: memory, CPU, reconcile latency, the lag between a step being due and its weight being
// set, API requests per step and Prometheus queries per interval. `make bench-scale` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/tranche-dev/tranche/test/harness"
)

func main() {
	sizes := flag.String("sizes", "1000", "comma-separated numbers of Rollouts, one run each")
	manager := flag.String("manager", "bin/tranche", "the manager binary")
	limit := flag.Duration("limit", 2*time.Hour, "how long one size may take")
	profiles := flag.String("profiles", "", "a folder to keep the manager's heap profile in, taken after the rollouts (heap-N.pb.gz)")
	flag.Parse()
	for _, field := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil || n < 10 {
			fmt.Fprintf(os.Stderr, "scale: bad size %q: at least 10 Rollouts\n", field)
			os.Exit(2)
		}
		r, err := runSize(*manager, n, *limit, *profiles)
		if err != nil {
			fmt.Fprintln(os.Stderr, "scale:", err)
			os.Exit(1)
		}
		r.print(os.Stdout)
	}
}

// workers is the manager's --concurrency.
const workers = 8

// runSize starts a control plane, Prometheus and the manager, runs the bench for n Rollouts
// and stops everything.
func runSize(managerBinary string, n int, limit time.Duration, profiles string) (result, error) {
	dir, err := os.MkdirTemp("", "tranche-scale-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	crds, err := harness.GatewayAPICRDs()
	if err != nil {
		return result{}, err
	}
	// Each Rollout has three Services: a /24 (envtest's default) is full at 85 Rollouts. It
	// runs up to three pods at once (the primary's, the canary's, a surge), 254 to a kwok
	// node: a node for every 80 Rollouts.
	cp, err := harness.Start(harness.Options{
		CRDDirectories: crds,
		APIServerArgs:  map[string]string{"service-cluster-ip-range": "10.96.0.0/12"},
		Workloads:      &harness.WorkloadOptions{Nodes: n/80 + 1, PodReadyDelay: 100 * time.Millisecond, LogDir: dir},
		AcceptRoutes:   true,
		// The writes by kind come from the API server's own log.
		Audit: true, AuditPolicy: harness.AuditWrites,
	})
	if err != nil {
		return result{}, err
	}
	defer cp.Stop()
	prom, err := harness.StartPrometheus(harness.PrometheusOptions{})
	if err != nil {
		return result{}, err
	}
	defer prom.Stop()
	kubeconfig, err := cp.Kubeconfig(dir)
	if err != nil {
		return result{}, err
	}
	metrics, err := harness.FreeAddress()
	if err != nil {
		return result{}, err
	}
	pprof, err := harness.FreeAddress()
	if err != nil {
		return result{}, err
	}
	log, err := os.Create(filepath.Join(dir, "manager.log"))
	if err != nil {
		return result{}, err
	}
	defer log.Close()
	manager := &harness.Manager{
		Binary: managerBinary, Kubeconfig: kubeconfig, Log: log,
		Args: []string{"--leader-elect=false", "--metrics-bind-address=" + metrics,
			"--prometheus-address=" + prom.URL(), "--log-level=error", fmt.Sprintf("--concurrency=%d", workers),
			// As the Helm chart's default limit has it run.
			"--memory-limit=512Mi",
			// The defaults (50/100) suit a shared cluster; the bench measures the manager, not the limiter.
			"--kube-api-qps=300", "--kube-api-burst=600", "--pprof-bind-address=" + pprof},
	}
	if err := manager.Start(); err != nil {
		return result{}, err
	}
	defer func() { _ = manager.Kill() }()

	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	ctrllog.SetLogger(logr.Discard())
	b := &bench{cp: cp, n: n, metricsURL: "http://" + metrics + "/metrics", prometheus: prom.URL()}
	r, err := b.run(ctx)
	if err == nil && profiles != "" {
		err = saveHeapProfile(ctx, "http://"+pprof+"/debug/pprof/heap", filepath.Join(profiles, fmt.Sprintf("heap-%d.pb.gz", n)))
	}
	if err != nil {
		tail, _ := os.ReadFile(log.Name())
		if len(tail) > 4000 {
			tail = tail[len(tail)-4000:]
		}
		err = fmt.Errorf("%w\nthe manager's log ends:\n%s", err, tail)
	}
	return r, err
}

// saveHeapProfile keeps the manager's heap profile, for `go tool pprof`.
func saveHeapProfile(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("reading the manager's heap profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("reading the manager's heap profile: %s", resp.Status)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
