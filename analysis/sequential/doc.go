// Package sequential holds the statistics of the Compare judge: tests of the canary against
// the primary that stay valid however often they are looked at, so that a rollout can stop
// at the first analysis run where the evidence is enough (docs/analysis.md has the maths).
//
//   - Rates: a sequential probability ratio test on error counts, conditioned on the total
//     number of errors, which removes the unknown base error rate.
//   - Latency: a rank test (Mann-Whitney) on the two latency histograms, with its error
//     probability spent over the runs of a step.
//
// Nothing here does I/O: counts and histograms come in, an outcome goes out.
package sequential

// Outcome is what a test concludes so far.
type Outcome int

const (
	// Undecided: not enough evidence either way yet.
	Undecided Outcome = iota
	// Worse: the canary is worse than the primary by more than tolerated.
	Worse
	// NotWorse: the canary is not worse by the regression the test is built to detect.
	NotWorse
)

func (o Outcome) String() string {
	switch o {
	case Worse:
		return "worse"
	case NotWorse:
		return "not worse"
	}
	return "undecided"
}
