package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// judgeNames in the order the tables list them.
var judgeNames = []string{flaggerName, argoName, kayentaName, trancheName,
	flaggerName + atTranche, argoName + atTranche, kayentaName + atTranche}

// boundName is the bound's row in the tables.
const boundName = "bound (fixed horizon, all data)"

func report(w io.Writer, f findings) {
	fmt.Fprintf(w, "Steady traffic, %d scenarios. The peers as their tutorials set them, Tranche at its defaults, the peers\n", len(scenarios()))
	fmt.Fprintf(w, "recalibrated (%s) to Tranche's false-rollback rate of %.4f, and the bound at that rate.\n\n", atTranche, f.alpha)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "judge\tsetting\tfalse rollback\tdetect err 1.5x\t2x\t5x\tlatency +20%\t+100%\t2x: share of bound\tintervals to a rollback (median / p95)\tbad requests before rollback (2x err, 100 rps)")
	bound2x := meanBound(f.bound, func(s scenario) bool { return s.errRatio == 2 })
	for _, name := range judgeNames {
		s := summarise(f.steady[name])
		fmt.Fprintf(tw, "%s\t%s\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.2f\t%d / %d\t%.0f\n", name, f.setting(name), s.falseRollback,
			s.detect[truthKey{1.5, 1}], s.detect[truthKey{2, 1}], s.detect[truthKey{5, 1}], s.detect[truthKey{1, 1.2}], s.detect[truthKey{1, 2}],
			s.detect[truthKey{2, 1}]/bound2x, s.medianToRollback, s.p95ToRollback, s.badRequests)
	}
	fmt.Fprintf(tw, "%s\tNeyman-Pearson on the totals\t%.3f\t%.3f\t%.3f\t%.3f\t-\t-\t1.00\t%d / %d\t-\n", boundName, f.alpha,
		meanBound(f.bound, func(s scenario) bool { return s.errRatio == 1.5 }), bound2x,
		meanBound(f.bound, func(s scenario) bool { return s.errRatio == 5 }), horizon, horizon)
	tw.Flush()

	f.byCell(w, "2x errors, by weight and volume: detection, median intervals to decide",
		[]string{"5% @ 20 rps", "5% @ 100 rps", "5% @ 500 rps", "50% @ 20 rps", "50% @ 100 rps", "50% @ 500 rps"},
		func(s scenario, col int) bool {
			return s.weight == []float64{0.05, 0.5}[col/3] && s.rps == []float64{20, 100, 500}[col%3]
		})
	f.byCell(w, "2x errors at 100 rps, by the primary's error rate and weight: detection, median intervals to decide",
		[]string{"5% @ 0.1% errors", "5% @ 1% errors", "5% @ 5% errors", "50% @ 0.1% errors", "50% @ 1% errors", "50% @ 5% errors"},
		func(s scenario, col int) bool {
			return s.rps == 100 && s.weight == []float64{0.05, 0.5}[col/3] && s.baseRate == []float64{0.001, 0.01, 0.05}[col%3]
		})

	fmt.Fprintln(w)
	fmt.Fprintln(w, "2x errors where the data can tell within the hold (Wald's estimate of the time the rate test needs is at most 10 intervals):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "judge\tdetection\tintervals to decide (median / p95)\tfalse rollback of good canaries in the same traffic")
	for _, name := range judgeNames {
		var bad, good []outcome
		for _, o := range f.steady[name] {
			if !decidable(o.scenario) {
				continue
			}
			switch {
			case o.scenario.errRatio == 2 && o.scenario.latency == 1:
				bad = append(bad, o)
			case o.scenario.good():
				good = append(good, o)
			}
		}
		in := intervalsOf(bad)
		fmt.Fprintf(tw, "%s\t%.3f\t%d / %d\t%.3f\n", name, detected(bad), median(in), percentile(in, 0.95), detected(good))
	}
	fmt.Fprintf(tw, "%s\t%.3f\t%d / %d\t-\n", boundName, meanBound(f.bound, func(s scenario) bool { return s.errRatio == 2 && decidable(s) }), horizon, horizon)
	tw.Flush()

	f.reportShapes(w)
	f.reportGoals(w)

	fmt.Fprintln(w)
	for _, name := range judgeNames {
		s := summarise(f.steady[name])
		fmt.Fprintf(w, "BENCH judge=%s false_rollback=%.4f detect_2x=%.4f share_of_bound_2x=%.3f median_intervals=%d median_intervals_to_rollback=%d bad_requests=%.0f\n",
			name, s.falseRollback, s.detect[truthKey{2, 1}], s.detect[truthKey{2, 1}]/bound2x, s.medianIntervals2x, s.medianToRollback, s.badRequests)
	}
	fmt.Fprintf(w, "BENCH judge=bound false_rollback=%.4f detect_2x=%.4f\n", f.alpha, bound2x)
	for _, sf := range f.shapes {
		s := summarise(sf.outcomes[trancheName])
		fmt.Fprintf(w, "BENCH shape=%s judge=%s false_rollback=%.4f detect_2x=%.4f bound_2x=%.4f\n", slug(sf.shape.name()), trancheName,
			s.falseRollback, s.detect[truthKey{2, 1}], meanBound(sf.bound, func(scenario) bool { return true }))
	}
}

// setting is how a judge of the lineup is set.
func (f findings) setting(name string) string {
	switch name {
	case flaggerName:
		return fmt.Sprintf("limits %.1fx baseline, 5 failures", tutorialTimes)
	case argoName:
		return fmt.Sprintf("limits %.1fx baseline, 1 failure", tutorialTimes)
	case kayentaName:
		return fmt.Sprintf("z > %.2f", kayentaZ)
	case trancheName:
		return "defaults"
	case flaggerName + atTranche:
		return fmt.Sprintf("limits %.2fx baseline, 5 failures", f.cal.flagger)
	case argoName + atTranche:
		return fmt.Sprintf("limits %.2fx baseline, 1 failure", f.cal.argo)
	case kayentaName + atTranche:
		return fmt.Sprintf("z > %.2f", f.cal.kayentaZ)
	}
	return ""
}

// byCell prints detection and median intervals of 2x error canaries in the cells the columns
// select, for every judge and the bound.
func (f findings) byCell(w io.Writer, title string, columns []string, in func(s scenario, col int) bool) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "judge\t"+strings.Join(columns, "\t"))
	twice := func(s scenario) bool { return s.errRatio == 2 && s.latency == 1 }
	for _, name := range judgeNames {
		fmt.Fprint(tw, name)
		for col := range columns {
			var sel []outcome
			for _, o := range f.steady[name] {
				if twice(o.scenario) && in(o.scenario, col) {
					sel = append(sel, o)
				}
			}
			fmt.Fprintf(tw, "\t%.2f, %d", detected(sel), median(intervalsOf(sel)))
		}
		fmt.Fprintln(tw)
	}
	fmt.Fprint(tw, "bound")
	for col := range columns {
		fmt.Fprintf(tw, "\t%.2f, %d", meanBound(f.bound, func(s scenario) bool { return twice(s) && in(s, col) }), horizon)
	}
	fmt.Fprintln(tw)
	tw.Flush()
}

// reportShapes prints the judges on traffic with what the steady traces lack.
func (f findings) reportShapes(w io.Writer) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Traffic with what the steady traces lack: good canaries and canaries with 2x the errors, over the same grid;")
	fmt.Fprintln(w, "the peers as recalibrated on the steady traces. Each cell: false rollback / detection of 2x.")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "traffic\tassumption of docs/analysis.md tried\t\ttranche-compare\tbound\tshare of bound\t"+
		trancheTotalsName+"\t"+flaggerName+atTranche+"\t"+argoName+atTranche+"\t"+kayentaName+atTranche)
	steady := shapeFindings{outcomes: map[string][]outcome{}, bound: map[scenario]float64{}}
	for name, os := range f.steady {
		for _, o := range os {
			if o.scenario.latency == 1 && (o.scenario.errRatio == 1 || o.scenario.errRatio == 2) {
				steady.outcomes[name] = append(steady.outcomes[name], o)
			}
		}
	}
	for s, p := range f.bound {
		if s.errRatio == 2 {
			steady.bound[s] = p
		}
	}
	for _, sf := range append([]shapeFindings{steady}, f.shapes...) {
		name, assumption, kept := "steady", "-", "kept"
		if sf.shape != nil {
			var breaks bool
			name = sf.shape.name()
			assumption, breaks = sf.shape.tries()
			if breaks {
				kept = "broken"
			}
		}
		cell := func(judge string) string {
			s := summarise(sf.outcomes[judge])
			return fmt.Sprintf("%.3f / %.3f", s.falseRollback, s.detect[truthKey{2, 1}])
		}
		bound := meanBound(sf.bound, func(scenario) bool { return true })
		totals := "-" // the steady bench runs the judge with parts only
		if sf.shape != nil {
			totals = cell(trancheTotalsName)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.3f\t%.2f\t%s\t%s\t%s\t%s\n", name, assumption, kept, cell(trancheName), bound,
			summarise(sf.outcomes[trancheName]).detect[truthKey{2, 1}]/bound, totals,
			cell(flaggerName+atTranche), cell(argoName+atTranche), cell(kayentaName+atTranche))
	}
	tw.Flush()
}

// reportGoals prints the goals the issue set for the numbers, and whether they are met. The
// bench is not tuned to them.
func (f findings) reportGoals(w io.Writer) {
	t := summarise(f.steady[trancheName])
	bound2x := meanBound(f.bound, func(s scenario) bool { return s.errRatio == 2 })
	bestPeer, bestPeerName := 0.0, ""
	for _, name := range []string{flaggerName + atTranche, argoName + atTranche, kayentaName + atTranche} {
		if d := summarise(f.steady[name]).detect[truthKey{2, 1}]; d >= bestPeer {
			bestPeer, bestPeerName = d, name
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Goals (steady traffic unless said):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	goal := func(what, measured string, met bool) {
		verdict := "met"
		if !met {
			verdict = "MISSED"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", what, measured, verdict)
	}
	goal("false rollbacks at most 1%", fmt.Sprintf("%.2f%%", 100*t.falseRollback), t.falseRollback <= 0.01)
	share := t.detect[truthKey{2, 1}] / bound2x
	goal("2x detection at least 90% of the bound", fmt.Sprintf("%.3f of %.3f: %.0f%%", t.detect[truthKey{2, 1}], bound2x, 100*share), share >= 0.9)
	half := func(s scenario) bool { return s.weight == 0.5 && s.errRatio == 2 }
	at50, bound50 := detectionWhere(f.steady[trancheName], half), meanBound(f.bound, half)
	goal("2x detection at 50% weight at least 90% of the bound", fmt.Sprintf("%.3f of %.3f: %.0f%%", at50, bound50, 100*at50/bound50), at50 >= 0.9*bound50)
	worstShare, worstShareShape := math.Inf(1), ""
	for _, sf := range f.shapes {
		if b := meanBound(sf.bound, half); b > 0 {
			if r := detectionWhere(sf.outcomes[trancheName], half) / b; r < worstShare {
				worstShare, worstShareShape = r, sf.shape.name()
			}
		}
	}
	goal("2x detection at 50% weight at least 90% of the bound on every shape, the worst", fmt.Sprintf("%.0f%% (%s)", 100*worstShare, worstShareShape), worstShare >= 0.9)
	goal("2x detection above every recalibrated peer", fmt.Sprintf("%.3f against %.3f (%s)", t.detect[truthKey{2, 1}], bestPeer, bestPeerName),
		t.detect[truthKey{2, 1}] > bestPeer)
	goal("median time to a rollback at most half the hold", fmt.Sprintf("%d of %d intervals", t.medianToRollback, horizon),
		2*t.medianToRollback <= horizon)
	worst, worstShape := 0.0, ""
	for _, sf := range f.shapes {
		if fr := summarise(sf.outcomes[trancheName]).falseRollback; fr >= worst {
			worst, worstShape = fr, sf.shape.name()
		}
	}
	goal("false rollbacks at most 1% on every shape, the worst", fmt.Sprintf("%.2f%% (%s)", 100*worst, worstShape), worst <= 0.01)
	for _, sf := range f.shapes {
		assumption, breaks := sf.shape.tries()
		fr := summarise(sf.outcomes[trancheName]).falseRollback
		what := "false rollbacks at most 1% with " + sf.shape.name()
		if breaks {
			what += " (breaks: " + assumption + ")"
		}
		goal(what, fmt.Sprintf("%.2f%%", 100*fr), fr <= 0.01)
	}
	tw.Flush()
}

// detectionWhere is the share of the outcomes of the scenarios keep selects that rolled back.
func detectionWhere(outcomes []outcome, keep func(scenario) bool) float64 {
	rolledBack, n := 0, 0
	for _, o := range outcomes {
		if keep(o.scenario) {
			n++
			if o.rolledBack {
				rolledBack++
			}
		}
	}
	if n == 0 {
		return 0
	}
	return float64(rolledBack) / float64(n)
}

// meanBound is the bound's mean power over the scenarios keep selects.
func meanBound(bound map[scenario]float64, keep func(scenario) bool) float64 {
	sum, n := 0.0, 0
	for s, p := range bound {
		if keep(s) {
			sum += p
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// slug is a name for a BENCH line.
func slug(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, strings.ToLower(strings.ReplaceAll(name, "%", "pct")))
}
