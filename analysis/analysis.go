package analysis

import (
	"context"
	"errors"
	"time"
)

// ErrNoData is returned by a Querier when a query returns no sample.
var ErrNoData = errors.New("query returned no data")

// Querier runs an instant query and returns its single value.
type Querier interface {
	// Query evaluates query at time at. A result that is not exactly one number is an error
	// (ErrNoData when there is none); NaN and infinities are returned as they are.
	Query(ctx context.Context, query string, at time.Time) (float64, error)
}

// Vars are the values a MetricTemplate query may use, as {{ .Namespace }} and so on.
type Vars struct {
	Rollout   string // the Rollout's name (routing objects are named after it)
	Namespace string // the Rollout's namespace
	Target    string // the target Deployment's name
	Primary   string // the primary Deployment's name, <target>-primary
	Canary    string // the canary Deployment's name, the target's name
	Service   string // the apex Service's name
	Interval  string // the analysis interval as a PromQL range, such as 1m or 30s

	// The workload measured: the canary, but for the queries of a Compare metric (which run
	// once for each workload) and a paced rollback's measures of the primary.
	Workload        string // the Deployment measured: the canary's or the primary's
	WorkloadService string // its Service: <target>-canary or <target>-primary
	// For the queries of a Compare metric:
	Window string // the time since the step's split began, as a PromQL range
}
