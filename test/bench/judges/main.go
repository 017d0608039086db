// Command judges is the decision-quality bench of the analysis judges: seeded synthetic
// traffic of canaries whose truth is known (good, or worse on errors or latency), at two
// weights, three base error rates and three volumes, fed to four judges side by side. It
// prints a table and one BENCH line per judge. `make bench-judge` runs it.
package main

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"text/tabwriter"
)

// horizon is the step's hold, in one-minute intervals: a canary not rolled back by then is
// promoted.
const horizon = 10

func main() {
	runs := flag.Int("runs", 150, "seeded runs per scenario")
	flag.Parse()
	report(os.Stdout, bench(*runs))
}

// scenarios is the grid: every truth at every weight, base error rate and volume.
func scenarios() []scenario {
	type truth struct{ errRatio, latency float64 }
	truths := []truth{{1, 1}, {1.5, 1}, {2, 1}, {5, 1}, {1, 1.2}, {1, 2}}
	var out []scenario
	for _, w := range []float64{0.05, 0.5} {
		for _, base := range []float64{0.001, 0.01, 0.05} {
			for _, rps := range []float64{20, 100, 500} {
				for _, tr := range truths {
					out = append(out, scenario{weight: w, rps: rps, baseRate: base, errRatio: tr.errRatio, latency: tr.latency})
				}
			}
		}
	}
	return out
}

// outcome is one judge's decision on one run.
type outcome struct {
	scenario     scenario
	rolledBack   bool
	intervals    int     // when it decided: the rollback's interval, else the horizon
	canaryErrors float64 // error responses the canary served until then
}

// bench runs every scenario runs times; each run's trace is drawn once, from its own seed,
// and shown to every judge.
func bench(runs int) map[string][]outcome {
	results := map[string][]outcome{}
	for si, s := range scenarios() {
		judges := []judge{flagger{thresholdsFor(s)}, argo{thresholdsFor(s)}, kayenta{}, newTranche()}
		for run := range runs {
			tr := trace(s, horizon, rand.New(rand.NewPCG(uint64(si), uint64(run))))
			for _, j := range judges {
				o := outcome{scenario: s, intervals: horizon}
				for k := 1; k <= horizon; k++ {
					o.canaryErrors += tr[k-1].counts.CanaryErrors
					if j.rollback(k, tr) {
						o.rolledBack, o.intervals = true, k
						break
					}
				}
				results[j.name()] = append(results[j.name()], o)
			}
		}
	}
	return results
}

func newRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }

// judgeNames in the order the table lists them.
var judgeNames = []string{"flagger-threshold", "argo-threshold", "kayenta-mannwhitney", "tranche-compare"}

func report(w io.Writer, results map[string][]outcome) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "judge\tfalse rollback\tdetect err 1.5x\t2x\t5x\tlatency +20%\t+100%\tintervals to decide (median / p95)\tbad requests before rollback (2x err, 100 rps)")
	for _, name := range judgeNames {
		s := summarise(results[name])
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%d / %d\t%.0f\n", name, s.falseRollback,
			s.detect[truthKey{1.5, 1}], s.detect[truthKey{2, 1}], s.detect[truthKey{5, 1}], s.detect[truthKey{1, 1.2}], s.detect[truthKey{1, 2}],
			s.medianIntervals, s.p95Intervals, s.badRequests)
	}
	tw.Flush()

	fmt.Fprintln(w)
	fmt.Fprintln(w, "2x errors, by weight and volume: detection, median intervals to decide")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "judge")
	for _, weight := range []float64{0.05, 0.5} {
		for _, rps := range []float64{20, 100, 500} {
			fmt.Fprintf(tw, "\t%g%% @ %g rps", weight*100, rps)
		}
	}
	fmt.Fprintln(tw)
	for _, name := range judgeNames {
		fmt.Fprint(tw, name)
		for _, weight := range []float64{0.05, 0.5} {
			for _, rps := range []float64{20, 100, 500} {
				var sel []outcome
				for _, o := range results[name] {
					if o.scenario.errRatio == 2 && o.scenario.weight == weight && o.scenario.rps == rps {
						sel = append(sel, o)
					}
				}
				fmt.Fprintf(tw, "\t%.2f, %d", detected(sel), median(intervalsOf(sel)))
			}
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()

	fmt.Fprintln(w)
	fmt.Fprintln(w, "2x errors at 100 rps, by the primary's error rate and weight: detection, median intervals to decide")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "judge")
	for _, weight := range []float64{0.05, 0.5} {
		for _, base := range []float64{0.001, 0.01, 0.05} {
			fmt.Fprintf(tw, "\t%g%% @ %g%% errors", weight*100, base*100)
		}
	}
	fmt.Fprintln(tw)
	for _, name := range judgeNames {
		fmt.Fprint(tw, name)
		for _, weight := range []float64{0.05, 0.5} {
			for _, base := range []float64{0.001, 0.01, 0.05} {
				var sel []outcome
				for _, o := range results[name] {
					if o.scenario.errRatio == 2 && o.scenario.weight == weight && o.scenario.baseRate == base && o.scenario.rps == 100 {
						sel = append(sel, o)
					}
				}
				fmt.Fprintf(tw, "\t%.2f, %d", detected(sel), median(intervalsOf(sel)))
			}
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()

	fmt.Fprintln(w)
	fmt.Fprintln(w, "2x errors where the data can tell within the hold (Wald's estimate of the time the rate test needs is at most 10 intervals):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "judge\tdetection\tintervals to decide (median / p95)\tfalse rollback of good canaries in the same traffic")
	for _, name := range judgeNames {
		var bad, good []outcome
		for _, o := range results[name] {
			if !decidable(o.scenario) {
				continue
			}
			switch {
			case o.scenario.errRatio == 2:
				bad = append(bad, o)
			case o.scenario.good():
				good = append(good, o)
			}
		}
		in := intervalsOf(bad)
		fmt.Fprintf(tw, "%s\t%.3f\t%d / %d\t%.3f\n", name, detected(bad), median(in), percentile(in, 0.95), detected(good))
	}
	tw.Flush()

	fmt.Fprintln(w)
	for _, name := range judgeNames {
		s := summarise(results[name])
		fmt.Fprintf(w, "BENCH judge=%s false_rollback=%.4f detect_2x=%.4f median_intervals=%d bad_requests=%.0f\n",
			name, s.falseRollback, s.detect[truthKey{2, 1}], s.medianIntervals2x, s.badRequests)
	}
}

// decidable says whether the rate test can be expected to catch a 2x canary within the hold
// in this traffic.
func decidable(s scenario) bool {
	return newTranche().rates.TimeNeeded(s.weight, s.rps, s.baseRate) <= horizon*60
}

type truthKey struct{ errRatio, latency float64 }

type summary struct {
	falseRollback                 float64
	detect                        map[truthKey]float64
	medianIntervals, p95Intervals int // over every regression
	medianIntervals2x             int // over the 2x error regressions
	badRequests                   float64
}

func summarise(outcomes []outcome) summary {
	s := summary{detect: map[truthKey]float64{}}
	byTruth := map[truthKey][]outcome{}
	var good, regressions, twice, badAt100 []outcome
	for _, o := range outcomes {
		k := truthKey{o.scenario.errRatio, o.scenario.latency}
		byTruth[k] = append(byTruth[k], o)
		switch {
		case o.scenario.good():
			good = append(good, o)
		default:
			regressions = append(regressions, o)
		}
		if k == (truthKey{2, 1}) {
			twice = append(twice, o)
			if o.scenario.rps == 100 {
				badAt100 = append(badAt100, o)
			}
		}
	}
	s.falseRollback = detected(good)
	for k, os := range byTruth {
		s.detect[k] = detected(os)
	}
	all := intervalsOf(regressions)
	s.medianIntervals, s.p95Intervals = median(all), percentile(all, 0.95)
	s.medianIntervals2x = median(intervalsOf(twice))
	for _, o := range badAt100 {
		s.badRequests += o.canaryErrors
	}
	if len(badAt100) > 0 {
		s.badRequests /= float64(len(badAt100))
	}
	return s
}

func detected(outcomes []outcome) float64 {
	if len(outcomes) == 0 {
		return 0
	}
	n := 0
	for _, o := range outcomes {
		if o.rolledBack {
			n++
		}
	}
	return float64(n) / float64(len(outcomes))
}

func intervalsOf(outcomes []outcome) []int {
	out := make([]int, len(outcomes))
	for i, o := range outcomes {
		out[i] = o.intervals
	}
	slices.Sort(out)
	return out
}

func median(sorted []int) int { return percentile(sorted, 0.5) }

func percentile(sorted []int, q float64) int {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}
