package main

import (
	"math"
	"slices"

	dto "github.com/prometheus/client_model/go"
)

// metrics is one scrape of the manager's /metrics, by family name.
type metrics map[string]*dto.MetricFamily

// gauge is the first sample of a gauge or counter family (0 when missing).
func (m metrics) gauge(name string) float64 {
	f, ok := m[name]
	if !ok || len(f.Metric) == 0 {
		return 0
	}
	if g := f.Metric[0].GetGauge(); g != nil {
		return g.GetValue()
	}
	return f.Metric[0].GetCounter().GetValue()
}

// counter sums a counter family over its series.
func (m metrics) counter(name string) float64 {
	var total float64
	if f, ok := m[name]; ok {
		for _, s := range f.Metric {
			total += s.GetCounter().GetValue()
		}
	}
	return total
}

// histogramSum is the sum of a histogram family's observations over its series.
func (m metrics) histogramSum(name string) float64 {
	var total float64
	if f, ok := m[name]; ok {
		for _, s := range f.Metric {
			total += s.GetHistogram().GetSampleSum()
		}
	}
	return total
}

func isWrite(method string) bool {
	return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE"
}

func isRead(method string) bool { return method == "GET" }

// requests counts the manager's requests to the API server whose method passes keep.
func (m metrics) requests(keep func(method string) bool) float64 {
	var total float64
	if f, ok := m["rest_client_requests_total"]; ok {
		for _, s := range f.Metric {
			for _, l := range s.Label {
				if l.GetName() == "method" && keep(l.GetValue()) {
					total += s.GetCounter().GetValue()
				}
			}
		}
	}
	return total
}

// quantiles reads quantiles from a histogram family, its buckets summed over series, with
// linear interpolation within a bucket as histogram_quantile does.
func (m metrics) quantiles(name string, qs ...float64) (float64, float64) {
	f, ok := m[name]
	if !ok {
		return math.NaN(), math.NaN()
	}
	counts := map[float64]float64{}
	var total float64
	for _, s := range f.Metric {
		h := s.GetHistogram()
		total += float64(h.GetSampleCount())
		for _, b := range h.Bucket {
			counts[b.GetUpperBound()] += float64(b.GetCumulativeCount())
		}
	}
	var bounds []float64
	for b := range counts {
		bounds = append(bounds, b)
	}
	slices.Sort(bounds)
	out := make([]float64, len(qs))
	for i, q := range qs {
		out[i] = math.NaN()
		rank, lower, below := q*total, 0.0, 0.0
		for _, b := range bounds {
			if counts[b] >= rank {
				if c := counts[b] - below; c > 0 {
					out[i] = lower + (b-lower)*(rank-below)/c
				} else {
					out[i] = b
				}
				break
			}
			lower, below = b, counts[b]
		}
	}
	return out[0], out[1]
}
