package providers

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// Queries are a provider's built-in metric templates, by metric, in the MetricTemplate query
// syntax (a Go template over analysis.Vars). A data plane without request metrics has none.
type Queries map[trancheapi.BuiltinMetric]string

// Query returns the template of a built-in metric, or an error wrapping ErrUnsupported that
// says what the provider knows instead.
func (q Queries) Query(metric trancheapi.BuiltinMetric) (string, error) {
	if query, ok := q[metric]; ok {
		return query, nil
	}
	if len(q) == 0 {
		return "", fmt.Errorf("built-in metric %q: this provider's data plane exports no request metrics; use templateRef with a MetricTemplate: %w",
			metric, ErrUnsupported)
	}
	var known []string
	for _, m := range slices.Sorted(maps.Keys(q)) {
		known = append(known, string(m))
	}
	return "", fmt.Errorf("built-in metric %q is not one this provider knows (it knows %s): %w",
		metric, strings.Join(known, ", "), ErrUnsupported)
}

// RequestMetrics describe a data plane's metrics of the requests a workload receives, as the
// common shape of every provider's built-in queries: a counter of requests, labelled so that
// failures can be told apart, and a histogram of their durations.
type RequestMetrics struct {
	// Requests is the name of the request counter.
	Requests string
	// Canary holds the label matchers that select the canary's series of both metrics.
	Canary string
	// Primary holds those that select the primary's series of the request counter, for the
	// canary's share of the requests; "" when the data plane's metrics cannot tell them.
	Primary string
	// Succeeded is the matcher that leaves the failed requests out, such as code!~"5..".
	Succeeded string
	// DurationBuckets is the name of the duration histogram's _bucket series.
	DurationBuckets string
	// DurationInSeconds is true when the histogram counts seconds (the queries answer in
	// milliseconds).
	DurationInSeconds bool
}

// Queries are the built-in queries over these metrics.
//
// request-success-rate is the percent of the canary's requests that succeeded. The
// successes default to 0 when no success series exists yet, so a canary failing every
// request reads 0 rather than no data; without any request series there is no answer.
//
// request-duration is the 99th percentile of the canary's request duration in milliseconds.
//
// traffic-share is the percent of the requests to the primary and the canary that the canary
// received. Either side without series counts 0 while the other has some, so that a canary
// the data plane sends nothing reads 0; without any series there is no answer.
func (m RequestMetrics) Queries() Queries {
	window := `[{{ .Interval }}]`
	duration := `histogram_quantile(0.99, sum by (le) (
  rate(` + m.DurationBuckets + `{` + m.Canary + `}` + window + `)
))`
	if m.DurationInSeconds {
		duration = "1000 * " + duration
	}
	queries := Queries{
		trancheapi.BuiltinRequestSuccessRate: `100 * (
  (sum(rate(` + m.Requests + `{` + m.Canary + `, ` + m.Succeeded + `}` + window + `)) or vector(0))
  / sum(rate(` + m.Requests + `{` + m.Canary + `}` + window + `))
)`,
		trancheapi.BuiltinRequestDuration: duration,
	}
	if m.Primary != "" {
		rate := func(selector string) string {
			return `sum(rate(` + m.Requests + `{` + selector + `}` + window + `))`
		}
		canary, primary := rate(m.Canary), rate(m.Primary)
		canary, primary = `(`+canary+` or 0 * `+primary+`)`, `(`+primary+` or 0 * `+canary+`)`
		queries[trancheapi.BuiltinTrafficShare] = "100 * " + canary + "\n/ (" + canary + " + " + primary + ")"
	}
	return queries
}

// BuiltinQueries are the PromQL templates of a Router's built-in metrics, in the
// MetricTemplate query syntax: those of its families of request metrics, joined by Either.
func BuiltinQueries(r Router) Queries {
	var families []Queries
	for _, m := range r.RequestMetrics() {
		families = append(families, m.Queries())
	}
	return Either(families...)
}

// BuiltinQueriesOfPrimary are BuiltinQueries with the primary's series in the canary's
// place; false when a family of the Router's metrics cannot tell the primary's series.
func BuiltinQueriesOfPrimary(r Router) (Queries, bool) {
	var families []Queries
	for _, m := range r.RequestMetrics() {
		primary, ok := m.OfPrimary()
		if !ok {
			return nil, false
		}
		families = append(families, primary.Queries())
	}
	return Either(families...), len(families) > 0
}

// OfPrimary are the same metrics with the primary's series in the canary's place, for a
// dashboard to set the primary beside the canary; false when the metrics cannot tell the
// primary's series.
func (m RequestMetrics) OfPrimary() (RequestMetrics, bool) {
	if m.Primary == "" {
		return RequestMetrics{}, false
	}
	m.Canary, m.Primary = m.Primary, m.Canary
	return m, true
}

// Either joins the queries of several families of metrics with PromQL's `or`, for a
// provider whose data plane may be one of several implementations: whichever family has
// series answers (the first when several do). A metric is in the result when every family
// has it; no family has no queries.
func Either(families ...Queries) Queries {
	if len(families) == 0 {
		return nil
	}
	joined := Queries{}
	for metric := range families[0] {
		var parts []string
		for _, f := range families {
			if q, ok := f[metric]; ok {
				parts = append(parts, q)
			}
		}
		if len(parts) == len(families) {
			joined[metric] = strings.Join(parts, "\nor\n")
		}
	}
	return joined
}

// LinkerdProxy are linkerd-proxy's request metrics, which the linkerd
// provider uses and the smi provider too (linkerd-smi being the SMI implementation in use).
// The proxy of each pod counts the requests it receives (direction="inbound") by the
// Deployment it belongs to: the canary's are those of the target Deployment. Linkerd
// classifies 5xx and gRPC errors as failures, and measures latency in milliseconds.
var LinkerdProxy = RequestMetrics{
	Requests:        "response_total",
	Canary:          `namespace="{{ .Namespace }}", deployment="{{ .Canary }}", direction="inbound"`,
	Primary:         `namespace="{{ .Namespace }}", deployment="{{ .Primary }}", direction="inbound"`,
	Succeeded:       `classification!="failure"`,
	DurationBuckets: "response_latency_ms_bucket",
}
