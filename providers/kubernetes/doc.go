// Package kubernetes is the blue/green provider for clusters without a mesh or gateway: it
// switches all traffic between the primary and the canary at once by changing the selector of
// the Service clients call. It cannot split, match or mirror requests, and has no metrics of
// its own.
//
// It creates no object. Of the Services the controller makes for a Rollout it owns one field,
// the apex Service's spec.selector, which it copies whole from the primary's or the canary's
// Service; the rest of the apex Service (labels, annotations a user adds) is left alone.
//
// The package knows the Router contract, the API types and core Services. It knows nothing
// of the reconciler or of other providers.
package kubernetes
