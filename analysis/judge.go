package analysis

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// Threshold judges one value against a metric's bounds, both inclusive; a nil bound does not
// limit. NaN (such as 0/0 when the canary got no request) and infinities say nothing about
// the canary, so they are Inconclusive, never Pass.
func Threshold(value float64, min, max *float64) trancheapi.Verdict {
	switch {
	case math.IsNaN(value) || math.IsInf(value, 0):
		return trancheapi.VerdictInconclusive
	case min != nil && value < *min, max != nil && value > *max:
		return trancheapi.VerdictFail
	}
	return trancheapi.VerdictPass
}

// Check is one evaluation of one metric, as the controller records it in status.
type Check struct {
	// Metric is the metric's name in spec.analysis.metrics.
	Metric string
	// Value is what the query returned; meaningful only when HasValue.
	Value float64
	// HasValue is false when the query failed or returned no data.
	HasValue bool
	// Verdict is the judge's answer.
	Verdict trancheapi.Verdict
	// Final is true when the verdict holds for the rest of the step (a Compare test that
	// reached its evidence bound).
	Final bool
	// Message explains the verdict, for a judge that has more to say than the value.
	Message string
	// Needs is how long into the step an Undecided test is expected to need for a verdict;
	// 0 when unknown.
	Needs time.Duration
	// Err is why the query failed; nil when it answered, with data or without.
	Err error
}

// Result is the check as status records it, made at time at; dryRun marks a check that is
// never acted on.
func (c Check) Result(dryRun bool, at time.Time) trancheapi.CheckResult {
	r := trancheapi.CheckResult{Metric: c.Metric, Value: c.ValueString(), Verdict: c.Verdict, Final: c.Final,
		Message: c.Message, DryRun: dryRun, At: metav1.NewMicroTime(at)}
	if c.Needs > 0 {
		r.Needs = &metav1.Duration{Duration: c.Needs.Round(time.Second)}
	}
	switch {
	case c.Err != nil:
		r.Message = c.Err.Error()
	case !c.HasValue && c.Message == "":
		r.Message = "the query returned no data"
	}
	return r
}

// ValueString writes the value for status: at most 4 decimals (4 significant digits below 1,
// so that a ratio such as 0.0001234 stays readable), NaN, +Inf, -Inf, or "" without a value.
func (c Check) ValueString() string {
	if !c.HasValue {
		return ""
	}
	v := c.Value
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case v == 0:
		return "0" // also for -0
	case math.Abs(v) < 1:
		return strconv.FormatFloat(v, 'g', 4, 64)
	case math.Abs(v) >= 1e15:
		return strconv.FormatFloat(v, 'g', -1, 64) // 'f' would write every digit
	}
	s := strconv.FormatFloat(v, 'f', 4, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// Evaluate runs one query and judges its value with Threshold. Every failure is
// Inconclusive: no data (the canary served nothing yet) without Err, an error (such as an
// unreachable Prometheus) with Err. Deciding when too many inconclusive runs count as a
// failure is the controller's job; an unreachable Prometheus never passes a canary.
func Evaluate(ctx context.Context, q Querier, query string, at time.Time, min, max *float64) Check {
	v, err := q.Query(ctx, query, at)
	switch {
	case errors.Is(err, ErrNoData):
		return Check{Verdict: trancheapi.VerdictInconclusive}
	case err != nil:
		return Check{Verdict: trancheapi.VerdictInconclusive, Err: err}
	}
	return Check{Value: v, HasValue: true, Verdict: Threshold(v, min, max)}
}
