package sequential

import "math"

// A step of ten minutes sees one or two incidents (a retry storm, a failing dependency, on
// one version at a time), too few for the dispersion of its own parts to learn how big they
// run before one of them, on the canary, looks like a regression. The primary has served all
// the traffic before the step, and its incidents then are like the ones either version has
// during it: the dispersion of its errors over the hours before tells how bursty they are.

// Tally is one version's requests and errors in one part of a window.
type Tally struct {
	Requests, Errors float64
}

// Past is what the primary's errors before the step say of how they vary.
type Past struct {
	// Dispersion is how many times more the primary's errors varied between blocks of parts
	// than independent errors would, the largest over the scales: 1 or more; 0 when nothing
	// is known, and then the past weighs nothing.
	Dispersion float64
	// Requests is the primary's mean requests in a part then.
	Requests float64
}

// pastScales are the lengths, in parts, of the blocks the primary's past errors are compared
// over: with parts of 15 s, from a part to eight minutes.
var pastScales = []int{1, 2, 4, 8, 16, 32}

// LearnPast measures the dispersion of the primary's errors in consecutive parts before the
// step (the four hours before, say): at each scale, Pearson's statistic of the errors of each block
// of parts against the rate of the whole past (each block expected to have its share of the
// requests' errors), over the median of its chi-square, as Dispersion does for the step; and
// the largest over the scales with three blocks that have errors. A base rate that moves over
// the hours counts as dispersion too, which costs power, not false rollbacks.
func LearnPast(parts []Tally) Past {
	var requests, errors, served float64
	for _, p := range parts {
		requests += p.Requests
		errors += p.Errors
		if p.Requests > 0 {
			served++
		}
	}
	if requests <= 0 || errors <= 0 {
		return Past{}
	}
	// The mean over the parts that served requests: parts before the primary was there,
	// or that Prometheus did not give, are no part of its traffic.
	past := Past{Dispersion: 1, Requests: requests / served}
	for _, scale := range pastScales {
		statistic, n := 0.0, 0
		for _, b := range tallyBlocks(parts, scale) {
			if b.Requests <= 0 {
				continue
			}
			expected := errors * b.Requests / requests
			statistic += (b.Errors - expected) * (b.Errors - expected) / expected
			if b.Errors > 0 {
				n++
			}
		}
		if n >= minDispersionParts {
			past.Dispersion = math.Max(past.Dispersion, statistic/chiSquareMedian(float64(n-1)))
		}
	}
	return past
}

// tallyBlocks merges consecutive parts by n, the last block ending with the last part; a
// first block shorter than n is left out, as it would weigh an incident less.
func tallyBlocks(parts []Tally, n int) []Tally {
	var out []Tally
	for end := len(parts); end-n >= 0; end -= n {
		var b Tally
		for _, p := range parts[end-n : end] {
			b.Requests += p.Requests
			b.Errors += p.Errors
		}
		out = append(out, b)
	}
	return out
}

// ShareDispersion is the dispersion the past foretells of the canary's share of the step's
// errors. An incident multiplies a version's error rate for a while, so the errors it makes
// grow with the requests the version serves: a version serving a fraction f of the requests
// the primary served before has a dispersion of 1 + (D-1)·f. The canary's share of the
// errors, with theta its expected share, varies as (1-theta) times the canary's dispersion
// plus theta times the primary's. It is 1 when the past tells nothing.
func (p Past) ShareDispersion(parts []Counts) float64 {
	if p.Dispersion <= 1 || p.Requests <= 0 || len(parts) == 0 {
		return 1
	}
	var c Counts
	for _, part := range parts {
		c = c.Plus(part)
	}
	if c.CanaryRequests <= 0 || c.PrimaryRequests <= 0 {
		return 1
	}
	n := float64(len(parts))
	canary := 1 + (p.Dispersion-1)*c.CanaryRequests/n/p.Requests
	primary := 1 + (p.Dispersion-1)*c.PrimaryRequests/n/p.Requests
	theta := share(c, 1)
	return 1 + ((1-theta)*canary+theta*primary-1)*(1-math.Max(0, Together(parts)))
}

// Together is how much the two versions' errors rise and fall together over the parts of
// the step: the correlation of their standardised excesses (each part's errors less what
// the version's rate over the step expects, over the square root of that), from -1 to 1; 0
// when either version has no errors. The primary's past cannot tell an incident on one
// version from one on a dependency both share; the step can, once it has seen one: bursts
// that hit both versions at once leave the canary's share of the errors alone.
func Together(parts []Counts) float64 {
	var c Counts
	for _, p := range parts {
		c = c.Plus(p)
	}
	if c.CanaryErrors <= 0 || c.PrimaryErrors <= 0 || c.CanaryRequests <= 0 || c.PrimaryRequests <= 0 {
		return 0
	}
	canaryRate, primaryRate := c.CanaryErrors/c.CanaryRequests, c.PrimaryErrors/c.PrimaryRequests
	var cp, cc, pp, n float64
	for _, p := range parts {
		ec, ep := p.CanaryRequests*canaryRate, p.PrimaryRequests*primaryRate
		if ec <= 0 || ep <= 0 {
			continue
		}
		zc, zp := (p.CanaryErrors-ec)/math.Sqrt(ec), (p.PrimaryErrors-ep)/math.Sqrt(ep)
		cp += zc * zp
		cc += zc * zc
		pp += zp * zp
		n++
	}
	if cc <= 0 || pp <= 0 {
		return 0
	}
	// Each excess is a burst and Poisson noise of variance 1: where both versions are clearly
	// bursty, the bursts' own correlation is the covariance over their variances without
	// the noise's.
	if cc/n > burstyVariance && pp/n > burstyVariance {
		return math.Min(1, cp/n/math.Sqrt((cc/n-1)*(pp/n-1)))
	}
	return cp / math.Sqrt(cc*pp)
}

// burstyVariance is the variance of a version's standardised excesses above which its bursts
// are told apart from the noise.
const burstyVariance = 2

// JudgePartsAfter is JudgeParts with the primary's past: once the step's own parts show the
// canary's share dispersed (pastGate), the evidence is divided by the larger of the step's
// dispersion and the one the past foretells. A step without a burst yet keeps its own: the
// past says how big a burst runs, the step whether one came.
func (t RateTest) JudgePartsAfter(parts []Counts, past Past) RateResult {
	return t.judge(parts, true, past)
}

// pastGate is the step's own dispersion from which the past's counts: below it, the step
// shows no burst (on the bench, 2 let through incidents of minutes on the canary, 0 cost
// two thirds of the 2x detection under bursts on both versions).
const pastGate = 1.3
