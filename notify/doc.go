// Package notify delivers a Rollout's news to Slack, Microsoft Teams and generic webhooks.
//
// Delivery is asynchronous, bounded and retried: a slow or failing endpoint never slows a
// reconcile. Endpoint URLs come from Secrets and never appear in logs, events or status.
// The package knows the API types and nothing of the reconciler.
package notify
