package controllers

import (
	"time"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
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

// stepHold is how long a step must hold: its hold, or one analysis interval when it has
// none and there is analysis, or nothing at all.
func stepHold(ro *trancheapi.Rollout, step trancheapi.Step) time.Duration {
	switch {
	case step.Hold != nil:
		return step.Hold.Duration
	case hasAnalysis(ro):
		return ro.Spec.EffectiveInterval()
	}
	return 0
}
