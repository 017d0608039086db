package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/harness"
)

// The progressing Rollouts walk three steps of hold, judged every interval.
const (
	perNamespace = 500
	hold         = 2 * time.Second
	interval     = 2 * time.Second
)

type bench struct {
	cp         *harness.ControlPlane
	n          int
	metricsURL string
	prometheus string

	mu    sync.Mutex
	lags  []time.Duration // from a step being due to the next weight being set
	steps int
}

func (b *bench) namespace(i int) string { return fmt.Sprintf("scale-%d", i/perNamespace) }

func (b *bench) run(ctx context.Context) (result, error) {
	c := b.cp.Client
	for i := 0; i < b.n; i += perNamespace {
		if err := b.cp.CreateNamespace(ctx, b.namespace(i)); err != nil {
			return result{}, err
		}
		if err := c.Create(ctx, &trancheapi.MetricTemplate{
			ObjectMeta: metav1.ObjectMeta{Namespace: b.namespace(i), Name: "up"},
			Spec:       trancheapi.MetricTemplateSpec{Prometheus: &trancheapi.PrometheusSource{Address: b.prometheus}, Query: `count(up) or vector(1)`},
		}); err != nil {
			return result{}, err
		}
	}

	watcher, err := cache.New(b.cp.Config, cache.Options{Scheme: b.cp.Scheme})
	if err != nil {
		return result{}, err
	}
	informer, err := watcher.GetInformer(ctx, &trancheapi.Rollout{})
	if err != nil {
		return result{}, err
	}
	if _, err := informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{UpdateFunc: b.observe}); err != nil {
		return result{}, err
	}
	go func() { _ = watcher.Start(ctx) }()
	watcher.WaitForCacheSync(ctx)

	apiBefore, err := scrapeAPIServer(ctx, b.cp)
	if err != nil {
		return result{}, err
	}
	managerBefore, err := scrape(ctx, b.metricsURL)
	if err != nil {
		return result{}, err
	}
	start := time.Now()
	if err := parallel(ctx, b.n, func(i int) error {
		ns, name := b.namespace(i), fmt.Sprintf("app-%d", i)
		if err := c.Create(ctx, harness.Deployment(ns, name, "app:1")); err != nil {
			return err
		}
		return c.Create(ctx, b.rollout(ns, name))
	}); err != nil {
		return result{}, err
	}
	if err := waitForAll(ctx, watcher, b.n, trancheapi.PhaseInitialized); err != nil {
		return result{}, fmt.Errorf("initializing: %w", err)
	}
	r := result{rollouts: b.n, initialized: time.Since(start)}
	apiAfter, err := scrapeAPIServer(ctx, b.cp)
	if err != nil {
		return r, err
	}
	managerAfter, err := scrape(ctx, b.metricsURL)
	if err != nil {
		return r, err
	}
	r.initializing = busyBetween(apiBefore, apiAfter, managerBefore, managerAfter, r.initialized.Seconds(), workers)
	// The targets are scaled down after the scale-down delay: let that work end before
	// measuring the rollouts.
	if err := b.waitUntilIdle(ctx); err != nil {
		return r, err
	}
	idle, err := scrape(ctx, b.metricsURL)
	if err != nil {
		return r, err
	}
	r.idleRSS = idle.gauge("process_resident_memory_bytes")

	progressing := max(1, b.n/10)
	started := time.Now()
	if err := parallel(ctx, progressing, func(i int) error {
		return harness.SetImage(ctx, c, b.namespace(i), fmt.Sprintf("app-%d", i), "app:2")
	}); err != nil {
		return r, err
	}
	if err := waitForAll(ctx, watcher, progressing, trancheapi.PhaseSucceeded); err != nil {
		return r, fmt.Errorf("rolling out: %w", err)
	}
	r.rolledOut = time.Since(started)
	after, err := scrape(ctx, b.metricsURL)
	if err != nil {
		return r, err
	}
	r.rss = after.gauge("process_resident_memory_bytes")
	r.heap = after.gauge("go_memstats_heap_inuse_bytes")
	r.cpu = after.gauge("process_cpu_seconds_total")
	r.reconcileP50, r.reconcileP99 = after.quantiles("controller_runtime_reconcile_time_seconds", 0.5, 0.99)
	b.mu.Lock()
	r.stepLagP50, r.stepLagP99, r.steps = percentile(b.lags, 0.5), percentile(b.lags, 0.99), b.steps
	b.mu.Unlock()
	writes := after.requests(isWrite) - idle.requests(isWrite)
	reads := after.requests(isRead) - idle.requests(isRead)
	// Every progressing Rollout walked all its steps: writes per step are what a rollout
	// writes from its start to its promotion, shared among its steps.
	walked := float64(progressing * stepsPerRollout)
	r.writesPerStep, r.readsPerStep = writes/walked, reads/walked
	r.writesPerRollout = writes / float64(progressing)
	byKind, others, err := writesByKind(b.cp, started, time.Now())
	if err != nil {
		return r, err
	}
	r.writesByKind, r.otherWrites = map[string]float64{}, others
	for kind, n := range byKind {
		r.writesByKind[kind] = n / float64(progressing)
	}
	runs := after.counter("tranche_analysis_checks_total") - idle.counter("tranche_analysis_checks_total")
	r.queriesPerInterval = runs / (r.rolledOut.Seconds() / interval.Seconds())
	return r, nil
}

// stepsPerRollout is how many steps each rollout walks.
const stepsPerRollout = 3

// rollout is a Rollout of the app: three steps of a short hold, judged every interval.
func (b *bench) rollout(ns, name string) *trancheapi.Rollout {
	step := func(w int32) trancheapi.Step {
		return trancheapi.Step{Weight: ptr.To(w), Hold: &metav1.Duration{Duration: hold}}
	}
	return &trancheapi.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: trancheapi.RolloutSpec{
			TargetRef: trancheapi.TargetRef{Kind: "Deployment", Name: name},
			Service:   trancheapi.ServiceSpec{Port: 80},
			Provider:  trancheapi.Provider{GatewayAPI: &trancheapi.GatewayAPIProvider{ParentRefs: []trancheapi.ParentReference{{Name: "gw"}}}},
			Steps:     []trancheapi.Step{step(5), step(50), step(100)},
			// Short, so that the scale-downs after initialization are over before the
			// rollouts are measured and those after a rollout fall within it.
			ScaleDownDelay: &metav1.Duration{Duration: time.Second},
			Analysis: &trancheapi.Analysis{
				Interval: &metav1.Duration{Duration: interval},
				Metrics:  []trancheapi.Metric{{Name: "up", TemplateRef: &trancheapi.NamespacedObjectReference{Name: "up"}, Min: ptr.To(0.0)}},
			},
		},
	}
}

// observe records, when a Rollout moves to its next step, how long after the previous step
// was due (its hold elapsed) the new weight was set.
func (b *bench) observe(oldObj, newObj any) {
	old, ok1 := oldObj.(*trancheapi.Rollout)
	ro, ok2 := newObj.(*trancheapi.Rollout)
	if !ok1 || !ok2 || old.Status.StepStartedAt == nil || ro.Status.CurrentStep != old.Status.CurrentStep+1 {
		return
	}
	due := old.Status.StepStartedAt.Add(hold)
	b.mu.Lock()
	b.lags = append(b.lags, max(0, time.Since(due)))
	b.steps++
	b.mu.Unlock()
}

// waitUntilIdle waits until the manager's work queue has stayed empty for two seconds.
func (b *bench) waitUntilIdle(ctx context.Context) error {
	empty := 0
	return wait.PollUntilContextCancel(ctx, time.Second, false, func(ctx context.Context) (bool, error) {
		m, err := scrape(ctx, b.metricsURL)
		if err != nil {
			return false, err
		}
		if m.gauge("workqueue_depth") == 0 {
			empty++
		} else {
			empty = 0
		}
		return empty >= 2, nil
	})
}

// parallel runs do for 0..n-1 on 16 workers.
func parallel(ctx context.Context, n int, do func(i int) error) error {
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	next := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range next {
				if err := do(i); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for i := range n {
		select {
		case next <- i:
		case err := <-errs:
			close(next)
			wg.Wait()
			return err
		case <-ctx.Done():
			close(next)
			wg.Wait()
			return ctx.Err()
		}
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// waitForAll waits until at least n Rollouts are in phase.
func waitForAll(ctx context.Context, c client.Reader, n int, phase trancheapi.Phase) error {
	return wait.PollUntilContextCancel(ctx, time.Second, false, func(ctx context.Context) (bool, error) {
		var list trancheapi.RolloutList
		if err := c.List(ctx, &list); err != nil {
			return false, err
		}
		count := 0
		for _, ro := range list.Items {
			if ro.Status.Phase == phase {
				count++
			}
		}
		if time.Now().Second()%10 == 0 {
			fmt.Fprintf(os.Stderr, "scale: %d of %d %s\n", count, n, phase)
		}
		return count >= n, nil
	})
}

func percentile(values []time.Duration, q float64) time.Duration {
	if len(values) == 0 {
		return 0
	}
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

func scrape(ctx context.Context, url string) (metrics, error) {
	return fetchMetrics(ctx, http.DefaultClient, url)
}

// fetchMetrics reads a Prometheus text exposition.
func fetchMetrics(ctx context.Context, httpClient *http.Client, url string) (metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("reading %s: %s", url, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", url, err)
	}
	return metrics(families), nil
}
