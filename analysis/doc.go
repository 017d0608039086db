// Package analysis measures a canary and judges it.
//
// Metric backends (Prometheus, through client_golang's api package) only return numbers;
// rendering a MetricTemplate's query with a Rollout's variables, and judging values against
// thresholds or against the primary, are pure code here. Nothing in this package knows about
// the reconciler, the Kubernetes client or the traffic providers.
package analysis
