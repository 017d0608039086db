package sequential

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// histogramOf puts each observation in a bucket of its own value.
func histogramOf(values ...float64) Histogram {
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	var h Histogram
	for _, v := range sorted {
		if n := len(h.Upper); n > 0 && h.Upper[n-1] == v {
			h.Count[n-1]++
			continue
		}
		h.Upper = append(h.Upper, v)
		h.Count = append(h.Count, 1)
	}
	return h
}

// The textbook example (as in SciPy's documentation): x = 19 22 16 29 24, y = 20 11 17 12
// gives U = 17 for x; without ties the variance is n1 n2 (n+1) / 12 = 50/3.
func TestMannWhitneyKnownExample(t *testing.T) {
	x := histogramOf(19, 22, 16, 29, 24)
	y := histogramOf(20, 11, 17, 12)
	assert.InDelta(t, (17-10)/math.Sqrt(50.0/3), MannWhitneyZ(x, y), 1e-12)
	assert.InDelta(t, -(17-10)/math.Sqrt(50.0/3), MannWhitneyZ(y, x), 1e-12, "the other way round")
}

// With ties, the variance the formula corrects for is the variance of U over every way of
// splitting the pooled observations in two groups of the same sizes (the permutation
// distribution), computed here by enumerating them.
func TestMannWhitneyTieCorrectedVarianceIsExact(t *testing.T) {
	canary := []float64{1, 2, 2, 3}
	primary := []float64{2, 3, 3, 4, 1}
	pooled := append(slices.Clone(canary), primary...)
	n, n1 := len(pooled), len(canary)
	u := func(a, b []float64) float64 {
		var s float64
		for _, x := range a {
			for _, y := range b {
				switch {
				case x > y:
					s++
				case x == y:
					s += 0.5
				}
			}
		}
		return s
	}
	var sum, sumSq, count float64
	for mask := 0; mask < 1<<n; mask++ {
		if popcount(mask) != n1 {
			continue
		}
		var a, b []float64
		for i, v := range pooled {
			if mask&(1<<i) != 0 {
				a = append(a, v)
			} else {
				b = append(b, v)
			}
		}
		s := u(a, b)
		sum, sumSq, count = sum+s, sumSq+s*s, count+1
	}
	mean, variance := sum/count, sumSq/count-(sum/count)*(sum/count)
	want := (u(canary, primary) - mean) / math.Sqrt(variance)
	assert.InDelta(t, want, MannWhitneyZ(histogramOf(canary...), histogramOf(primary...)), 1e-9)
}

func popcount(x int) int {
	n := 0
	for ; x > 0; x &= x - 1 {
		n++
	}
	return n
}

// Quantile reads a histogram as histogram_quantile does: 30 observations, 10 up to 0.1 and 15
// more up to 0.5: the median (rank 15) is a third of the way through the second bucket.
func TestQuantile(t *testing.T) {
	h, err := FromCumulative([]float64{0.1, 0.5, math.Inf(1)}, []float64{10, 25, 30})
	require.NoError(t, err)
	assert.InDelta(t, 0.1+0.4*5/15, h.Quantile(0.5), 1e-12)
	assert.InDelta(t, 0.05, h.Quantile(1.0/6), 1e-12)
	assert.Equal(t, 0.5, h.Quantile(0.99), "in the +Inf bucket: the last finite bound")
	assert.True(t, math.IsNaN(Histogram{Upper: []float64{1}, Count: []float64{0}}.Quantile(0.5)))
}

func TestFromCumulative(t *testing.T) {
	h, err := FromCumulative([]float64{0.1, 0.5, math.Inf(1)}, []float64{10, 25, 30})
	require.NoError(t, err)
	assert.Equal(t, []float64{10, 15, 5}, h.Count)
	_, err = FromCumulative([]float64{0.5, 0.1}, []float64{1, 2})
	assert.Error(t, err)
}

var buckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, math.Inf(1)}

// lognormalHistogram draws n latencies (median median, log-sd 0.5) into Prometheus's
// default buckets.
func lognormalHistogram(rng *rand.Rand, n int, median float64) Histogram {
	h := Histogram{Upper: buckets, Count: make([]float64, len(buckets))}
	for range n {
		v := median * math.Exp(0.5*rng.NormFloat64())
		i, _ := slices.BinarySearch(buckets, v)
		h.Count[i]++
	}
	return h
}

func TestRankTestVerdicts(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	test := RankTest{Tolerated: 1, Alpha: 0.01, MinRequests: 100}
	slow := test.Judge(lognormalHistogram(rng, 2000, 0.1), lognormalHistogram(rng, 2000, 0.05), 1)
	assert.Equal(t, Worse, slow.Outcome, "twice as slow: z=%g", slow.Z)
	same := test.Judge(lognormalHistogram(rng, 2000, 0.05), lognormalHistogram(rng, 2000, 0.05), 1)
	assert.Equal(t, Undecided, same.Outcome, "as fast: z=%g", same.Z)
	few := test.Judge(lognormalHistogram(rng, 50, 0.5), lognormalHistogram(rng, 2000, 0.05), 1)
	assert.Equal(t, Undecided, few.Outcome, "too few canary requests")
	tolerant := RankTest{Tolerated: 3, Alpha: 0.01}
	assert.NotEqual(t, Worse, tolerant.Judge(lognormalHistogram(rng, 2000, 0.1), lognormalHistogram(rng, 2000, 0.05), 1).Outcome,
		"twice as slow is within a tolerated factor of 3")
	assert.InDelta(t, 2, slow.MedianRatio, 0.3)
}

// Spending alpha over the looks keeps the false failures of a step within alpha.
func TestRankTestFalseFailuresStayWithinAlpha(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	test := RankTest{Tolerated: 1, Alpha: 0.05}
	const runs, looks = 1000, 10
	failed := 0
	for range runs {
		canary := Histogram{Upper: buckets, Count: make([]float64, len(buckets))}
		primary := Histogram{Upper: buckets, Count: make([]float64, len(buckets))}
		for look := 1; look <= looks; look++ {
			add(&canary, lognormalHistogram(rng, 30, 0.05))
			add(&primary, lognormalHistogram(rng, 300, 0.05))
			if test.Judge(canary, primary, look).Outcome == Worse {
				failed++
				break
			}
		}
	}
	assert.Less(t, float64(failed)/runs, 0.05)
	var total float64
	for k := 1; k <= 100000; k++ {
		total += SpentAlpha(0.05, k)
	}
	assert.InDelta(t, 0.05, total, 1e-5, "the levels of all looks add up to alpha")
}

func add(h *Histogram, more Histogram) {
	for i := range h.Count {
		h.Count[i] += more.Count[i]
	}
}

// More of the same observations never weakens the evidence, and swapping the two sides
// negates it.
func TestRankTestProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for range 500 {
		a := lognormalHistogram(rng, 20+rng.IntN(500), 0.03+rng.Float64()*0.1)
		b := lognormalHistogram(rng, 20+rng.IntN(500), 0.03+rng.Float64()*0.1)
		z := MannWhitneyZ(a, b)
		if math.IsNaN(z) {
			continue
		}
		assert.InDelta(t, -z, MannWhitneyZ(b, a), 1e-9, "symmetry")
		k := float64(2 + rng.IntN(5))
		more := func(h Histogram) Histogram {
			out := Histogram{Upper: h.Upper, Count: make([]float64, len(h.Count))}
			for i, c := range h.Count {
				out.Count[i] = k * c
			}
			return out
		}
		assert.GreaterOrEqual(t, math.Abs(MannWhitneyZ(more(a), more(b)))+1e-9, math.Abs(z), "more evidence")
	}
}
