package stack

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// Sample is what one look at the stack saw: the Rollout's status, the data plane's request
// counters of the Rollout's route and what the clients saw, all as totals so far.
type Sample struct {
	At      time.Time
	Phase   trancheapi.Phase
	Weight  int32 // the canary weight Tranche set
	Step    int32
	Steps   int
	Message string
	Canary  string // the canary revision
	// Checks are the analysis's latest checks, as the Rollout's status listed them.
	Checks  []trancheapi.CheckResult
	Plane   PlaneCounts
	Clients LoadCounts
	// SecondClients are the counts of the Recorder's SecondLoad.
	SecondClients LoadCounts
}

// PlaneCounts are the requests Traefik counted for the Rollout's route, by backend.
type PlaneCounts struct {
	Primary, Canary, CanaryFailed float64
	Seen                          bool // false when the metrics could not be read
}

// Window is what happened between two samples.
type Window struct {
	From, To   Sample
	Primary    float64
	Canary     float64
	CanaryFail float64
	Clients    LoadCounts
	// SecondClients are what the second load's clients saw.
	SecondClients LoadCounts
}

// Between is the window from a to b.
func Between(a, b Sample) Window {
	return Window{
		From: a, To: b,
		Primary:       increase(a.Plane.Primary, b.Plane.Primary),
		Canary:        increase(a.Plane.Canary, b.Plane.Canary),
		CanaryFail:    increase(a.Plane.CanaryFailed, b.Plane.CanaryFailed),
		Clients:       b.Clients.Minus(a.Clients),
		SecondClients: b.SecondClients.Minus(a.SecondClients),
	}
}

// increase is how much a counter grew from a to b; a counter that went down was reset (the
// data plane restarted) and counted b since.
func increase(a, b float64) float64 {
	if b < a {
		return b
	}
	return b - a
}

// CanaryShare is the percent of the route's requests the canary got, or -1 without any.
func (w Window) CanaryShare() float64 {
	if w.Primary+w.Canary == 0 {
		return -1
	}
	return 100 * w.Canary / (w.Primary + w.Canary)
}

// CanaryErrorRate is the percent of the canary's requests that failed, or -1 without any.
func (w Window) CanaryErrorRate() float64 {
	if w.Canary == 0 {
		return -1
	}
	return 100 * w.CanaryFail / w.Canary
}

// CanaryTraffic lists the windows between samples in which the data plane sent the canary
// requests, each with the Rollout's phase, weight and message at its start and end, to tell
// when in the rollout they came.
func CanaryTraffic(samples []Sample) string {
	var b strings.Builder
	for i := 1; i < len(samples); i++ {
		w := Between(samples[i-1], samples[i])
		if w.Canary == 0 {
			continue
		}
		fmt.Fprintf(&b, "%s-%s: %.0f to the canary, %.0f to the primary (from %s, weight %d, %q; to %s, weight %d, %q)\n",
			w.From.At.Format("15:04:05.000"), w.To.At.Format("15:04:05.000"), w.Canary, w.Primary,
			w.From.Phase, w.From.Weight, w.From.Message, w.To.Phase, w.To.Weight, w.To.Message)
	}
	return b.String()
}

// FailuresDuring lists the failed requests of the samples' time, each with the Rollout's
// phase and weight as last sampled before it, to tell when in the rollout they came.
func FailuresDuring(load *Load, samples []Sample) string {
	if len(samples) == 0 {
		return ""
	}
	var b strings.Builder
	for _, f := range load.Failures(samples[0].At, samples[len(samples)-1].At) {
		at := samples[0]
		for _, s := range samples {
			if s.At.After(f.At) {
				break
			}
			at = s
		}
		fmt.Fprintf(&b, "%s (%s, weight %d, sampled %s before)\n", f, at.Phase, at.Weight, f.At.Sub(at.At).Round(time.Millisecond))
	}
	return b.String()
}

// Recorder samples a Rollout, its route at the data plane and its load every Period.
type Recorder struct {
	Client     client.Client
	Namespace  string
	Rollout    string
	Target     string
	MetricsURL string
	Load       *Load
	// SecondLoad, when set, is sampled too: the clients of a Rollout's second port.
	SecondLoad *Load
	Period     time.Duration

	mu      sync.Mutex
	samples []Sample
}

// Run samples until ctx is done; each sample is also sent to onSample, when set, from Run's
// goroutine.
func (r *Recorder) Run(ctx context.Context, onSample func(Sample)) {
	tick := time.NewTicker(r.Period)
	defer tick.Stop()
	for {
		// A look the data plane did not answer (it may be restarting) would read as counters
		// reset to zero: it is left out, and the next window spans the gap. Without a
		// MetricsURL only the Rollout and the clients are sampled.
		if s := r.sample(ctx); ctx.Err() == nil && (s.Plane.Seen || r.MetricsURL == "") {
			r.mu.Lock()
			r.samples = append(r.samples, s)
			r.mu.Unlock()
			if onSample != nil {
				onSample(s)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Samples returns a copy of the samples so far.
func (r *Recorder) Samples() []Sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Sample(nil), r.samples...)
}

// Last returns the latest sample, and false before the first.
func (r *Recorder) Last() (Sample, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.samples) == 0 {
		return Sample{}, false
	}
	return r.samples[len(r.samples)-1], true
}

func (r *Recorder) sample(ctx context.Context) Sample {
	s := Sample{At: time.Now()}
	ro := &trancheapi.Rollout{}
	if r.Client.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: r.Rollout}, ro) == nil {
		s.Phase, s.Weight, s.Step = ro.Status.Phase, ro.Status.CanaryWeight, ro.Status.CurrentStep
		s.Steps, s.Message, s.Canary = len(ro.Spec.Steps), ro.Status.Message, ro.Status.CanaryRevision
		s.Checks = ro.Status.LastChecks
	}
	if r.MetricsURL != "" {
		s.Plane = ReadPlaneCounts(ctx, r.MetricsURL, r.Namespace, r.Rollout, r.Target)
	}
	if r.SecondLoad != nil {
		s.SecondClients = r.SecondLoad.Counts()
	}
	if r.Load != nil {
		s.Clients = r.Load.Counts()
	}
	return s
}

// ReadPlaneCounts reads Traefik's request counters of the Rollout's route. Traefik names a
// backendRef's service httproute-<ns>-<route>-gw-…-svc-<ns>-<service>-<index>@kubernetesgateway,
// or grpcroute-… for a GRPCRoute's.
func ReadPlaneCounts(ctx context.Context, metricsURL, ns, route, target string) PlaneCounts {
	routeInfix := "route-" + ns + "-" + route + "-gw-"
	primary, canary := "-svc-"+ns+"-"+target+"-primary-", "-svc-"+ns+"-"+target+"-canary-"
	return readCounts(ctx, metricsURL, func(line string) backend {
		switch {
		case !strings.Contains(line, `service="http`+routeInfix) && !strings.Contains(line, `service="grpc`+routeInfix):
			return neither
		case strings.Contains(line, primary):
			return primaryBackend
		case strings.Contains(line, canary):
			return canaryBackend
		}
		return neither
	})
}

// ReadServiceCounts reads Traefik's request counters of the primary's and the canary's
// Services as a TraefikService's backends, which Traefik names <ns>-<service>-<port>@kubernetescrd:
// those of every request sent to them, mirrored ones included.
func ReadServiceCounts(ctx context.Context, metricsURL, ns, target string, port int) PlaneCounts {
	series := func(service string) string {
		return fmt.Sprintf(`service="%s-%s-%d@kubernetescrd"`, ns, service, port)
	}
	primary, canary := series(target+"-primary"), series(target+"-canary")
	return readCounts(ctx, metricsURL, func(line string) backend {
		switch {
		case strings.Contains(line, primary):
			return primaryBackend
		case strings.Contains(line, canary):
			return canaryBackend
		}
		return neither
	})
}

// serverFailure reports whether a line of Traefik's counters counts requests the server
// failed: a 5xx, or for a gRPC call (whose code Traefik sets to its gRPC status)
// DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE or DATA_LOSS (Traefik counts every
// call that answered as UNKNOWN: see the gatewayapi provider's built-in queries).
func serverFailure(line string) bool {
	if strings.Contains(line, `protocol="grpc"`) {
		for _, code := range []string{"4", "12", "13", "14", "15"} {
			if strings.Contains(line, `code="`+code+`"`) {
				return true
			}
		}
		return false
	}
	return strings.Contains(line, `code="5`)
}

// backend is which of the Rollout's workloads a line of Traefik's metrics counts for.
type backend int

const (
	neither backend = iota
	primaryBackend
	canaryBackend
)

// readCounts sums Traefik's traefik_service_requests_total by the backend backendOf says
// each line counts for.
func readCounts(ctx context.Context, metricsURL string, backendOf func(line string) backend) PlaneCounts {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
	if err != nil {
		return PlaneCounts{}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return PlaneCounts{}
	}
	defer resp.Body.Close()
	counts := PlaneCounts{Seen: resp.StatusCode == http.StatusOK}
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(make([]byte, 64*1024), 1024*1024)
	for lines.Scan() {
		line := lines.Text()
		if !strings.HasPrefix(line, "traefik_service_requests_total{") {
			continue
		}
		of := backendOf(line)
		if of == neither {
			continue
		}
		value, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			continue
		}
		switch of {
		case primaryBackend:
			counts.Primary += value
		case canaryBackend:
			counts.Canary += value
			if serverFailure(line) {
				counts.CanaryFailed += value
			}
		}
	}
	return counts
}
