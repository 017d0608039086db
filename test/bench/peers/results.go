package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// results are each contender's figures over its releases.
type results []figures

// figures are one contender's, as min / median / max over its releases where there are
// several.
type figures struct {
	name                      string
	goodTraffic, goodEnd      []float64 // seconds
	badTraffic, badEnd        []float64
	badFailed, badAnswered    []float64
	goodFailed                []float64
	goodWrites, badWrites     []float64
	goodReads, badReads       []float64
	goodCPU, badCPU           []float64 // seconds
	falseRollbacks, missedBad int
	writesByKind              map[string]int // over all releases
	rss                       float64        // MiB, at the end
	ready                     float64        // seconds from creating the canary object to ready
	idleWrites, idleReads     float64        // in the idle minute after the last rollout
	idleWritesByKind          map[string]int
	refused                   float64 // writes answered 409, over all releases
}

func summarize(runs []*run) results {
	var rs results
	for _, r := range runs {
		f := figures{name: r.c.name(), writesByKind: map[string]int{}, ready: r.readyAfter.Seconds(),
			idleWrites: float64(total(r.idle.writes)), idleReads: float64(r.idle.reads), idleWritesByKind: r.idle.writes}
		for _, o := range r.good {
			f.goodTraffic = append(f.goodTraffic, o.toTraffic.Seconds())
			f.goodEnd = append(f.goodEnd, o.toEnd.Seconds())
			f.goodFailed = append(f.goodFailed, float64(o.failed))
			f.goodWrites = append(f.goodWrites, float64(total(o.api.writes)))
			f.goodReads = append(f.goodReads, float64(o.api.reads))
			f.goodCPU = append(f.goodCPU, o.cpu.Seconds())
			if !o.promoted {
				f.falseRollbacks++
			}
			addTo(f.writesByKind, o.api.writes)
			f.refused += float64(o.api.refused)
		}
		for _, o := range r.bad {
			f.badTraffic = append(f.badTraffic, o.toTraffic.Seconds())
			f.badEnd = append(f.badEnd, o.toEnd.Seconds())
			f.badFailed = append(f.badFailed, float64(o.failed))
			f.badAnswered = append(f.badAnswered, float64(o.answered))
			f.badWrites = append(f.badWrites, float64(total(o.api.writes)))
			f.badReads = append(f.badReads, float64(o.api.reads))
			f.badCPU = append(f.badCPU, o.cpu.Seconds())
			if o.promoted {
				f.missedBad++
			}
			addTo(f.writesByKind, o.api.writes)
			f.refused += float64(o.api.refused)
		}
		if bytes, err := rss(r.pid); err == nil {
			f.rss = float64(bytes) / (1 << 20)
		}
		rs = append(rs, f)
	}
	return rs
}

// row is one figure of the table: how to read it of a contender, and the key of its median
// in the BENCH lines ("" for none).
type row struct {
	name   string
	values func(f figures) []float64
	format string
	key    string
}

var rows = []row{
	{"good release: edit to all traffic on it (s)", func(f figures) []float64 { return f.goodTraffic }, "%.1f", "good_traffic_s"},
	{"good release: edit to Succeeded (s)", func(f figures) []float64 { return f.goodEnd }, "%.1f", "good_end_s"},
	{"good release: failed client requests", func(f figures) []float64 { return f.goodFailed }, "%.0f", ""},
	{"bad release: edit to all traffic back on the old version (s)", func(f figures) []float64 { return f.badTraffic }, "%.1f", "bad_traffic_s"},
	{"bad release: edit to Failed (s)", func(f figures) []float64 { return f.badEnd }, "%.1f", ""},
	{"bad release: failed client requests", func(f figures) []float64 { return f.badFailed }, "%.0f", "bad_failed"},
	{"bad release: requests the bad version answered", func(f figures) []float64 { return f.badAnswered }, "%.0f", ""},
	{"API writes a rollout, events aside (good)", func(f figures) []float64 { return f.goodWrites }, "%.0f", "good_writes"},
	{"API writes a rollout, events aside (bad)", func(f figures) []float64 { return f.badWrites }, "%.0f", "bad_writes"},
	{"API writes refused (409) over all releases", func(f figures) []float64 { return []float64{f.refused} }, "%.0f", ""},
	{"API reads a rollout (good)", func(f figures) []float64 { return f.goodReads }, "%.0f", "good_reads"},
	{"API reads a rollout (bad)", func(f figures) []float64 { return f.badReads }, "%.0f", ""},
	{"a new canary object: created to ready to release (s)", func(f figures) []float64 { return []float64{f.ready} }, "%.1f", "ready_s"},
	{"API writes in the idle minute after a rolled-back release", func(f figures) []float64 { return []float64{f.idleWrites} }, "%.0f", "idle_writes"},
	{"API reads in the idle minute after a rolled-back release", func(f figures) []float64 { return []float64{f.idleReads} }, "%.0f", "idle_reads"},
	{"controller CPU a rollout (good, s)", func(f figures) []float64 { return f.goodCPU }, "%.2f", "good_cpu_s"},
	{"controller CPU a rollout (bad, s)", func(f figures) []float64 { return f.badCPU }, "%.2f", "bad_cpu_s"},
	{"controller RSS at the end (MiB)", func(f figures) []float64 { return []float64{f.rss} }, "%.0f", "rss_mib"},
}

func (rs results) print(w io.Writer, set settings, rate int) {
	fmt.Fprintf(w, "\nSame stack, %d req/s to each app, interval %s, failure threshold %d, steps %v then promote, success rate >= %.0f%%\n\n",
		rate, set.interval, set.threshold, set.weights, set.minimum)
	fmt.Fprintf(w, "| figure (min / median / max) |")
	for _, f := range rs {
		fmt.Fprintf(w, " %s |", f.name)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "|---|"+strings.Repeat("---|", len(rs)))
	for _, r := range rows {
		fmt.Fprintf(w, "| %s |", r.name)
		for _, f := range rs {
			fmt.Fprintf(w, " %s |", spread(r.values(f), r.format))
		}
		fmt.Fprintln(w)
	}
	for _, f := range rs {
		fmt.Fprintf(w, "\n%s: false rollbacks %d, bad releases promoted %d, writes by kind %s; in the idle minute %s\n",
			f.name, f.falseRollbacks, f.missedBad, byKind(f.writesByKind), byKind(f.idleWritesByKind))
	}
	// BENCH lines: the medians, and Tranche's over each peer's.
	tranche := rs[0]
	for _, f := range rs {
		fmt.Fprintf(w, "BENCH peers controller=%s", f.name)
		var ratios strings.Builder
		for _, r := range rows {
			if r.key == "" {
				continue
			}
			m := median(r.values(f))
			fmt.Fprintf(w, " %s=%.3f", r.key, m)
			if f.name != tranche.name && m != 0 {
				fmt.Fprintf(&ratios, " %s_ratio=%.2f", r.key, median(r.values(tranche))/m)
			}
		}
		fmt.Fprint(w, ratios.String())
		fmt.Fprintln(w)
	}
}

func spread(values []float64, format string) string {
	if len(values) == 0 {
		return "-"
	}
	s := slices.Sorted(slices.Values(values))
	if len(s) == 1 {
		return fmt.Sprintf(format, s[0])
	}
	return fmt.Sprintf(format+" / "+format+" / "+format, s[0], median(s), s[len(s)-1])
}

func median(values []float64) float64 {
	if len(values) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(values))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func addTo(sum, m map[string]int) {
	for k, v := range m {
		sum[k] += v
	}
}

func byKind(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}
