package main

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"k8s.io/client-go/rest"

	"github.com/tranche-dev/tranche/test/harness"
)

// scrapeAPIServer reads the API server's own /metrics.
func scrapeAPIServer(ctx context.Context, cp *harness.ControlPlane) (metrics, error) {
	httpClient, err := rest.HTTPClientFor(cp.Config)
	if err != nil {
		return nil, err
	}
	return fetchMetrics(ctx, httpClient, strings.TrimSuffix(cp.Config.Host, "/")+"/metrics")
}

// busy is who did the work of a stretch of the bench, from the manager's metrics and the
// API server's, each scraped at its start and end.
type busy struct {
	apiServerCPU, managerCPU float64 // CPU seconds
	// workersBusy is the share of the manager's worker time spent in a reconcile, waiting
	// for the API server's answers included: the manager's CPU beside the API server's says
	// which of the two did the work.
	workersBusy float64
	// byRequest is the API server's time serving each kind of request (verb and resource),
	// as a share of all its request time, the largest first.
	byRequest []share
}

type share struct {
	request  string
	fraction float64
}

func busyBetween(apiBefore, apiAfter, managerBefore, managerAfter metrics, seconds float64, workers int) busy {
	b := busy{
		apiServerCPU: apiAfter.gauge("process_cpu_seconds_total") - apiBefore.gauge("process_cpu_seconds_total"),
		managerCPU:   managerAfter.gauge("process_cpu_seconds_total") - managerBefore.gauge("process_cpu_seconds_total"),
	}
	reconciling := managerAfter.histogramSum("controller_runtime_reconcile_time_seconds") - managerBefore.histogramSum("controller_runtime_reconcile_time_seconds")
	b.workersBusy = reconciling / (seconds * float64(workers))
	before, after := apiBefore.requestTime(), apiAfter.requestTime()
	var total float64
	for request, t := range after {
		total += t - before[request]
	}
	for request, t := range after {
		if d := t - before[request]; d > 0 && total > 0 {
			b.byRequest = append(b.byRequest, share{request, d / total})
		}
	}
	slices.SortFunc(b.byRequest, func(x, y share) int { return cmp.Compare(y.fraction, x.fraction) })
	return b
}

// requestTime is the API server's time serving requests, by verb and resource, long-running
// requests (watches) aside.
func (m metrics) requestTime() map[string]float64 {
	times := map[string]float64{}
	f, ok := m["apiserver_request_duration_seconds"]
	if !ok {
		return times
	}
	for _, s := range f.Metric {
		labels := map[string]string{}
		for _, l := range s.Label {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["verb"] == "WATCH" || labels["verb"] == "CONNECT" {
			continue
		}
		request := labels["verb"] + " " + labels["resource"]
		if labels["subresource"] != "" {
			request += "/" + labels["subresource"]
		}
		times[request] += s.GetHistogram().GetSampleSum()
	}
	return times
}

func (b busy) String() string {
	var top []string
	for _, s := range b.byRequest[:min(5, len(b.byRequest))] {
		top = append(top, fmt.Sprintf("%s %.0f%%", s.request, 100*s.fraction))
	}
	return fmt.Sprintf("API server CPU %.0f s, manager CPU %.0f s, manager's workers in a reconcile %.0f%% of the time (waiting on the API server included); the API server's request time: %s",
		b.apiServerCPU, b.managerCPU, 100*b.workersBusy, strings.Join(top, ", "))
}
