package sequential

import (
	"fmt"
	"math"
	"slices"
)

// Counts are the requests and errors each version served over the same window, during which
// the split did not change. Prometheus's increase() gives fractional counts; they are used as
// they are.
type Counts struct {
	CanaryRequests, CanaryErrors   float64
	PrimaryRequests, PrimaryErrors float64
}

// Plus is the counts of two windows together.
func (c Counts) Plus(o Counts) Counts {
	return Counts{
		CanaryRequests: c.CanaryRequests + o.CanaryRequests, CanaryErrors: c.CanaryErrors + o.CanaryErrors,
		PrimaryRequests: c.PrimaryRequests + o.PrimaryRequests, PrimaryErrors: c.PrimaryErrors + o.PrimaryErrors,
	}
}

// Minus is c less what o counted: what a window holds beyond a part of it.
func (c Counts) Minus(o Counts) Counts {
	return Counts{
		CanaryRequests: c.CanaryRequests - o.CanaryRequests, CanaryErrors: c.CanaryErrors - o.CanaryErrors,
		PrimaryRequests: c.PrimaryRequests - o.PrimaryRequests, PrimaryErrors: c.PrimaryErrors - o.PrimaryErrors,
	}
}

// Swap exchanges the canary's counts with the primary's.
func (c Counts) Swap() Counts {
	return Counts{
		CanaryRequests: c.PrimaryRequests, CanaryErrors: c.PrimaryErrors,
		PrimaryRequests: c.CanaryRequests, PrimaryErrors: c.CanaryErrors,
	}
}

// RateTest asks whether the canary's error rate is worse than the primary's. With r the
// ratio of the canary's rate to the primary's, it tests r <= Tolerated against r >= Detect.
//
// Given the total number of errors, the canary's share of them is binomial with probability
// theta(r) = r*nc / (r*nc + np) (errors as Poisson events in nc and np requests), whatever
// the base error rate. The log-likelihood ratio of theta(Detect) to theta(Tolerated) is a
// martingale under r = Tolerated and a supermartingale below it, so by Ville's inequality
// the chance it ever reaches log(1/Alpha) is at most Alpha: looking after every interval is
// free. Symmetrically, a canary with r >= Detect reaches log(Beta) with chance at most Beta.
type RateTest struct {
	// Tolerated is the ratio of error rates that must pass, 1 or more (1.2: 20% worse).
	Tolerated float64
	// Detect is the ratio that must fail, above Tolerated (2: twice the errors).
	Detect float64
	// Alpha is the chance of failing a canary whose ratio is Tolerated or less.
	Alpha float64
	// Beta is the chance of passing a canary whose ratio is Detect or more.
	Beta float64
	// MinRequests is how many requests the canary must have served before any verdict.
	MinRequests float64
}

// Validate reports parameters the test cannot run with.
func (t RateTest) Validate() error {
	switch {
	case !(t.Tolerated >= 1):
		return fmt.Errorf("the tolerated ratio %g must be at least 1", t.Tolerated)
	case !(t.Detect > t.Tolerated):
		return fmt.Errorf("the ratio to detect %g must be above the tolerated %g", t.Detect, t.Tolerated)
	case !(t.Alpha > 0 && t.Alpha < 1), !(t.Beta > 0 && t.Beta < 1):
		return fmt.Errorf("the error probabilities %g and %g must be between 0 and 1", t.Alpha, t.Beta)
	}
	return nil
}

// RateResult is the state of the evidence.
type RateResult struct {
	Outcome Outcome
	// LogLR is the evidence for a regression: positive for, negative against.
	LogLR float64
	// Ratio is the observed ratio of the error rates; NaN when the primary has no error or
	// either side no request.
	Ratio float64
	// Dispersion is how many times more the canary's share of the errors varied between the
	// parts, or between blocks of consecutive parts, than independent errors let it: LogLR is
	// the parts' evidence divided by it. 1 when it did not vary more, or there were too few
	// parts to tell.
	Dispersion float64
	// FromPast is true when the dispersion is the one the primary's past foretells
	// (JudgePartsAfter), larger than the step's own.
	FromPast bool
}

// Judge weighs counts gathered since the split last changed.
func (t RateTest) Judge(c Counts) RateResult {
	return t.judge([]Counts{c}, false, Past{})
}

// JudgeParts weighs counts gathered in consecutive parts of one window (a minute each, say).
//
// The evidence is summed over the parts, each with its own split: the likelihood ratio of
// each part's errors is a martingale factor whatever the part's split, so a split that moves
// within the window (clients piling up on the canary) biases nothing, as it would with the
// window's totals.
//
// The test assumes errors are independent events. Errors that come in clusters (a client
// retrying, a request failing all its sub-requests) fall on one version a cluster at a time,
// and the canary's share of them varies between parts more than the binomial model lets it.
// The parts say so: with Pearson's statistic of the parts' shares, at the ratio the window
// shows, over its degrees of freedom, above 1. The evidence is then divided by it, as a
// quasi-likelihood would: about as if each cluster were one error. Errors in incidents that
// outlast a part vary between blocks of parts instead, and the largest dispersion of every
// scale counts (see dispersionAtEveryScale). No failure is final before
// three parts have errors: until then whether they are independent cannot be told, and one
// cluster on the canary would look like a regression.
func (t RateTest) JudgeParts(parts []Counts) RateResult {
	return t.judge(parts, true, Past{})
}

// judge weighs the parts, dividing their evidence by their dispersion, or by the one the
// primary's past foretells where that is larger (see JudgePartsAfter; the zero Past
// foretells nothing).
func (t RateTest) judge(parts []Counts, partsTell bool, past Past) RateResult {
	var c Counts
	evidence := 0.0
	for _, p := range parts {
		c = c.Plus(p)
		evidence += LogLR(p, t.Tolerated, t.Detect)
	}
	res := RateResult{Ratio: ratio(c), Dispersion: dispersionAtEveryScale(parts, fitted(parts))}
	if res.Dispersion >= pastGate {
		if foretold := past.ShareDispersion(parts); foretold > res.Dispersion {
			res.Dispersion, res.FromPast = foretold, true
		}
	}
	res.LogLR = evidence / res.Dispersion
	switch {
	case c.CanaryRequests < t.MinRequests:
		res.Outcome = Undecided
	case partsTell && res.LogLR > 0 && partsWithErrors(parts) < minDispersionParts:
		res.Outcome = Undecided
	case res.LogLR >= math.Log(1/t.Alpha):
		res.Outcome = Worse
	case res.LogLR <= math.Log(t.Beta):
		res.Outcome = NotWorse
	}
	return res
}

// LogLR is the log-likelihood ratio of the canary's share of the errors under ratio r1 to
// that under r0. Without errors, or without requests on either side, there is no evidence: 0.
func LogLR(c Counts, r0, r1 float64) float64 {
	if c.CanaryRequests <= 0 || c.PrimaryRequests <= 0 || c.CanaryErrors+c.PrimaryErrors <= 0 {
		return 0
	}
	theta0, theta1 := share(c, r0), share(c, r1)
	return c.CanaryErrors*math.Log(theta1/theta0) + c.PrimaryErrors*math.Log((1-theta1)/(1-theta0))
}

// minDispersionParts is the fewest parts with errors that tell a dispersion.
const minDispersionParts = 3

// stretch is how many consecutive parts the error rate of each version is taken as steady
// over, for the dispersion of its errors: four parts of 15 s, a minute.
const stretch = 4

// Dispersion is how many times more the errors vary than independent events would, from
// three of Pearson's statistics, pooled: the canary's share of the errors in each part,
// expected at ratio r (which a base rate changing with time leaves alone), and each
// version's errors in each part of a stretch against the stretch's rate (which tell more,
// the primary having most of the errors). Over their degrees of freedom and divided by the
// median of their chi-square (so that it is not smaller than the truth half the time, with
// few parts), it is about 1 for independent errors and about the mean cluster's weight
// (E[K²]/E[K] of the number of errors K an event makes) for errors in clusters. It is at
// least 1, and 1 with fewer than three parts with errors.
func Dispersion(parts []Counts, r float64) float64 {
	statistic, n := shareStatistic(parts, r)
	if n < minDispersionParts {
		return 1
	}
	df := float64(n - 1)
	for start := 0; start+stretch <= len(parts); start += stretch {
		for _, version := range []func(Counts) (requests, errors float64){
			func(c Counts) (float64, float64) { return c.CanaryRequests, c.CanaryErrors },
			func(c Counts) (float64, float64) { return c.PrimaryRequests, c.PrimaryErrors },
		} {
			x, k := poissonStatistic(parts[start:start+stretch], version)
			statistic += x
			df += k
		}
	}
	return math.Max(1, statistic/chiSquareMedian(df))
}

// shareStatistic is Pearson's statistic of the canary's share of the errors in each part,
// expected at ratio r, and how many parts it has.
func shareStatistic(parts []Counts, r float64) (statistic float64, n int) {
	for _, p := range parts {
		errors := p.CanaryErrors + p.PrimaryErrors
		if errors <= 0 || p.CanaryRequests <= 0 || p.PrimaryRequests <= 0 {
			continue
		}
		theta := share(p, r)
		if theta <= 0 || theta >= 1 {
			continue
		}
		d := p.CanaryErrors - errors*theta
		statistic += d * d / (errors * theta * (1 - theta))
		n++
	}
	return statistic, n
}

// chiSquareMedian is about the median of a chi-square with df degrees of freedom
// (Wilson-Hilferty).
func chiSquareMedian(df float64) float64 { return df * math.Pow(1-2/(9*df), 3) }

// scales are the lengths, in parts, of the blocks the dispersion is also measured over: with
// parts of 15 s, half a minute to four minutes.
var scales = []int{2, 4, 8, 16}

// dispersionAtEveryScale is the largest of the parts' dispersion and of the canary's share of
// the errors in blocks of consecutive parts, at every scale that has three blocks with errors.
// Errors that come in incidents lasting longer than a part (a retry storm, a failing
// dependency, on one version at a time) fall into consecutive parts, each of which looks
// ordinary: the blocks as long as the incidents show them. The versions' own rates are not
// compared over blocks: over minutes, the base error rate moves, which is no dispersion.
func dispersionAtEveryScale(parts []Counts, r float64) float64 {
	d := Dispersion(parts, r)
	for _, scale := range scales {
		statistic, n := shareStatistic(blocks(parts, scale), r)
		if n >= minDispersionParts {
			d = math.Max(d, statistic/chiSquareMedian(float64(n-1)))
		}
	}
	return d
}

// blocks merges consecutive parts by n, the last block ending with the last part (the first
// may hold fewer).
func blocks(parts []Counts, n int) []Counts {
	var out []Counts
	for end := len(parts); end > 0; end -= n {
		var b Counts
		for _, p := range parts[max(0, end-n):end] {
			b = b.Plus(p)
		}
		out = append(out, b)
	}
	slices.Reverse(out)
	return out
}

// poissonStatistic is Pearson's statistic of one version's errors in each part against the
// parts' common rate, and its degrees of freedom: none when the parts have no error.
func poissonStatistic(parts []Counts, version func(Counts) (requests, errors float64)) (statistic, df float64) {
	var requests, errors float64
	for _, p := range parts {
		n, e := version(p)
		requests += n
		errors += e
	}
	if errors <= 0 || requests <= 0 {
		return 0, 0
	}
	used := 0
	for _, p := range parts {
		n, e := version(p)
		if n <= 0 {
			continue
		}
		expected := errors * n / requests
		statistic += (e - expected) * (e - expected) / expected
		used++
	}
	return statistic, float64(max(0, used-1))
}

func partsWithErrors(parts []Counts) int {
	n := 0
	for _, p := range parts {
		if p.CanaryErrors+p.PrimaryErrors > 0 && p.CanaryRequests > 0 && p.PrimaryRequests > 0 {
			n++
		}
	}
	return n
}

// fitted is the ratio of error rates the parts show, for the dispersion's expected shares:
// the one at which the canary's expected errors, each part at its own split, are the errors
// it had (the maximum-likelihood ratio). The window's totals would not do: under a split
// that moves with the base error rate, their ratio is not the parts' ratio, and every part
// would look dispersed from it.
func fitted(parts []Counts) float64 {
	excess := func(r float64) float64 {
		sum := 0.0
		for _, p := range parts {
			if p.CanaryRequests > 0 && p.PrimaryRequests > 0 {
				sum += (p.CanaryErrors+p.PrimaryErrors)*share(p, r) - p.CanaryErrors
			}
		}
		return sum
	}
	// The canary's expected errors grow with r: bisect log r.
	lo, hi := math.Log(1e-6), math.Log(1e6)
	for range 60 {
		mid := (lo + hi) / 2
		if excess(math.Exp(mid)) < 0 {
			lo = mid
		} else {
			hi = mid
		}
	}
	return math.Exp((lo + hi) / 2)
}

// share is the canary's expected share of the errors when its error rate is r times the
// primary's.
func share(c Counts, r float64) float64 {
	return r * c.CanaryRequests / (r*c.CanaryRequests + c.PrimaryRequests)
}

func ratio(c Counts) float64 {
	if c.CanaryRequests <= 0 || c.PrimaryRequests <= 0 || c.PrimaryErrors <= 0 {
		return math.NaN()
	}
	return (c.CanaryErrors / c.CanaryRequests) / (c.PrimaryErrors / c.PrimaryRequests)
}

// ErrorsNeeded is about how many errors (both versions together) the test needs to fail a
// canary whose ratio is Detect, when the canary serves the fraction weight of the requests:
// Wald's approximation, log(1/Alpha) over the evidence one error brings on average.
func (t RateTest) ErrorsNeeded(weight float64) float64 {
	c := Counts{CanaryRequests: weight, PrimaryRequests: 1 - weight}
	theta0, theta1 := share(c, t.Tolerated), share(c, t.Detect)
	perError := theta1*math.Log(theta1/theta0) + (1-theta1)*math.Log((1-theta1)/(1-theta0))
	return math.Log(1/t.Alpha) / perError
}

// TimeNeeded is about how long the test needs to fail a canary whose ratio is Detect, at a
// weight, a rate of requests (both versions, per second) and the primary's error rate.
func (t RateTest) TimeNeeded(weight, requestsPerSecond, errorRate float64) float64 {
	return t.timeFor(t.ErrorsNeeded(weight), weight, requestsPerSecond, errorRate)
}

// ErrorsToCatch is about how many errors (both versions together) the test needs to fail a
// canary whose ratio is Detect with chance 1-Beta. ErrorsNeeded is the mean, by which the
// test has failed such a canary only about 6 times in 10; waiting that long for a verdict
// misses 4 in 10 of the regressions the test would have caught.
//
// Each error moves the evidence by a step of mean m and deviation s, so after n errors it
// is about normal with mean n*m and deviation s*sqrt(n). It has reached log(1/Alpha) with
// chance 1-Beta once n*m - z*s*sqrt(n) = log(1/Alpha), z the normal quantile of 1-Beta: a
// quadratic in sqrt(n). Having crossed the bound before n counts too, so the chance is at
// least 1-Beta.
func (t RateTest) ErrorsToCatch(weight float64) float64 {
	c := Counts{CanaryRequests: weight, PrimaryRequests: 1 - weight}
	theta0, theta1 := share(c, t.Tolerated), share(c, t.Detect)
	up, down := math.Log(theta1/theta0), math.Log((1-theta1)/(1-theta0))
	mean := theta1*up + (1-theta1)*down
	deviation := math.Sqrt(theta1*(1-theta1)) * (up - down)
	z := math.Sqrt2 * math.Erfinv(1-2*t.Beta)
	root := (z*deviation + math.Sqrt(z*z*deviation*deviation+4*mean*math.Log(1/t.Alpha))) / (2 * mean)
	return root * root
}

// TimeToCatch is about how long the test needs to fail a canary whose ratio is Detect with
// chance 1-Beta, at a weight, a rate of requests and the primary's error rate: how long to
// wait for a verdict before taking its absence as the absence of such a regression.
func (t RateTest) TimeToCatch(weight, requestsPerSecond, errorRate float64) float64 {
	return t.timeFor(t.ErrorsToCatch(weight), weight, requestsPerSecond, errorRate)
}

// timeFor is how long the versions take to make errors, under a canary whose ratio is
// Detect.
func (t RateTest) timeFor(errors, weight, requestsPerSecond, errorRate float64) float64 {
	errorsPerSecond := requestsPerSecond * errorRate * (weight*t.Detect + (1 - weight))
	if errorsPerSecond <= 0 {
		return math.Inf(1)
	}
	return errors / errorsPerSecond
}
