package sequential

import (
	"fmt"
	"math"
)

// Counts are the requests and errors each version served over the same window, during which
// the split did not change. Prometheus's increase() gives fractional counts; they are used as
// they are.
type Counts struct {
	CanaryRequests, CanaryErrors   float64
	PrimaryRequests, PrimaryErrors float64
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
}

// Judge weighs counts gathered since the split last changed.
func (t RateTest) Judge(c Counts) RateResult {
	res := RateResult{LogLR: LogLR(c, t.Tolerated, t.Detect), Ratio: ratio(c)}
	switch {
	case c.CanaryRequests < t.MinRequests:
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
	errorsPerSecond := requestsPerSecond * errorRate * (weight*t.Detect + (1 - weight))
	if errorsPerSecond <= 0 {
		return math.Inf(1)
	}
	return t.ErrorsNeeded(weight) / errorsPerSecond
}
