package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Analysis says what is measured while a step holds and when the canary has failed.
// +kubebuilder:validation:XValidation:rule="!has(self.scrapeInterval) || !has(self.interval) || duration(self.scrapeInterval) <= duration(self.interval)",fieldPath=".scrapeInterval",message="scrapeInterval must be no longer than interval: a run would read less than a scrape"
type Analysis struct {
	// interval between two analysis runs. Default: 1m.
	// +optional
	// +kubebuilder:default="1m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s')",message="interval must be at least 1s"
	Interval *metav1.Duration `json:"interval,omitempty"`

	// scrapeInterval is how often Prometheus scrapes the counters the Compare metrics read.
	// The Compare judge reads the step's counts in parts (a quarter of the interval), and a
	// part shorter than a scrape would hold one sample or none, so parts are no shorter than
	// it: with Prometheus scraping every 5s and an interval of 20s, the parts are 5s, and a
	// verdict, which needs errors in three parts, can come at the first run. Default: 15s,
	// Prometheus's most common.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s')",message="scrapeInterval must be at least 1s"
	ScrapeInterval *metav1.Duration `json:"scrapeInterval,omitempty"`

	// endHoldEarly lets a step end its hold as soon as every Compare metric has shown, with
	// the confidence its spec asks, that the canary is not worse (and every other check
	// passed). Without it a step always holds for its hold. Default: false.
	// +optional
	EndHoldEarly bool `json:"endHoldEarly,omitempty"`

	// dryRun makes every check of the analysis (metrics, verifyTraffic, Rollout webhooks)
	// a dry run: see Metric.dryRun. Gates are not checks and stay gates. Default: false.
	// +optional
	DryRun bool `json:"dryRun,omitempty"`

	// failureLimit is how many failed runs roll the canary back. Default: 2.
	// +optional
	// +kubebuilder:default=2
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	FailureLimit int32 `json:"failureLimit,omitempty"`

	// inconclusiveLimit is how many runs in a row may return no data (or NaN) before one
	// counts as failed. An inconclusive run never counts as a pass. Default: 3.
	// +optional
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	InconclusiveLimit int32 `json:"inconclusiveLimit,omitempty"`

	// metrics evaluated at every run; a run fails when any metric fails.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	Metrics []Metric `json:"metrics,omitempty"`

	// webhooks called during the rollout; see WebhookType for when each kind is called.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	Webhooks []Webhook `json:"webhooks,omitempty"`

	// verifyTraffic checks, at every run of a step that splits traffic by weight, that the
	// canary received the share of requests the step gives it, as the data plane's own
	// metrics count them (the built-in metric traffic-share): a data plane that does not
	// follow the weight fails the run like any failed metric. It needs a provider with
	// built-in metrics. With session affinity only a share below the weight fails, since
	// kept clients add to it; a step that gives the canary traffic fails when it received
	// none, whatever the tolerance.
	// +optional
	VerifyTraffic *VerifyTraffic `json:"verifyTraffic,omitempty"`
}

// VerifyTraffic says how far the canary's measured share of requests may be from its weight.
type VerifyTraffic struct {
	// tolerance is how far the measured share may be from the step's weight, in percentage
	// points either way. Default: 5.
	// +optional
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=50
	Tolerance int32 `json:"tolerance,omitempty"`
}

// Metric is one measurement and how it is judged.
// +kubebuilder:validation:XValidation:rule="has(self.templateRef) != has(self.builtin)",message="a metric needs exactly one of templateRef or builtin"
// +kubebuilder:validation:XValidation:rule="!has(self.min) || !has(self.max) || self.min <= self.max",message="min must not be greater than max"
// +kubebuilder:validation:XValidation:rule="self.judge != 'Threshold' || has(self.min) || has(self.max)",message="a Threshold metric needs min, max or both"
// +kubebuilder:validation:XValidation:rule="self.judge != 'Compare' || (!has(self.min) && !has(self.max))",message="a Compare metric is judged against the primary: leave out min and max"
// +kubebuilder:validation:XValidation:rule="self.judge != 'Compare' || has(self.templateRef)",message="a Compare metric needs a templateRef whose MetricTemplate counts requests per workload (see docs/analysis.md): the built-in metrics are rates"
// +kubebuilder:validation:XValidation:rule="!has(self.compare) || self.judge == 'Compare'",message="compare tunes the Compare judge: set judge: Compare, or leave compare out"
type Metric struct {
	// name of the metric, unique in the Rollout.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// templateRef names a MetricTemplate holding the query. Default namespace: the Rollout's.
	// +optional
	TemplateRef *NamespacedObjectReference `json:"templateRef,omitempty"`

	// builtin names a query that ships with the Rollout's provider.
	// +optional
	Builtin BuiltinMetric `json:"builtin,omitempty"`

	// judge decides the verdict: Threshold compares the canary's value with min and max;
	// Compare tests the canary against the primary over the same window. Default: Threshold.
	// +optional
	// +kubebuilder:default=Threshold
	Judge Judge `json:"judge,omitempty"`

	// min is the lowest passing value (inclusive), in the query's unit.
	// +optional
	Min *float64 `json:"min,omitempty"`

	// max is the highest passing value (inclusive), in the query's unit.
	// +optional
	Max *float64 `json:"max,omitempty"`

	// compare tunes the Compare judge. Default: every field's default.
	// +optional
	Compare *CompareSpec `json:"compare,omitempty"`

	// dryRun evaluates the metric at every run and records, shows, counts and notifies its
	// verdicts as a dry run, and never acts on them: a failing dry-run metric neither rolls
	// back nor holds a step, and a passing one neither ends a hold early nor opens a gate.
	// It is how an analysis earns trust before it may block a release. Default: false.
	// +optional
	DryRun bool `json:"dryRun,omitempty"`
}

// CompareSpec tunes how the Compare judge tests the canary against the primary. The test
// is sequential: it may be read after every analysis run, and it stops as soon as the
// evidence is enough either way (docs/analysis.md has the method).
// +kubebuilder:validation:XValidation:rule="self.kind != 'ErrorRate' || !has(self.tolerance) || !has(self.detect) || self.detect > self.tolerance",message="detect must be above tolerance"
type CompareSpec struct {
	// kind of measurement. ErrorRate: the template's query counts the workload's errors and
	// its totalQuery its requests over {{ .Window }}. Latency: the query returns the
	// workload's latency histogram buckets over {{ .Window }}, by le. Default: ErrorRate.
	// +optional
	// +kubebuilder:default=ErrorRate
	Kind CompareKind `json:"kind,omitempty"`

	// tolerance is the degradation, in percent, that still passes: of the error rate for
	// ErrorRate, of the median latency for Latency. Default: 0 for ErrorRate, 10 for Latency.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	Tolerance *int32 `json:"tolerance,omitempty"`

	// detect is the degradation of the error rate, in percent, that must be caught (100:
	// twice the errors). ErrorRate only. Default: 100.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	Detect *int32 `json:"detect,omitempty"`

	// falseRollback is the highest chance of rolling back a canary that is no worse than
	// tolerated, over the whole step, however often it is analysed. Default: 0.01.
	// +optional
	// +kubebuilder:validation:ExclusiveMinimum=true
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=0.5
	FalseRollback *float64 `json:"falseRollback,omitempty"`

	// missedRegression is the highest chance of passing, early, a canary whose error rate is
	// worse by detect. ErrorRate only. Default: 0.01.
	// +optional
	// +kubebuilder:validation:ExclusiveMinimum=true
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=0.5
	MissedRegression *float64 `json:"missedRegression,omitempty"`

	// minRequests the canary must have served in the step before any verdict. Default: 20
	// for an errorRate comparison, 100 for latency.
	// +optional
	// +kubebuilder:validation:Minimum=1
	MinRequests *int32 `json:"minRequests,omitempty"`

	// insufficientData is what a run without enough requests means. Wait: nothing yet, the
	// step holds until there is enough. Fail: a failed run. Pause: the rollout waits for a
	// person to promote or abort. Default: Wait.
	// +optional
	// +kubebuilder:default=Wait
	InsufficientData InsufficientDataPolicy `json:"insufficientData,omitempty"`

	// undecided is what an ErrorRate test that has reached neither bound when the step's
	// hold ends means. Pass: the step passes, and says it passed undecided. Fail: the canary
	// is rolled back. Extend: the step holds on while the test is undecided, for as
	// long as the judge estimates a verdict takes at the traffic seen (at most
	// progressDeadline past the hold), and passes undecided when that is over. Default: Pass.
	// +optional
	// +kubebuilder:default=Pass
	Undecided UndecidedPolicy `json:"undecided,omitempty"`
}

// UndecidedPolicy is what a Compare test that is still undecided at the end of the hold
// means.
// +kubebuilder:validation:Enum=Pass;Fail;Extend
type UndecidedPolicy string

// The policies for an undecided test.
const (
	UndecidedPass   UndecidedPolicy = "Pass"
	UndecidedFail   UndecidedPolicy = "Fail"
	UndecidedExtend UndecidedPolicy = "Extend"
)

// CompareKind is what a Compare metric measures.
// +kubebuilder:validation:Enum=ErrorRate;Latency
type CompareKind string

// The kinds of Compare metrics.
const (
	CompareErrorRate CompareKind = "ErrorRate"
	CompareLatency   CompareKind = "Latency"
)

// InsufficientDataPolicy is what a Compare run without enough requests means.
// +kubebuilder:validation:Enum=Wait;Fail;Pause
type InsufficientDataPolicy string

// The policies for insufficient data.
const (
	InsufficientWait  InsufficientDataPolicy = "Wait"
	InsufficientFail  InsufficientDataPolicy = "Fail"
	InsufficientPause InsufficientDataPolicy = "Pause"
)

// BuiltinMetric names a query that every provider ships for its data plane.
// +kubebuilder:validation:Enum=request-success-rate;request-duration;traffic-share
type BuiltinMetric string

// The built-in metrics.
const (
	// BuiltinRequestSuccessRate is the percent of requests not answered with a 5xx, 0 to 100.
	BuiltinRequestSuccessRate BuiltinMetric = "request-success-rate"
	// BuiltinRequestDuration is the 99th percentile of request duration, in milliseconds.
	BuiltinRequestDuration BuiltinMetric = "request-duration"
	// BuiltinTrafficShare is the percent of the requests to the primary and the canary
	// that the canary received, 0 to 100.
	BuiltinTrafficShare BuiltinMetric = "traffic-share"
)

// Judge is how a metric's values become a verdict.
// +kubebuilder:validation:Enum=Threshold;Compare
type Judge string

// The judges.
const (
	JudgeThreshold Judge = "Threshold"
	JudgeCompare   Judge = "Compare"
)

// Webhook is an HTTP endpoint Tranche calls (POST, JSON) at a point of the rollout. An
// answer other than 2xx, or none within the timeout, means no.
type Webhook struct {
	// name of the webhook, unique in the Rollout.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// type says when the webhook is called. Default: Rollout.
	// +optional
	// +kubebuilder:default=Rollout
	Type WebhookType `json:"type,omitempty"`

	// url to POST to: an absolute http or https URL.
	// +required
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHost() != ''",message="url must be an absolute http or https URL"
	URL string `json:"url"`

	// timeout of one call. Default: 10s.
	// +optional
	// +kubebuilder:default="10s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s') && duration(self) <= duration('5m')",message="timeout must be between 0s (excluded) and 5m"
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// metadata is passed to the webhook in the payload's metadata field.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	Metadata map[string]string `json:"metadata,omitempty"`
}

// WebhookType says when a webhook is called. A gate (Confirm*) that answers no makes the
// rollout wait and ask again at the next analysis interval; a gate still closed when
// progressDeadline passes rolls the canary back.
//
//   - ConfirmRollout: gate before the canary is scaled up.
//   - PreRollout: once before traffic first moves; no counts as a failed check.
//   - Rollout: at every analysis run, like a metric; no counts as a failed check.
//   - ConfirmTrafficIncrease: gate before each weight increase.
//   - ConfirmPromotion: gate before promotion.
//   - PostRollout: after promotion; the answer is only recorded.
//   - Rollback: after a rollback or abort; the answer is only recorded.
//   - Event: at every transition, with the event's message; the answer is only recorded.
//
// +kubebuilder:validation:Enum=ConfirmRollout;PreRollout;Rollout;ConfirmTrafficIncrease;ConfirmPromotion;PostRollout;Rollback;Event
type WebhookType string

// The webhook types.
const (
	WebhookConfirmRollout         WebhookType = "ConfirmRollout"
	WebhookPreRollout             WebhookType = "PreRollout"
	WebhookRollout                WebhookType = "Rollout"
	WebhookConfirmTrafficIncrease WebhookType = "ConfirmTrafficIncrease"
	WebhookConfirmPromotion       WebhookType = "ConfirmPromotion"
	WebhookPostRollout            WebhookType = "PostRollout"
	WebhookRollback               WebhookType = "Rollback"
	WebhookEvent                  WebhookType = "Event"
)
