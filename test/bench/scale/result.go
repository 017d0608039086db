package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// result is what one size measured.
type result struct {
	rollouts                    int
	initialized, rolledOut      time.Duration
	idleRSS, rss, heap, cpu     float64 // bytes, bytes, bytes, CPU seconds
	reconcileP50, reconcileP99  float64 // seconds
	stepLagP50, stepLagP99      time.Duration
	steps                       int
	writesPerStep, readsPerStep float64
	writesPerRollout            float64
	// writesByKind are the writes a rollout, by kind, from the API server's audit log;
	// otherWrites says what the "other" ones were.
	writesByKind       map[string]float64
	otherWrites        string
	queriesPerInterval float64
	// initializing is who did the work while the Rollouts initialized.
	initializing busy
}

const mib = 1 << 20

func (r result) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "rollouts\t%d (%d progressing at once)\n", r.rollouts, max(1, r.rollouts/10))
	fmt.Fprintf(tw, "all initialized after\t%s\n", r.initialized.Round(time.Second))
	fmt.Fprintf(tw, "while initializing\t%s\n", r.initializing)
	fmt.Fprintf(tw, "10%% rolled out in\t%s\n", r.rolledOut.Round(time.Second))
	fmt.Fprintf(tw, "RSS idle / after the rollouts\t%.0f MiB / %.0f MiB\n", r.idleRSS/mib, r.rss/mib)
	fmt.Fprintf(tw, "heap in use\t%.0f MiB\n", r.heap/mib)
	fmt.Fprintf(tw, "CPU\t%.1f s\n", r.cpu)
	fmt.Fprintf(tw, "reconcile latency p50 / p99\t%.1f ms / %.1f ms\n", 1000*r.reconcileP50, 1000*r.reconcileP99)
	fmt.Fprintf(tw, "step lag p50 / p99 (%d step changes)\t%s / %s\n", r.steps, r.stepLagP50.Round(time.Millisecond), r.stepLagP99.Round(time.Millisecond))
	fmt.Fprintf(tw, "API writes / reads per step\t%.1f / %.1f (%.1f writes a rollout of %d steps)\n", r.writesPerStep, r.readsPerStep, r.writesPerRollout, stepsPerRollout)
	var kinds, fields []string
	for _, kind := range writeKinds {
		kinds = append(kinds, fmt.Sprintf("%s %.1f", kind, r.writesByKind[kind]))
		fields = append(fields, fmt.Sprintf("writes_%s=%.2f", kind, r.writesByKind[kind]))
	}
	fmt.Fprintf(tw, "API writes a rollout by kind (audit log)\t%s\n", strings.Join(kinds, ", "))
	if r.otherWrites != "" {
		fmt.Fprintf(tw, "the other writes\t%s\n", r.otherWrites)
	}
	fmt.Fprintf(tw, "Prometheus queries per interval\t%.0f\n", r.queriesPerInterval)
	tw.Flush()
	fmt.Fprintf(w, "BENCH rollouts=%d rss_mib=%.0f p99_step_lag_s=%.2f writes_per_step=%.1f %s\n",
		r.rollouts, r.rss/mib, r.stepLagP99.Seconds(), r.writesPerStep, strings.Join(fields, " "))
}
