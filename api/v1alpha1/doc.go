// Package v1alpha1 holds the tranche.dev/v1alpha1 API: Rollout, MetricTemplate and
// NotificationProvider.
//
// The types are the user's documentation: every field says its JSON name, its default and
// its unit. Everything the API server can check (bounds, enums, cross-field rules in CEL) is
// declared here with kubebuilder markers, so that a bad spec is refused when it is applied
// rather than discovered mid-rollout.
//
// This package imports nothing of Tranche and nothing beyond k8s.io/apimachinery: every other
// package may import it, and it must stay a leaf.
//
// +kubebuilder:object:generate=true
// +groupName=tranche.dev
package v1alpha1
