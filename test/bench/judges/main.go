// Command judges is the decision-quality bench of the analysis judges: seeded synthetic
// traffic of canaries whose truth is known (good, or worse on errors or latency), at two
// weights, three base error rates and three volumes, fed to the judges side by side: the
// peers as their tutorials set them, Tranche's Compare judge, and the peers recalibrated to
// Tranche's false-rollback rate, beside the bound no test can beat. Then traffic with what
// the steady traces lack (shapes.go). It prints tables, the goals, and BENCH lines.
// `make bench-judge` runs it.
package main

import (
	"flag"
	"math/rand/v2"
	"os"
	"slices"
)

// horizon is the step's hold, in one-minute intervals: a canary not rolled back by then is
// promoted.
const horizon = 10

func main() {
	runs := flag.Int("runs", 150, "seeded runs per scenario")
	flag.Parse()
	report(os.Stdout, measure(*runs))
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

// entry is a judge of the lineup, with its name in the tables; build makes it for a scenario
// (the fixed thresholds are set from the scenario's baseline).
type entry struct {
	name  string
	build func(scenario) judge
}

// The lineup: the peers as their tutorials set them, Tranche at its defaults, and the peers
// recalibrated to Tranche's false-rollback rate.
const (
	flaggerName = "flagger-threshold"
	argoName    = "argo-threshold"
	kayentaName = "kayenta-mannwhitney"
	trancheName = "tranche-compare"
	// trancheTotalsName is the Compare judge on the window's totals alone, without parts.
	trancheTotalsName = "tranche-compare-totals"
	atTranche         = "@tranche"
)

func tutorialLineup() []entry {
	return []entry{
		{flaggerName, func(s scenario) judge { return flagger{thresholdsFor(s, tutorialTimes)} }},
		{argoName, func(s scenario) judge { return argo{thresholdsFor(s, tutorialTimes)} }},
		{kayentaName, func(scenario) judge { return kayenta{kayentaZ} }},
		{trancheName, func(scenario) judge { return newTranche() }},
	}
}

func recalibratedLineup(c calibration) []entry {
	return []entry{
		{flaggerName + atTranche, func(s scenario) judge { return flagger{thresholdsFor(s, c.flagger)} }},
		{argoName + atTranche, func(s scenario) judge { return argo{thresholdsFor(s, c.argo)} }},
		{kayentaName + atTranche, func(scenario) judge { return kayenta{c.kayentaZ} }},
	}
}

// bench runs every scenario of list runs times; each run's trace is drawn once, from its own
// seed (the scenario's index in list and the run), and shown to every judge.
func bench(list []scenario, runs int, lineup []entry) map[string][]outcome {
	results := map[string][]outcome{}
	for si, s := range list {
		judges := make([]judge, len(lineup))
		for i, e := range lineup {
			judges[i] = e.build(s)
		}
		for run := range runs {
			tr, past := traceAndPast(s, horizon, rand.New(rand.NewPCG(uint64(si), uint64(run))))
			for i, j := range judges {
				if l, ok := j.(learner); ok {
					j = l.after(past)
				}
				o := decide(j, tr)
				o.scenario = s
				results[lineup[i].name] = append(results[lineup[i].name], o)
			}
		}
	}
	return results
}

// decide shows a trace to a judge one interval at a time until it rolls back or the hold ends.
func decide(j judge, tr []interval) outcome {
	o := outcome{intervals: horizon}
	for k := 1; k <= horizon; k++ {
		o.canaryErrors += tr[k-1].counts.CanaryErrors
		if j.rollback(k, tr) {
			o.rolledBack, o.intervals = true, k
			break
		}
	}
	return o
}

func newRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }

// findings are everything the bench measured.
type findings struct {
	steady map[string][]outcome
	bound  map[scenario]float64 // the fixed-horizon bound, by error-rate scenario
	alpha  float64              // Tranche's false-rollback rate on the steady traces
	cal    calibration
	shapes []shapeFindings
}

// shapeFindings are the judges on the traces of one shape.
type shapeFindings struct {
	shape    shape
	outcomes map[string][]outcome
	bound    map[scenario]float64
}

// measure runs the bench: the steady grid with the peers as set in their tutorials and with
// Tranche; the peers recalibrated to Tranche's false-rollback rate; the bound at that rate;
// then every shape.
func measure(runs int) findings {
	steady := scenarios()
	f := findings{steady: bench(steady, runs, tutorialLineup())}
	f.alpha = summarise(f.steady[trancheName]).falseRollback
	f.cal = recalibrate(steady, runs, f.alpha)
	for name, os := range bench(steady, runs, recalibratedLineup(f.cal)) {
		f.steady[name] = os
	}
	f.bound = boundPowers(steady, runs, f.alpha)
	lineup := append([]entry{tutorialLineup()[3], {trancheTotalsName, func(scenario) judge {
		t := newTranche()
		t.totalsOnly = true
		return t
	}}}, recalibratedLineup(f.cal)...)
	for _, sh := range shapes {
		list := shapeScenarios(sh)
		f.shapes = append(f.shapes, shapeFindings{shape: sh, outcomes: bench(list, runs, lineup), bound: boundPowers(list, runs, f.alpha)})
	}
	return f
}

// shapeScenarios is the grid of traffic in a shape, with a good canary and one with twice
// the errors.
func shapeScenarios(sh shape) []scenario {
	var out []scenario
	for _, s := range scenarios() {
		if s.latency == 1 && (s.errRatio == 1 || s.errRatio == 2) {
			s.shape = sh
			out = append(out, s)
		}
	}
	return out
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
	// medianToRollback and p95ToRollback are over the regressions rolled back.
	medianToRollback, p95ToRollback int
	badRequests                     float64
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
	var rolledBack []outcome
	for _, o := range regressions {
		if o.rolledBack {
			rolledBack = append(rolledBack, o)
		}
	}
	toRollback := intervalsOf(rolledBack)
	s.medianToRollback, s.p95ToRollback = median(toRollback), percentile(toRollback, 0.95)
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
