package main

import (
	"math"
	"math/rand/v2"

	"github.com/tranche-dev/tranche/analysis/sequential"
)

// A scenario is one kind of canary under one kind of traffic; its truth is known.
type scenario struct {
	weight   float64 // the canary's share of requests
	rps      float64 // requests a second, both versions
	baseRate float64 // the primary's error rate
	errRatio float64 // the canary's error rate over the primary's, over all its requests
	latency  float64 // the canary's latency over the primary's
	shape    shape   // how the traffic differs from steady; nil: steady
}

// cell is the scenario's traffic, whatever the canary's truth.
func (s scenario) cell() scenario {
	s.errRatio, s.latency = 1, 1
	return s
}

func (s scenario) good() bool { return s.errRatio == 1 && s.latency == 1 }

// interval is what one analysis interval of one minute shows of both versions: its counts,
// also in parts of 15 s (as Tranche asks Prometheus for them), and latency histograms.
type interval struct {
	counts                        sequential.Counts
	parts                         [partsPerInterval]sequential.Counts
	canaryLatency, primaryLatency sequential.Histogram
}

// partsPerInterval is how many parts of a minute Tranche's judge reads the counts in.
const partsPerInterval = 4

// Prometheus's default histogram buckets, in seconds.
var buckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, math.Inf(1)}

// The primary's latency: log-normal with a median of 50 ms and a log-sd of 0.5.
const (
	medianLatency = 0.05
	latencySpread = 0.5
)

// trace draws the intervals of one run. Requests, errors and the latency buckets' counts are
// Poisson: the number of requests in a minute, and how they fall, vary as real traffic does.
// A shape changes the traffic interval by interval.
func trace(s scenario, intervals int, rng *rand.Rand) []interval {
	return draw(s, intervals, rng, true)
}

// draw is trace, with the latency histograms left empty unless latency: the bound reads only
// the counts, and drawing the buckets is most of the work.
func draw(s scenario, intervals int, rng *rand.Rand, latency bool) []interval {
	out, _ := drawRun(s, intervals, rng, latency, 0)
	return out
}

// traceAndPast is trace, and then the primary's past before the step (past.go): the same
// traces as trace's, from the same seed, with the past drawn after them.
func traceAndPast(s scenario, intervals int, rng *rand.Rand) ([]interval, []sequential.Tally) {
	return drawRun(s, intervals, rng, true, pastIntervals)
}

// drawRun draws a trace of intervals, and then pastIntervals of the primary's past in the
// same shape, with the settings of the trace's family.
func drawRun(s scenario, intervals int, rng *rand.Rand, latency bool, pastIntervals int) ([]interval, []sequential.Tally) {
	out := make([]interval, intervals)
	sh := s.shape
	if f, ok := sh.(family); ok {
		sh = f.pick(rng)
	}
	var extra partErrors
	if ps, ok := sh.(partShape); ok {
		extra = ps.begin()
	}
	for i := range out {
		t := traffic{volume: 1, weight: s.weight, baseRate: s.baseRate, errRatio: s.errRatio, cluster: 1}
		if ts, ok := sh.(trafficShape); ok {
			ts.apply(&t, i, intervals, rng)
		}
		perPart := s.rps * 60 * t.volume / partsPerInterval
		c := &out[i].counts
		for p := range out[i].parts {
			nc := poisson(rng, perPart*t.weight)
			np := poisson(rng, perPart*(1-t.weight))
			part := sequential.Counts{
				CanaryRequests: nc, CanaryErrors: t.errors(rng, nc*math.Min(1, t.baseRate*t.errRatio)),
				PrimaryRequests: np, PrimaryErrors: t.errors(rng, np*t.baseRate),
			}
			if extra != nil {
				extra.add(&part, t, rng)
			}
			out[i].parts[p] = part
			*c = c.Plus(part)
		}
		if latency {
			out[i].canaryLatency = latencies(rng, c.CanaryRequests, medianLatency*s.latency)
			out[i].primaryLatency = latencies(rng, c.PrimaryRequests, medianLatency)
		}
	}
	if pastIntervals == 0 {
		return out, nil
	}
	return out, past(s, sh, pastIntervals, rng)
}

// traffic is what one interval of a trace is drawn from.
type traffic struct {
	volume   float64 // times the scenario's requests a second
	weight   float64 // the canary's share of the requests
	baseRate float64 // the primary's error rate
	errRatio float64 // the canary's error rate over the primary's
	cluster  float64 // mean number of errors an error event makes (1: independent errors)
	tail     float64 // when above 0, the index of a heavy tail of errors an event makes
}

// errors draws the errors of requests expected to make mean errors: in events of the
// traffic's cluster size, or of its heavy tail.
func (t traffic) errors(rng *rand.Rand, mean float64) float64 {
	if t.tail > 0 {
		return heavyClustered(rng, mean, t.tail)
	}
	return clustered(rng, mean, t.cluster)
}

// clustered draws the errors of events that each fail cluster requests on average (a
// geometric number): Poisson errors when cluster is 1.
func clustered(rng *rand.Rand, mean, cluster float64) float64 {
	if cluster <= 1 {
		return poisson(rng, mean)
	}
	events, errors := poisson(rng, mean/cluster), 0.0
	for range int(events) {
		errors += 1 + math.Floor(math.Log(rng.Float64())/math.Log(1-1/cluster))
	}
	return errors
}

// latencies puts n requests into the buckets, each count Poisson around its expectation.
func latencies(rng *rand.Rand, n, median float64) sequential.Histogram {
	h := sequential.Histogram{Upper: buckets, Count: make([]float64, len(buckets))}
	below := 0.0
	for i, upper := range buckets {
		cdf := 1.0
		if !math.IsInf(upper, 1) {
			cdf = 0.5 * math.Erfc(-math.Log(upper/median)/(latencySpread*math.Sqrt2))
		}
		h.Count[i] = poisson(rng, n*(cdf-below))
		below = cdf
	}
	return h
}

// poisson draws a Poisson variate: by multiplication for small means, else from the normal
// approximation (rounded, never negative).
func poisson(rng *rand.Rand, mean float64) float64 {
	switch {
	case mean <= 0:
		return 0
	case mean > 60:
		return math.Max(0, math.Round(mean+math.Sqrt(mean)*rng.NormFloat64()))
	}
	limit, k, p := math.Exp(-mean), 0.0, 1.0
	for {
		p *= rng.Float64()
		if p <= limit {
			return k
		}
		k++
	}
}
