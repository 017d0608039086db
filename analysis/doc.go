// Package analysis measures a canary and judges it.
//
// Metric backends (Prometheus, through client_golang's api package) only return numbers;
// rendering a MetricTemplate's query with a Rollout's variables, and judging values against
// thresholds, are pure code here, as is calling the Rollout's webhooks (gates and hooks).
// Nothing in this package knows about the reconciler, the Kubernetes client or the traffic
// providers: credentials, for one, come in as plain values that the controller read.
package analysis
