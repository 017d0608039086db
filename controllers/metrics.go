package controllers

import (
	"slices"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tranche-dev/tranche/notify"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/controllers/planner"
	"github.com/tranche-dev/tranche/providers"
)

// The manager's own metrics, served on its metrics endpoint with controller-runtime's.
var (
	rolloutInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tranche_rollout_info",
		Help: "A Rollout's provider, target and revisions; always 1.",
	}, []string{"namespace", "name", "provider", "target", "stable_revision", "canary_revision"})
	rolloutPhase = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tranche_rollout_phase",
		Help: "1, labelled with a Rollout's current phase: one series a Rollout.",
	}, []string{"namespace", "name", "phase"})
	canaryWeight = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tranche_rollout_canary_weight",
		Help: "Percent of traffic the data plane was last told to send to the canary.",
	}, []string{"namespace", "name"})
	rolloutDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "tranche_rollout_duration_seconds",
		Help:    "Time from the start of a rollout to its promotion or rollback.",
		Buckets: prometheus.ExponentialBuckets(15, 2, 10), // 15 s to about 2 h
	}, []string{"namespace", "name", "result"})
	analysisChecks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tranche_analysis_checks_total",
		Help: "Analysis checks run, by verdict; dry_run is true for a dry-run metric's, which are never acted on.",
	}, []string{"namespace", "name", "metric", "verdict", "dry_run"})
	analysisValue = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tranche_analysis_value",
		Help: "The value a metric's latest check measured (metric traffic/share: the canary's measured share, in percent).",
	}, []string{"namespace", "name", "metric"})
	stepDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "tranche_step_duration_seconds",
		Help:    "Time a step held, from the data plane taking its split to the step passing; step counts from 1.",
		Buckets: prometheus.ExponentialBuckets(5, 2, 10), // 5 s to about 43 min
	}, []string{"namespace", "name", "step"})
)

// The info and phase gauges have one series a Rollout, whose labels change with it.
var (
	infoSeries  = &oneSeries{vec: rolloutInfo}
	phaseSeries = &oneSeries{vec: rolloutPhase}
)

// oneSeries keeps one series a Rollout in a gauge vector, at 1, and remembers its labels so
// that a change deletes the old series without scanning the vector (a scan on every
// reconcile costs as much as there are Rollouts).
type oneSeries struct {
	vec  *prometheus.GaugeVec
	mu   sync.Mutex
	last map[types.NamespacedName][]string
}

// set makes labels (after namespace and name) the Rollout's one series.
func (o *oneSeries) set(ns, name string, labels ...string) {
	values := append([]string{ns, name}, labels...)
	key := types.NamespacedName{Namespace: ns, Name: name}
	o.mu.Lock()
	defer o.mu.Unlock()
	if old, ok := o.last[key]; ok && !slices.Equal(old, values) {
		o.vec.DeleteLabelValues(old...)
	}
	o.vec.WithLabelValues(values...).Set(1)
	if o.last == nil {
		o.last = map[types.NamespacedName][]string{}
	}
	o.last[key] = values
}

func (o *oneSeries) forget(ns, name string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.last, types.NamespacedName{Namespace: ns, Name: name})
}

func init() {
	metrics.Registry.MustRegister(rolloutInfo, rolloutPhase, canaryWeight, rolloutDuration, analysisChecks, analysisValue, stepDuration,
		notify.Notifications, notify.WebhookCalls)
}

// observeMetrics updates the metrics from a reconcile's plan.
func observeMetrics(ro *trancheapi.Rollout, p planner.Plan) {
	ns, name, st := ro.Namespace, ro.Name, p.Status
	infoSeries.set(ns, name, providers.Name(ro), ro.Spec.TargetRef.Name, st.StableRevision, st.CanaryRevision)
	// One series a Rollout, not one for each phase at 0 or 1: at 10,000 Rollouts the others
	// were 80,000 series the manager kept and Prometheus scraped for nothing.
	// sum by (phase) (tranche_rollout_phase) counts the Rollouts in each phase either way.
	phaseSeries.set(ns, name, string(st.Phase))
	canaryWeight.WithLabelValues(ns, name).Set(float64(st.CanaryWeight))
	if p.Analysed {
		for _, c := range st.LastChecks {
			if !c.At.Equal(st.LastAnalysisAt) {
				continue
			}
			analysisChecks.WithLabelValues(ns, name, c.Metric, string(c.Verdict), strconv.FormatBool(c.DryRun)).Inc()
			if v, err := strconv.ParseFloat(c.Value, 64); err == nil {
				analysisValue.WithLabelValues(ns, name, c.Metric).Set(v)
			}
		}
	}
	for _, step := range p.Passed {
		stepDuration.WithLabelValues(ns, name, strconv.Itoa(int(step.Index)+1)).Observe(step.Held.Seconds())
	}
	if p.Ended != "" {
		rolloutDuration.WithLabelValues(ns, name, string(p.Ended)).Observe(p.Took.Seconds())
	}
}

// forgetMetrics drops the series of a deleted Rollout: every vector above has them, and so
// has the notification webhooks' counter.
func forgetMetrics(ns, name string) {
	labels := prometheus.Labels{"namespace": ns, "name": name}
	for _, vec := range []interface{ DeletePartialMatch(prometheus.Labels) int }{rolloutInfo, rolloutPhase, canaryWeight, rolloutDuration, analysisChecks, analysisValue, stepDuration} {
		vec.DeletePartialMatch(labels)
	}
	infoSeries.forget(ns, name)
	phaseSeries.forget(ns, name)
	notify.ForgetRollout(ns, name)
}
