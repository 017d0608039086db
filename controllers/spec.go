package controllers

import (
	"time"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// The spec's defaults, for Rollouts created before a default existed or built in tests
// without the API server's defaulting.
const (
	defaultInterval          = time.Minute
	defaultProgressDeadline  = 10 * time.Minute
	defaultFailureLimit      = 2
	defaultInconclusiveLimit = 3
)

// hasAnalysis reports whether anything is measured while a step holds.
func hasAnalysis(ro *trancheapi.Rollout) bool {
	a := ro.Spec.Analysis
	return a != nil && (len(a.Metrics) > 0 || hasWebhook(ro, trancheapi.WebhookRollout))
}

func hasWebhook(ro *trancheapi.Rollout, kind trancheapi.WebhookType) bool {
	return len(webhooksOf(ro, kind)) > 0
}

func webhooksOf(ro *trancheapi.Rollout, kind trancheapi.WebhookType) []trancheapi.Webhook {
	if ro.Spec.Analysis == nil {
		return nil
	}
	var hooks []trancheapi.Webhook
	for _, h := range ro.Spec.Analysis.Webhooks {
		if h.Type == kind || (h.Type == "" && kind == trancheapi.WebhookRollout) {
			hooks = append(hooks, h)
		}
	}
	return hooks
}

func analysisInterval(ro *trancheapi.Rollout) time.Duration {
	if a := ro.Spec.Analysis; a != nil && a.Interval != nil && a.Interval.Duration > 0 {
		return a.Interval.Duration
	}
	return defaultInterval
}

func progressDeadline(ro *trancheapi.Rollout) time.Duration {
	if d := ro.Spec.ProgressDeadline; d != nil && d.Duration > 0 {
		return d.Duration
	}
	return defaultProgressDeadline
}

func failureLimit(ro *trancheapi.Rollout) int32 {
	if a := ro.Spec.Analysis; a != nil && a.FailureLimit > 0 {
		return a.FailureLimit
	}
	return defaultFailureLimit
}

func inconclusiveLimit(ro *trancheapi.Rollout) int32 {
	if a := ro.Spec.Analysis; a != nil && a.InconclusiveLimit > 0 {
		return a.InconclusiveLimit
	}
	return defaultInconclusiveLimit
}

// stepHold is how long a step must hold: its hold, or one analysis interval when it has
// none and there is analysis, or nothing at all.
func stepHold(ro *trancheapi.Rollout, step trancheapi.Step) time.Duration {
	switch {
	case step.Hold != nil:
		return step.Hold.Duration
	case hasAnalysis(ro):
		return analysisInterval(ro)
	}
	return 0
}
