package sequential

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// logBinomial is the log of the binomial probability of k in n at p, written out with
// log-gamma: a second implementation to hold LogLR to.
func logBinomial(k, n, p float64) float64 {
	lg := func(x float64) float64 { v, _ := math.Lgamma(x); return v }
	return lg(n+1) - lg(k+1) - lg(n-k+1) + k*math.Log(p) + (n-k)*math.Log(1-p)
}

func TestLogLRIsTheBinomialLikelihoodRatio(t *testing.T) {
	for _, c := range []Counts{
		{CanaryRequests: 500, CanaryErrors: 10, PrimaryRequests: 9500, PrimaryErrors: 95},
		{CanaryRequests: 5000, CanaryErrors: 100, PrimaryRequests: 5000, PrimaryErrors: 50},
		{CanaryRequests: 300, CanaryErrors: 0, PrimaryRequests: 5700, PrimaryErrors: 60},
		{CanaryRequests: 1000, CanaryErrors: 30, PrimaryRequests: 1000, PrimaryErrors: 0},
	} {
		e := c.CanaryErrors + c.PrimaryErrors
		theta := func(r float64) float64 { return r * c.CanaryRequests / (r*c.CanaryRequests + c.PrimaryRequests) }
		want := logBinomial(c.CanaryErrors, e, theta(2)) - logBinomial(c.CanaryErrors, e, theta(1.2))
		assert.InDelta(t, want, LogLR(c, 1.2, 2), 1e-9, "%+v", c)
	}
	assert.Zero(t, LogLR(Counts{CanaryRequests: 100, PrimaryRequests: 100}, 1.2, 2), "no error, no evidence")
	assert.Zero(t, LogLR(Counts{PrimaryRequests: 100, PrimaryErrors: 3}, 1.2, 2), "no canary request, no evidence")
}

// A worked example: at 50% weight with 60 canary errors against 30 primary ones, the
// canary's share is 2/3 against 6/11 under 1.2x, and each of the 90 errors is binomial.
func TestLogLRWorkedExample(t *testing.T) {
	c := Counts{CanaryRequests: 3000, CanaryErrors: 60, PrimaryRequests: 3000, PrimaryErrors: 30}
	want := 60*math.Log((2.0/3)/(6.0/11)) + 30*math.Log((1.0/3)/(5.0/11))
	assert.InDelta(t, want, LogLR(c, 1.2, 2), 1e-12)
	assert.InDelta(t, 2.7356, want, 1e-4) // 60*0.200671 - 30*0.310155
}

func TestRateTestVerdicts(t *testing.T) {
	test := RateTest{Tolerated: 1.2, Detect: 2, Alpha: 0.01, Beta: 0.01, MinRequests: 100}
	require.NoError(t, test.Validate())
	for _, tc := range []struct {
		name string
		c    Counts
		want Outcome
	}{
		{"too few canary requests", Counts{CanaryRequests: 50, CanaryErrors: 50, PrimaryRequests: 1000, PrimaryErrors: 1}, Undecided},
		{"three times the errors, plenty of them", Counts{CanaryRequests: 5000, CanaryErrors: 150, PrimaryRequests: 5000, PrimaryErrors: 50}, Worse},
		{"the same error rate, plenty of errors", Counts{CanaryRequests: 5000, CanaryErrors: 100, PrimaryRequests: 5000, PrimaryErrors: 100}, NotWorse},
		{"a little data", Counts{CanaryRequests: 500, CanaryErrors: 6, PrimaryRequests: 500, PrimaryErrors: 5}, Undecided},
	} {
		assert.Equal(t, tc.want, test.Judge(tc.c).Outcome, tc.name)
	}
	for _, bad := range []RateTest{
		{Tolerated: 0.9, Detect: 2, Alpha: 0.01, Beta: 0.01},
		{Tolerated: 2, Detect: 2, Alpha: 0.01, Beta: 0.01},
		{Tolerated: 1, Detect: 2, Alpha: 0, Beta: 0.01},
		{Tolerated: 1, Detect: 2, Alpha: 0.01, Beta: 1},
	} {
		assert.Error(t, bad.Validate(), "%+v", bad)
	}
}

// simulate runs the test after every interval on cumulative counts, as the controller does,
// and returns how many runs ended Worse and NotWorse.
func simulate(test RateTest, ratio float64, runs, intervals int, seed uint64) (worse, notWorse int) {
	rng := rand.New(rand.NewPCG(seed, 1))
	const canaryPerInterval, primaryPerInterval, baseRate = 300, 5700, 0.02
	for range runs {
		var c Counts
		for range intervals {
			c.CanaryRequests += canaryPerInterval
			c.PrimaryRequests += primaryPerInterval
			c.CanaryErrors += poisson(rng, canaryPerInterval*baseRate*ratio)
			c.PrimaryErrors += poisson(rng, primaryPerInterval*baseRate)
			if o := test.Judge(c).Outcome; o != Undecided {
				if o == Worse {
					worse++
				} else {
					notWorse++
				}
				break
			}
		}
	}
	return worse, notWorse
}

// poisson draws a Poisson variate (Knuth's method for small means, normal above).
func poisson(rng *rand.Rand, mean float64) float64 {
	if mean > 50 {
		return math.Max(0, math.Round(mean+math.Sqrt(mean)*rng.NormFloat64()))
	}
	l, k, p := math.Exp(-mean), 0.0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// Looking after every interval keeps the error probabilities the test promises.
func TestRateTestErrorProbabilities(t *testing.T) {
	test := RateTest{Tolerated: 1.2, Detect: 2, Alpha: 0.05, Beta: 0.05}
	const runs = 4000
	worse, _ := simulate(test, 1.2, runs, 60, 1)
	assert.Less(t, float64(worse)/runs, 0.05+0.01, "false rollbacks at the tolerated ratio")
	worse, _ = simulate(test, 1, runs, 60, 2)
	assert.Less(t, float64(worse)/runs, 0.05, "false rollbacks of an equal canary")
	_, notWorse := simulate(test, 2, runs, 60, 3)
	assert.Less(t, float64(notWorse)/runs, 0.05+0.01, "passes of a canary twice as bad")
	worse, _ = simulate(test, 2, runs, 60, 4)
	assert.Greater(t, float64(worse)/runs, 0.9, "a canary twice as bad is caught")
}

// More of the same evidence never makes a verdict less certain, and the test treats the
// canary and the primary alike.
func TestRateTestProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	test := RateTest{Tolerated: 1.2, Detect: 2, Alpha: 0.01, Beta: 0.01}
	for range 2000 {
		c := Counts{
			CanaryRequests: 1 + rng.Float64()*5000, PrimaryRequests: 1 + rng.Float64()*50000,
		}
		c.CanaryErrors = math.Floor(rng.Float64() * c.CanaryRequests * 0.1)
		c.PrimaryErrors = math.Floor(rng.Float64() * c.PrimaryRequests * 0.1)
		k := 1 + rng.Float64()*9
		more := Counts{CanaryRequests: k * c.CanaryRequests, CanaryErrors: k * c.CanaryErrors, PrimaryRequests: k * c.PrimaryRequests, PrimaryErrors: k * c.PrimaryErrors}
		assert.InDelta(t, k*LogLR(c, 1.2, 2), LogLR(more, 1.2, 2), 1e-6*math.Max(1, math.Abs(LogLR(more, 1.2, 2))))
		if o := test.Judge(c).Outcome; o != Undecided {
			assert.Equal(t, o, test.Judge(more).Outcome, "%+v ×%g", c, k)
		}
		oneMore := c
		oneMore.CanaryErrors++
		assert.GreaterOrEqual(t, LogLR(oneMore, 1.2, 2), LogLR(c, 1.2, 2), "an extra canary error is evidence against it")
		assert.InDelta(t, LogLR(c, 1.2, 2), LogLR(c.Swap(), 1/1.2, 1/2.0), 1e-6*math.Max(1, math.Abs(LogLR(c, 1.2, 2))), "symmetry")
	}
}

func TestTimeNeeded(t *testing.T) {
	test := RateTest{Tolerated: 1.2, Detect: 2, Alpha: 0.01, Beta: 0.01}
	// At 50%: one error carries KL(2/3 || 6/11) nats, about 0.0307.
	kl := 2.0/3*math.Log((2.0/3)/(6.0/11)) + 1.0/3*math.Log((1.0/3)/(5.0/11))
	assert.InDelta(t, math.Log(100)/kl, test.ErrorsNeeded(0.5), 1e-9)
	// 100 requests a second at 1% errors: 1.5 errors a second under 2x at 50%.
	assert.InDelta(t, test.ErrorsNeeded(0.5)/1.5, test.TimeNeeded(0.5, 100, 0.01), 1e-9)
	assert.Greater(t, test.TimeNeeded(0.05, 100, 0.01), test.TimeNeeded(0.5, 100, 0.01), "less weight, longer")
	assert.True(t, math.IsInf(test.TimeNeeded(0.05, 0, 0.01), 1))
}

// The time an Extend policy waits for: by ErrorsToCatch errors, walks of the evidence under a
// canary of ratio Detect have reached the bound at least 1-Beta of the time, where by the
// mean, ErrorsNeeded, only about half have.
func TestErrorsToCatchCatchesAllButBeta(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	for _, tc := range []struct {
		test   RateTest
		weight float64
	}{
		{RateTest{Tolerated: 1.1, Detect: 2, Alpha: 0.01, Beta: 0.01}, 0.5},
		{RateTest{Tolerated: 1.1, Detect: 2, Alpha: 0.01, Beta: 0.01}, 0.05},
		{RateTest{Tolerated: 1.2, Detect: 1.5, Alpha: 0.05, Beta: 0.1}, 0.2},
	} {
		toCatch, mean := tc.test.ErrorsToCatch(tc.weight), tc.test.ErrorsNeeded(tc.weight)
		require.Greater(t, toCatch, mean)
		theta := share(Counts{CanaryRequests: tc.weight, PrimaryRequests: 1 - tc.weight}, tc.test.Detect)
		const walks = 4000
		caughtBy := func(errors float64) float64 {
			caught := 0
			for range walks {
				var c Counts
				c.CanaryRequests, c.PrimaryRequests = tc.weight, 1-tc.weight
				for n := 1.0; n <= errors; n++ {
					if rng.Float64() < theta {
						c.CanaryErrors++
					} else {
						c.PrimaryErrors++
					}
					if LogLR(c, tc.test.Tolerated, tc.test.Detect) >= math.Log(1/tc.test.Alpha) {
						caught++
						break
					}
				}
			}
			return float64(caught) / walks
		}
		byMean, byToCatch := caughtBy(mean), caughtBy(toCatch)
		t.Logf("weight %g: %.0f errors catch %.3f, the mean %.0f catches %.3f", tc.weight, toCatch, byToCatch, mean, byMean)
		assert.GreaterOrEqual(t, byToCatch, 1-tc.test.Beta-0.005, "within the sampling noise of %d walks", walks)
		assert.Less(t, byMean, 0.75)
		assert.InDelta(t, toCatch/mean, tc.test.TimeToCatch(tc.weight, 100, 0.01)/tc.test.TimeNeeded(tc.weight, 100, 0.01), 1e-9)
	}
}

// parts draws n parts of a window at a weight: Poisson requests, and errors at a base rate
// (the canary's ratio times it) in events of cluster errors each on average.
func parts(rng *rand.Rand, n int, weight, rps, base, ratio, cluster float64) []Counts {
	draw := func(mean float64) float64 { // Poisson by the normal approximation, for large means
		if mean > 50 {
			return math.Max(0, math.Round(mean+math.Sqrt(mean)*rng.NormFloat64()))
		}
		k, p, limit := 0.0, 1.0, math.Exp(-mean)
		for p *= rng.Float64(); p > limit; p *= rng.Float64() {
			k++
		}
		return k
	}
	errors := func(mean float64) float64 {
		total := 0.0
		for range int(draw(mean / cluster)) {
			total += 1 + math.Floor(math.Log(rng.Float64())/math.Log(1-1/cluster+1e-12))
		}
		return total
	}
	out := make([]Counts, n)
	for i := range out {
		nc, np := draw(rps*weight), draw(rps*(1-weight))
		out[i] = Counts{CanaryRequests: nc, CanaryErrors: errors(nc * base * ratio), PrimaryRequests: np, PrimaryErrors: errors(np * base)}
	}
	return out
}

func TestDispersionOfIndependentAndClusteredErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	mean := func(cluster, ratio float64) float64 {
		sum := 0.0
		for range 200 {
			sum += Dispersion(parts(rng, 40, 0.2, 6000, 0.01, ratio, cluster), ratio)
		}
		return sum / 200
	}
	assert.InDelta(t, 1.1, mean(1, 1), 0.15, "independent errors: about 1 (at least 1 by construction)")
	assert.InDelta(t, 1.1, mean(1, 2), 0.15, "a canary worse throughout is not dispersed")
	// Geometric clusters of mean 5: E[K²]/E[K] = (2·5² − 5)/5 = 9.
	assert.InDelta(t, 9, mean(5, 1), 1.5, "clusters of five errors")
	assert.Equal(t, 1.0, Dispersion([]Counts{{CanaryRequests: 10, CanaryErrors: 5, PrimaryRequests: 10, PrimaryErrors: 0}}, 1), "one part tells nothing")
}

// The split may move between parts: the evidence summed over the parts, each with its own
// split, keeps the false-rollback bound where the window's totals lose it.
func TestJudgePartsWithASplitThatMovesWithTheErrorRate(t *testing.T) {
	test := RateTest{Tolerated: 1, Detect: 2, Alpha: 0.01, Beta: 0.01, MinRequests: 100}
	rng := rand.New(rand.NewPCG(3, 3))
	pooled, byPart := 0, 0
	const runs = 2000
	for range runs {
		// The canary's share climbs from 2% to 30% as the base error rate climbs from 0.1% to 3%.
		var ps []Counts
		for i := range 10 {
			x := float64(i) / 9
			ps = append(ps, parts(rng, 1, 0.02+0.28*x, 3000, 0.001+0.029*x, 1, 1)...)
		}
		var total Counts
		worseByPart := false
		for k := range ps {
			total.CanaryRequests += ps[k].CanaryRequests
			total.CanaryErrors += ps[k].CanaryErrors
			total.PrimaryRequests += ps[k].PrimaryRequests
			total.PrimaryErrors += ps[k].PrimaryErrors
			if test.Judge(total).Outcome == Worse {
				pooled++
				break
			}
		}
		for k := range ps {
			if test.JudgeParts(ps[:k+1]).Outcome == Worse {
				worseByPart = true
				break
			}
		}
		if worseByPart {
			byPart++
		}
	}
	assert.Greater(t, float64(pooled)/runs, 0.05, "the totals of a moving split fail good canaries")
	assert.LessOrEqual(t, float64(byPart)/runs, test.Alpha, "the parts' evidence keeps its bound")
}

func TestJudgePartsWeighsClusteredErrorsLess(t *testing.T) {
	test := RateTest{Tolerated: 1, Detect: 2, Alpha: 0.01, Beta: 0.01, MinRequests: 100}
	rng := rand.New(rand.NewPCG(5, 5))
	rolled := 0
	const runs = 1000
	for range runs {
		ps := parts(rng, 40, 0.05, 6000, 0.01, 1, 5)
		for k := range ps {
			if test.JudgeParts(ps[:k+1]).Outcome == Worse {
				rolled++
				break
			}
		}
	}
	assert.LessOrEqual(t, float64(rolled)/runs, 2*test.Alpha, "clustered errors of a good canary, weighed by their dispersion")
	c := Counts{CanaryRequests: 5000, CanaryErrors: 150, PrimaryRequests: 5000, PrimaryErrors: 50}
	assert.Equal(t, Worse, test.Judge(c).Outcome, "the totals alone take the errors as independent")
	one := test.JudgeParts([]Counts{c})
	assert.Equal(t, Undecided, one.Outcome, "one part cannot tell whether the errors are independent")
	assert.Equal(t, test.Judge(c).LogLR, one.LogLR)
}

// TestIncidentsThatOutlastAPartAreSeenInBlocks: errors in incidents a minute long, on one
// version at a time, spread evenly over the parts they span: each part looks ordinary (the
// parts' dispersion is 1), the minutes do not, and the judge weighs the evidence by theirs.
func TestIncidentsThatOutlastAPartAreSeenInBlocks(t *testing.T) {
	var parts []Counts
	for minute := range 4 {
		canary, primary := 14.0, 10.0 // an incident on the canary this minute
		if minute%2 == 1 {
			canary, primary = primary, canary // and on the primary the next
		}
		for range 4 {
			parts = append(parts, Counts{CanaryRequests: 1000, CanaryErrors: canary, PrimaryRequests: 1000, PrimaryErrors: primary})
		}
	}
	assert.Equal(t, 1.0, Dispersion(parts, 1), "each part looks ordinary")
	res := RateTest{Tolerated: 1, Detect: 2, Alpha: 0.01, Beta: 0.01}.JudgeParts(parts)
	assert.Greater(t, res.Dispersion, 3.0, "the minutes vary four times as much as independent errors let them")
}
