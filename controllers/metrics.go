package controllers

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tranche-dev/tranche/notify"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
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
		Help: "1 for a Rollout's current phase, 0 for the others.",
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

var allPhases = []trancheapi.Phase{
	trancheapi.PhaseInitializing, trancheapi.PhaseInitialized, trancheapi.PhaseProgressing,
	trancheapi.PhaseWaitingApproval, trancheapi.PhasePromoting, trancheapi.PhaseSucceeded,
	trancheapi.PhaseFailed, trancheapi.PhaseAborted, trancheapi.PhasePaused,
}

func init() {
	metrics.Registry.MustRegister(rolloutInfo, rolloutPhase, canaryWeight, rolloutDuration, analysisChecks, analysisValue, stepDuration,
		notify.Notifications, notify.WebhookCalls)
}

// observeMetrics updates the metrics from a reconcile's plan.
func observeMetrics(ro *trancheapi.Rollout, p plan) {
	ns, name, st := ro.Namespace, ro.Name, p.status
	rolloutInfo.DeletePartialMatch(prometheus.Labels{"namespace": ns, "name": name})
	rolloutInfo.WithLabelValues(ns, name, providers.Name(ro), ro.Spec.TargetRef.Name, st.StableRevision, st.CanaryRevision).Set(1)
	for _, phase := range allPhases {
		v := 0.0
		if phase == st.Phase {
			v = 1
		}
		rolloutPhase.WithLabelValues(ns, name, string(phase)).Set(v)
	}
	canaryWeight.WithLabelValues(ns, name).Set(float64(st.CanaryWeight))
	if p.analysed {
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
	for _, step := range p.passed {
		stepDuration.WithLabelValues(ns, name, strconv.Itoa(int(step.index)+1)).Observe(step.held.Seconds())
	}
	if p.ended != "" {
		rolloutDuration.WithLabelValues(ns, name, string(p.ended)).Observe(p.took.Seconds())
	}
}

// forgetMetrics drops the series of a deleted Rollout: every vector above has them, and so
// has the notification webhooks' counter.
func forgetMetrics(ns, name string) {
	labels := prometheus.Labels{"namespace": ns, "name": name}
	for _, vec := range []interface{ DeletePartialMatch(prometheus.Labels) int }{rolloutInfo, rolloutPhase, canaryWeight, rolloutDuration, analysisChecks, analysisValue, stepDuration} {
		vec.DeletePartialMatch(labels)
	}
	notify.ForgetRollout(ns, name)
}
