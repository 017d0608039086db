package sequential

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
)

// poissonDraw draws a Poisson variate by multiplication: the means here are small.
func poissonDraw(rng *rand.Rand, mean float64) float64 {
	limit, k, p := math.Exp(-mean), 0.0, 1.0
	for {
		p *= rng.Float64()
		if p <= limit {
			return k
		}
		k++
	}
}

// An hour of the primary's parts of 15 s: independent errors, or the same with incidents of
// a few minutes that multiply the errors.
func pastParts(rng *rand.Rand, incidents bool) []Tally {
	parts := make([]Tally, 240)
	for i := range parts {
		rate := 0.01
		if incidents && i%60 >= 20 && i%60 < 28 { // two minutes of every fifteen
			rate *= 20
		}
		parts[i] = Tally{Requests: 1500, Errors: poissonDraw(rng, 1500*rate)}
	}
	return parts
}

func TestLearnPast(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name     string
		parts    []Tally
		lo, hi   float64
		requests float64
	}{
		{"nothing", nil, 0, 0, 0},
		{"no error", []Tally{{Requests: 10}, {Requests: 10}, {Requests: 10}}, 0, 0, 0},
		{"independent errors", pastParts(rng, false), 1, 2.5, 1500},
		{"incidents of two minutes", pastParts(rng, true), 100, 2000, 1500},
		{"too few blocks with errors", []Tally{{Requests: 100, Errors: 50}, {Requests: 100}, {Requests: 100}}, 1, 1, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			past := LearnPast(tc.parts)
			assert.GreaterOrEqual(t, past.Dispersion, tc.lo)
			assert.LessOrEqual(t, past.Dispersion, tc.hi)
			assert.Equal(t, tc.requests, past.Requests)
		})
	}
}

func TestTallyBlocksEndWithTheLastPartAndLeaveOutAShortFirst(t *testing.T) {
	parts := []Tally{{1, 1}, {2, 0}, {3, 1}, {4, 0}, {5, 1}}
	assert.Equal(t, []Tally{{9, 1}, {5, 1}}, tallyBlocks(parts, 2))
	assert.Len(t, tallyBlocks(parts, 1), 5)
	assert.Len(t, tallyBlocks(parts, 6), 0)
}

func TestShareDispersion(t *testing.T) {
	step := []Counts{ // a steady step at 50%: nothing rises together
		{CanaryRequests: 750, CanaryErrors: 8, PrimaryRequests: 750, PrimaryErrors: 7},
		{CanaryRequests: 750, CanaryErrors: 7, PrimaryRequests: 750, PrimaryErrors: 8},
	}
	together := []Counts{ // both versions burst in the same part
		{CanaryRequests: 750, CanaryErrors: 8, PrimaryRequests: 750, PrimaryErrors: 8},
		{CanaryRequests: 750, CanaryErrors: 80, PrimaryRequests: 750, PrimaryErrors: 80},
		{CanaryRequests: 750, CanaryErrors: 8, PrimaryRequests: 750, PrimaryErrors: 8},
	}
	for _, tc := range []struct {
		name  string
		past  Past
		parts []Counts
		want  float64
	}{
		{"no past", Past{}, step, 1},
		{"a past without dispersion", Past{Dispersion: 1, Requests: 1500}, step, 1},
		// Each version serves half the past's requests: 1 + 99/2 each, and so the share.
		{"half the past's requests each", Past{Dispersion: 100, Requests: 1500}, step, 50.5},
		{"as many as the past's", Past{Dispersion: 100, Requests: 750}, step, 100},
		{"bursts on both versions at once", Past{Dispersion: 100, Requests: 1500}, together, 1},
		{"no canary request", Past{Dispersion: 100, Requests: 1500}, []Counts{{PrimaryRequests: 10, PrimaryErrors: 1}}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.InDelta(t, tc.want, tc.past.ShareDispersion(tc.parts), 1e-9)
		})
	}
}

func TestTogether(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	draw := func(canaryBurst, primaryBurst func(i int) bool) []Counts {
		parts := make([]Counts, 40)
		for i := range parts {
			c, p := 0.01, 0.01
			if canaryBurst(i) {
				c *= 20
			}
			if primaryBurst(i) {
				p *= 20
			}
			parts[i] = Counts{CanaryRequests: 750, CanaryErrors: poissonDraw(rng, 750*c), PrimaryRequests: 750, PrimaryErrors: poissonDraw(rng, 750*p)}
		}
		return parts
	}
	never := func(int) bool { return false }
	early := func(i int) bool { return i >= 5 && i < 10 }
	late := func(i int) bool { return i >= 25 && i < 30 }
	for _, tc := range []struct {
		name   string
		parts  []Counts
		lo, hi float64
	}{
		{"no error", []Counts{{CanaryRequests: 1, PrimaryRequests: 1}}, 0, 0},
		{"independent errors", draw(never, never), -0.4, 0.4},
		{"bursts on both at once", draw(early, early), 0.9, 1},
		{"bursts on each at its own time", draw(early, late), -1, 0.1},
		{"a burst on the canary alone", draw(early, never), -0.3, 0.3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Together(tc.parts)
			assert.GreaterOrEqual(t, got, tc.lo)
			assert.LessOrEqual(t, got, tc.hi)
		})
	}
}

// The evidence is divided by the larger of the step's dispersion and the past's.
func TestJudgePartsAfterTakesTheLargerDispersion(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	step := make([]Counts, 20)
	for i := range step {
		step[i] = Counts{CanaryRequests: 750, CanaryErrors: poissonDraw(rng, 15), PrimaryRequests: 750, PrimaryErrors: poissonDraw(rng, 7.5)}
	}
	test := RateTest{Tolerated: 1, Detect: 2, Alpha: 0.01, Beta: 0.01, MinRequests: 100}
	alone := test.JudgeParts(step)
	assert.Equal(t, Worse, alone.Outcome, "twice the errors, independent: %+v", alone)
	assert.Equal(t, alone, test.JudgePartsAfter(step, Past{}), "no past")
	past := LearnPast(pastParts(rng, true))
	after := test.JudgePartsAfter(step, past)
	assert.InDelta(t, past.ShareDispersion(step), after.Dispersion, 1e-9)
	assert.True(t, after.FromPast, "the result says the dispersion is the past's")
	assert.False(t, alone.FromPast)
	assert.InDelta(t, alone.LogLR*alone.Dispersion/after.Dispersion, after.LogLR, 1e-9)
	assert.NotEqual(t, Worse, after.Outcome, "a past of incidents weighs the evidence down")
}

// A step whose parts show no dispersion keeps its own: the past says how big a burst runs,
// the step whether one came.
func TestJudgePartsAfterIgnoresThePastWithoutABurstInTheStep(t *testing.T) {
	step := make([]Counts, 20)
	for i := range step {
		step[i] = Counts{CanaryRequests: 750, CanaryErrors: 15, PrimaryRequests: 750, PrimaryErrors: 8}
	}
	test := RateTest{Tolerated: 1, Detect: 2, Alpha: 0.01, Beta: 0.01, MinRequests: 100}
	past := Past{Dispersion: 100, Requests: 1500}
	got := test.JudgePartsAfter(step, past)
	assert.Equal(t, test.JudgeParts(step), got)
	assert.Equal(t, 1.0, got.Dispersion)
	assert.False(t, got.FromPast)
	assert.Equal(t, Worse, got.Outcome)
}
