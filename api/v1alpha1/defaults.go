package v1alpha1

import (
	"slices"
	"time"
)

// EffectiveSteps returns spec.steps, or when there are none the default steps for the
// Rollout's provider. The default depends on the provider, which an OpenAPI default cannot
// express: blue/green cannot send 5% of traffic.
func (s *RolloutSpec) EffectiveSteps() []Step {
	if len(s.Steps) > 0 {
		return s.Steps
	}
	if s.Provider.Kubernetes != nil {
		return []Step{{Weight: ptrTo[int32](0)}, {Weight: ptrTo[int32](100)}}
	}
	return []Step{{Weight: ptrTo[int32](5)}, {Weight: ptrTo[int32](50)}, {Weight: ptrTo[int32](100)}}
}

func ptrTo[T any](v T) *T { return &v }

// Defaults of the analysis, the progress deadline and the scale-down delay. The API server applies most of them
// too; these hold where it did not: objects built in code (tests, clients) and fields left
// zero.
const (
	DefaultAnalysisInterval  = time.Minute
	DefaultProgressDeadline  = 10 * time.Minute
	DefaultFailureLimit      = 2
	DefaultInconclusiveLimit = 3
	DefaultScaleDownDelay    = 30 * time.Second
	DefaultRollbackHold      = 10 * time.Second
	DefaultScrapeInterval    = 15 * time.Second
)

// EffectiveInterval is how often the canary is analysed.
func (s *RolloutSpec) EffectiveInterval() time.Duration {
	if a := s.Analysis; a != nil && a.Interval != nil && a.Interval.Duration > 0 {
		return a.Interval.Duration
	}
	return DefaultAnalysisInterval
}

// EffectiveScrapeInterval is how often Prometheus scrapes the counters the Compare metrics
// read.
func (s *RolloutSpec) EffectiveScrapeInterval() time.Duration {
	if a := s.Analysis; a != nil && a.ScrapeInterval != nil && a.ScrapeInterval.Duration > 0 {
		return a.ScrapeInterval.Duration
	}
	return DefaultScrapeInterval
}

// EffectiveProgressDeadline is how long the canary may take to become ready.
func (s *RolloutSpec) EffectiveProgressDeadline() time.Duration {
	if d := s.ProgressDeadline; d != nil && d.Duration > 0 {
		return d.Duration
	}
	return DefaultProgressDeadline
}

// EffectiveScaleDownDelay is how long the canary keeps its replicas after traffic left it.
func (s *RolloutSpec) EffectiveScaleDownDelay() time.Duration {
	if d := s.ScaleDownDelay; d != nil {
		return max(0, d.Duration)
	}
	return DefaultScaleDownDelay
}

// PacedRollback reports whether a failed or aborted rollout hands traffic back in steps.
func (s *RolloutSpec) PacedRollback() bool {
	return s.Rollback != nil && s.Rollback.Pace == RollbackSteps
}

// EffectiveRollbackHold is how long each weight on the way back is held.
func (s *RolloutSpec) EffectiveRollbackHold() time.Duration {
	if r := s.Rollback; r != nil && r.Hold != nil && r.Hold.Duration > 0 {
		return r.Hold.Duration
	}
	return DefaultRollbackHold
}

// RollbackWeights are the canary's weights on the way back, highest first: rollback.weights,
// or the weights strictly between 0 and 100 of the rollout's steps.
func (s *RolloutSpec) RollbackWeights() []int32 {
	var weights []int32
	if r := s.Rollback; r != nil && len(r.Weights) > 0 {
		weights = slices.Clone(r.Weights)
	} else {
		for _, step := range s.EffectiveSteps() {
			if w := step.Weight; w != nil && *w > 0 && *w < 100 && len(step.Match) == 0 {
				weights = append(weights, *w)
			}
		}
	}
	slices.Sort(weights)
	slices.Reverse(weights)
	return slices.Compact(weights)
}

// EffectiveFailureLimit is how many failed analysis runs roll the canary back.
func (s *RolloutSpec) EffectiveFailureLimit() int32 {
	if a := s.Analysis; a != nil && a.FailureLimit > 0 {
		return a.FailureLimit
	}
	return DefaultFailureLimit
}

// EffectiveInconclusiveLimit is how many inconclusive runs in a row roll the canary back.
func (s *RolloutSpec) EffectiveInconclusiveLimit() int32 {
	if a := s.Analysis; a != nil && a.InconclusiveLimit > 0 {
		return a.InconclusiveLimit
	}
	return DefaultInconclusiveLimit
}

// Defaults of session affinity.
const (
	DefaultAffinityCookie = "tranche-canary"
	DefaultAffinityMaxAge = 24 * time.Hour
)

// EffectiveCookieName is the name of the cookie that keeps a client on the canary.
func (a *SessionAffinity) EffectiveCookieName() string {
	if a.CookieName != "" {
		return a.CookieName
	}
	return DefaultAffinityCookie
}

// EffectiveMaxAge is how long a client keeps the cookie.
func (a *SessionAffinity) EffectiveMaxAge() time.Duration {
	if a.MaxAge != nil && a.MaxAge.Duration > 0 {
		return a.MaxAge.Duration
	}
	return DefaultAffinityMaxAge
}

// Defaults of the Compare judge.
const (
	DefaultErrorRateTolerance = 0
	DefaultLatencyTolerance   = 10
	DefaultDetect             = 100
	DefaultFalseRollback      = 0.01
	DefaultMissedRegression   = 0.01
	// The rate test's promise holds at any number of requests (see analysis/sequential):
	// its minimum only keeps a verdict from a handful. The rank test of latencies compares
	// histograms, which a few requests fill too coarsely.
	DefaultMinRequests        = 20
	DefaultLatencyMinRequests = 100
)

// EffectiveCompare is the metric's compare block with every default filled in.
func (m *Metric) EffectiveCompare() CompareSpec {
	var c CompareSpec
	if m.Compare != nil {
		c = *m.Compare.DeepCopy()
	}
	if c.Kind == "" {
		c.Kind = CompareErrorRate
	}
	if c.Tolerance == nil {
		tolerance := int32(DefaultErrorRateTolerance)
		if c.Kind == CompareLatency {
			tolerance = DefaultLatencyTolerance
		}
		c.Tolerance = &tolerance
	}
	if c.Detect == nil {
		c.Detect = ptrTo[int32](DefaultDetect)
	}
	if c.FalseRollback == nil {
		c.FalseRollback = ptrTo(DefaultFalseRollback)
	}
	if c.MissedRegression == nil {
		c.MissedRegression = ptrTo(DefaultMissedRegression)
	}
	if c.MinRequests == nil {
		minimum := int32(DefaultMinRequests)
		if c.Kind == CompareLatency {
			minimum = DefaultLatencyMinRequests
		}
		c.MinRequests = &minimum
	}
	if c.InsufficientData == "" {
		c.InsufficientData = InsufficientWait
	}
	if c.Undecided == "" {
		c.Undecided = UndecidedPass
	}
	return c
}

// HasAnalysis reports whether anything is measured while a step holds: a metric, or a
// webhook of type Rollout.
func (s *RolloutSpec) HasAnalysis() bool {
	a := s.Analysis
	return a != nil && (len(a.Metrics) > 0 || a.VerifyTraffic != nil || s.HasWebhook(WebhookRollout))
}

// EffectiveTolerance is the tolerance with its default.
func (v *VerifyTraffic) EffectiveTolerance() int32 {
	if v.Tolerance == 0 {
		return 5
	}
	return v.Tolerance
}

// HasWebhook reports whether the Rollout has a webhook of the type.
func (s *RolloutSpec) HasWebhook(kind WebhookType) bool {
	return len(s.WebhooksOf(kind)) > 0
}

// WebhooksOf returns the Rollout's webhooks of a type, in the order of the spec; a webhook
// without a type is of type Rollout.
func (s *RolloutSpec) WebhooksOf(kind WebhookType) []Webhook {
	if s.Analysis == nil {
		return nil
	}
	var hooks []Webhook
	for _, h := range s.Analysis.Webhooks {
		if h.Type == kind || (h.Type == "" && kind == WebhookRollout) {
			hooks = append(hooks, h)
		}
	}
	return hooks
}

// EffectiveHold is how long a step must hold: its hold, or one analysis interval when it has
// none and there is analysis, or nothing at all.
func (s *RolloutSpec) EffectiveHold(step Step) time.Duration {
	switch {
	case step.Hold != nil:
		return step.Hold.Duration
	case s.HasAnalysis():
		return s.EffectiveInterval()
	}
	return 0
}
