package sequential

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// Histogram is a latency histogram as Prometheus keeps one, made non-cumulative: Count[i]
// observations at most Upper[i] and above Upper[i-1]. The last bound may be +Inf.
type Histogram struct {
	Upper []float64
	Count []float64
}

// Total is the number of observations.
func (h Histogram) Total() float64 {
	var n float64
	for _, c := range h.Count {
		n += c
	}
	return n
}

// Quantile is the q-quantile as Prometheus's histogram_quantile reads it: linear within the
// bucket (from 0 for the first), and the last finite bound when it falls in the +Inf bucket.
// NaN for an empty histogram.
func (h Histogram) Quantile(q float64) float64 {
	total := h.Total()
	if total == 0 {
		return math.NaN()
	}
	rank, below, lower := q*total, 0.0, 0.0
	for i, c := range h.Count {
		if c > 0 && below+c >= rank {
			if math.IsInf(h.Upper[i], 1) {
				return lower
			}
			return lower + (h.Upper[i]-lower)*(rank-below)/c
		}
		below += c
		lower = h.Upper[i]
	}
	return lower
}

// FromCumulative turns Prometheus's cumulative bucket counts (le bounds ascending) into a
// Histogram. Counts that go down (a reset between the two scrapes) count as zero.
func FromCumulative(upper, cumulative []float64) (Histogram, error) {
	if len(upper) != len(cumulative) {
		return Histogram{}, fmt.Errorf("%d bounds and %d counts", len(upper), len(cumulative))
	}
	h := Histogram{Upper: append([]float64(nil), upper...), Count: make([]float64, len(upper))}
	prev := 0.0
	for i, c := range cumulative {
		if i > 0 && !(upper[i] > upper[i-1]) {
			return Histogram{}, fmt.Errorf("bucket bounds are not ascending at %g", upper[i])
		}
		h.Count[i] = math.Max(0, c-prev)
		prev = math.Max(prev, c)
	}
	return h, nil
}

// RankTest asks whether the canary is slower than the primary: a one-sided Mann-Whitney test
// of the canary's latencies against the primary's, on the two histograms (observations in one
// bucket tie, which makes the test conservative within a bucket). A slower canary fails only
// when its median is also more than Tolerated times the primary's (1.1 for 10%), both read
// from the histograms as Prometheus's histogram_quantile does: the rank test says whether the
// difference is real, the medians whether it is large enough to matter.
//
// A rank test looked at again after every run would fail good canaries more often than
// Alpha; the test spends Alpha over the looks instead: look k (1, 2, ...) of a step fails only
// below Alpha * 6/(pi^2 k^2), which sums to Alpha over all looks (a union bound).
type RankTest struct {
	Tolerated   float64
	Alpha       float64
	MinRequests float64 // canary observations before any verdict
}

// RankResult is the state of the evidence after a look.
type RankResult struct {
	Outcome Outcome
	// Z is the standardised rank statistic: positive when the canary is slower.
	Z float64
	// P is the one-sided p-value of the canary being slower than tolerated.
	P float64
	// Level is the p-value this look needed to fail.
	Level float64
	// MedianRatio is the canary's median latency over the primary's.
	MedianRatio float64
}

// Judge weighs the histograms gathered since the split last changed, at look k.
func (t RankTest) Judge(canary, primary Histogram, look int) RankResult {
	z := MannWhitneyZ(canary, primary)
	res := RankResult{
		Z: z, P: 1 - normalCDF(z), Level: SpentAlpha(t.Alpha, look),
		MedianRatio: canary.Quantile(0.5) / primary.Quantile(0.5),
	}
	switch {
	case canary.Total() < t.MinRequests || primary.Total() <= 0 || math.IsNaN(z):
		res.Outcome = Undecided
	case res.P <= res.Level && res.MedianRatio > t.Tolerated:
		res.Outcome = Worse
	}
	return res
}

// SpentAlpha is the level look k may use so that all looks together stay within alpha.
func SpentAlpha(alpha float64, look int) float64 {
	k := float64(max(look, 1))
	return alpha * 6 / (math.Pi * math.Pi * k * k)
}

// MannWhitneyZ is the standardised Mann-Whitney U of the canary's observations against the
// primary's: U counts the pairs where the canary is slower, ties as half. The variance is
// corrected for ties. It is NaN when either side is empty or all tie.
func MannWhitneyZ(canary, primary Histogram) float64 {
	type point struct{ value, canary, primary float64 }
	var points []point
	for i, c := range canary.Count {
		if c > 0 {
			points = append(points, point{value: canary.Upper[i], canary: c})
		}
	}
	for i, c := range primary.Count {
		if c > 0 {
			points = append(points, point{value: primary.Upper[i], primary: c})
		}
	}
	// Merge equal values (ties), in ascending order.
	slices.SortFunc(points, func(a, b point) int { return cmp.Compare(a.value, b.value) })
	var merged []point
	for _, p := range points {
		if n := len(merged); n > 0 && merged[n-1].value == p.value {
			merged[n-1].canary += p.canary
			merged[n-1].primary += p.primary
			continue
		}
		merged = append(merged, p)
	}
	n1, n2 := canary.Total(), primary.Total()
	n := n1 + n2
	if n1 <= 0 || n2 <= 0 || n < 2 {
		return math.NaN()
	}
	var u, primaryBelow, tieTerm float64
	for _, p := range merged {
		u += p.canary * (primaryBelow + p.primary/2)
		primaryBelow += p.primary
		t := p.canary + p.primary
		tieTerm += t*t*t - t
	}
	mean := n1 * n2 / 2
	variance := n1 * n2 / 12 * ((n + 1) - tieTerm/(n*(n-1)))
	if variance <= 0 {
		return math.NaN()
	}
	return (u - mean) / math.Sqrt(variance)
}

func normalCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }
