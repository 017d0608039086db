package analysis_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tranche-dev/tranche/analysis"
	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// The Compare judge's queries as docs/analysis.md says to write them, for the exporter's
// metrics: errors and requests of one workload's Service since the step began, counted
// exactly (the counter now less the counter then), not extrapolated as increase() does.
const (
	compareErrors = `sum(tranche_test_requests_total{namespace="{{ .Namespace }}", service="{{ .WorkloadService }}", code=~"5.."})
  - (sum(tranche_test_requests_total{namespace="{{ .Namespace }}", service="{{ .WorkloadService }}", code=~"5.."} offset {{ .Window }}) or vector(0))`
	compareRequests = `sum(tranche_test_requests_total{namespace="{{ .Namespace }}", service="{{ .WorkloadService }}"})
  - (sum(tranche_test_requests_total{namespace="{{ .Namespace }}", service="{{ .WorkloadService }}"} offset {{ .Window }}) or vector(0))`
	compareLatency = `sum by (le) (tranche_test_request_duration_seconds_bucket{namespace="{{ .Namespace }}", service="{{ .WorkloadService }}"})
  - (sum by (le) (tranche_test_request_duration_seconds_bucket{namespace="{{ .Namespace }}", service="{{ .WorkloadService }}"} offset {{ .Window }})
     or 0 * sum by (le) (tranche_test_request_duration_seconds_bucket{namespace="{{ .Namespace }}", service="{{ .WorkloadService }}"}))`
)

// seededTraffic serves 2000 requests a second, 5% of them by the canary, in ticks of 100 ms
// whose sizes and errors are drawn from seed; the canary's errors are errRatio times the
// primary's 5%, and its latency latency times the primary's 20 ms.
func seededTraffic(ctx context.Context, ns string, seed uint64, errRatio, latency float64) {
	rng := rand.New(rand.NewPCG(seed, 99))
	serve := func(service string, n int, errorRate float64, d time.Duration) {
		failed := 0
		for range n {
			if rng.Float64() < errorRate {
				failed++
			}
		}
		stack.exporter.Serve(ns, service, n-failed, http.StatusOK, d)
		stack.exporter.Serve(ns, service, failed, http.StatusInternalServerError, d)
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		serve("app-canary", int(poissonDraw(rng, 10)), 0.05*errRatio, time.Duration(float64(20*time.Millisecond)*latency))
		serve("app-primary", int(poissonDraw(rng, 190)), 0.05, 20*time.Millisecond)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func poissonDraw(rng *rand.Rand, mean float64) float64 {
	l, k, p := math.Exp(-mean), 0.0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// compareRunFor renders the Compare queries of a Rollout "app" in ns, as the controller does.
func compareRunFor(t *testing.T, ns string, kind trancheapi.CompareKind, window time.Duration, look int) analysis.CompareRun {
	ro := &trancheapi.Rollout{}
	ro.Namespace, ro.Name, ro.Spec.TargetRef.Name = ns, "app", "app"
	m := trancheapi.Metric{Judge: trancheapi.JudgeCompare, Compare: &trancheapi.CompareSpec{Kind: kind}}
	run := analysis.CompareRun{Spec: m.EffectiveCompare(), Look: look, Window: window, Hold: time.Minute, Part: time.Second}
	vars := analysis.VarsFor(ro)
	for _, w := range []struct {
		canary bool
		into   *analysis.WorkloadQueries
	}{{true, &run.Canary}, {false, &run.Primary}} {
		wv := vars.ForWorkload(ro, w.canary, window)
		query := compareErrors
		if kind == trancheapi.CompareLatency {
			query = compareLatency
		}
		var err error
		w.into.Query, err = analysis.Render(query, wv)
		require.NoError(t, err)
		if kind == trancheapi.CompareErrorRate {
			w.into.Total, err = analysis.Render(compareRequests, wv)
			require.NoError(t, err)
			// The counts are also read in parts of a second, one scrape each.
			pv := vars.ForWorkload(ro, w.canary, run.Part)
			w.into.PartQuery, err = analysis.Render(compareErrors, pv)
			require.NoError(t, err)
			w.into.PartTotal, err = analysis.Render(compareRequests, pv)
			require.NoError(t, err)
		}
	}
	return run
}

// Through the real Prometheus: 20 seeded good canaries are never failed, however often they
// are looked at, and canaries with twice the errors, or twice as slow, are failed for good
// within seconds of traffic. The error counts are read in parts too, with range queries.
func TestCompareThroughPrometheus(t *testing.T) {
	_, prom := realPrometheus(t)
	q := newPrometheus(t, analysis.PrometheusConfig{Address: prom.URL()})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	type run struct {
		ns       string
		errRatio float64
		latency  float64
		kind     trancheapi.CompareKind
	}
	var runs []run
	for seed := range 20 {
		runs = append(runs, run{fmt.Sprintf("good-%d", seed), 1, 1, trancheapi.CompareErrorRate})
	}
	runs = append(runs, run{"twice-the-errors", 2, 1, trancheapi.CompareErrorRate},
		run{"good-latency", 1, 1, trancheapi.CompareLatency}, run{"twice-as-slow", 1, 2, trancheapi.CompareLatency})
	for i, r := range runs {
		// The series exist before the step starts, as a primary's do.
		stack.exporter.Serve(r.ns, "app-canary", 0, http.StatusOK, 0)
		stack.exporter.Serve(r.ns, "app-primary", 0, http.StatusOK, 0)
		go seededTraffic(ctx, r.ns, uint64(i), r.errRatio, r.latency)
	}
	require.NoError(t, prom.WaitForSeries(ctx, `count(tranche_test_requests_total{service="app-primary"} > 0) >= `+fmt.Sprint(len(runs))))
	start := time.Now()

	var mu sync.Mutex
	failedAt := map[string]int{}
	for look := 1; look <= 10; look++ {
		time.Sleep(time.Until(start.Add(time.Duration(look) * time.Second)))
		window := time.Since(start).Round(time.Second)
		var wg sync.WaitGroup
		for _, r := range runs {
			wg.Go(func() {
				c := analysis.Compare(ctx, q, compareRunFor(t, r.ns, r.kind, window, look), time.Now())
				assert.NoError(t, c.Err, r.ns)
				if c.Verdict == trancheapi.VerdictFail {
					mu.Lock()
					if _, seen := failedAt[r.ns]; !seen {
						failedAt[r.ns] = look
						t.Logf("%s failed at look %d: %s", r.ns, look, c.Message)
					}
					mu.Unlock()
					assert.True(t, c.Final, "%s: a Compare failure is final: %s", r.ns, c.Message)
				}
			})
		}
		wg.Wait()
	}
	for _, r := range runs {
		_, failed := failedAt[r.ns]
		bad := r.errRatio > 1 || r.latency > 1
		assert.Equal(t, bad, failed, "%s: failed at look %d", r.ns, failedAt[r.ns])
	}
}

// Through the real Prometheus: the primary's past is read in parts with range queries over
// the four hours before the step, most of them before Prometheus had any sample (left out),
// and tells a primary whose errors came in bursts from one whose errors were independent.
func TestThePrimarysPastThroughPrometheus(t *testing.T) {
	_, prom := realPrometheus(t)
	q := newPrometheus(t, analysis.PrometheusConfig{Address: prom.URL()})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// 200 requests a second at 2% errors; the bursty primary fails half of them for one
	// second in every five.
	serve := func(ns string, bursts bool) {
		rng := rand.New(rand.NewPCG(7, 7))
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			rate := 0.02
			if bursts && i%50 < 10 {
				rate = 0.5
			}
			failed := int(poissonDraw(rng, 20*rate))
			stack.exporter.Serve(ns, "app-primary", 20-failed, http.StatusOK, 0)
			stack.exporter.Serve(ns, "app-primary", failed, http.StatusInternalServerError, 0)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}
	go serve("past-steady", false)
	go serve("past-bursty", true)
	require.NoError(t, prom.WaitForSeries(ctx, `count(tranche_test_requests_total{service="app-primary", namespace=~"past-.*"} > 0) >= 2`))
	time.Sleep(20 * time.Second)

	// The step began two seconds ago: what came before it is the past.
	steady := analysis.PrimaryPast(ctx, q, compareRunFor(t, "past-steady", trancheapi.CompareErrorRate, 2*time.Second, 2), time.Now())
	bursty := analysis.PrimaryPast(ctx, q, compareRunFor(t, "past-bursty", trancheapi.CompareErrorRate, 2*time.Second, 2), time.Now())
	t.Logf("steady: %+v; bursty: %+v", steady, bursty)
	assert.InDelta(t, 200, steady.Requests, 30, "the mean requests of a part of a second, over the parts with samples")
	assert.InDelta(t, 200, bursty.Requests, 30)
	assert.Less(t, steady.Dispersion, 3.0, "independent errors")
	assert.Greater(t, bursty.Dispersion, 10.0, "bursts of 50% errors a second in five")
}
