// Package conformance is the suite every traffic provider passes against a real API server,
// so that the controller can rely on the Router contract alike for all of them: a fresh
// Rollout routes to the primary, Routes reads back what SetRoutes wrote, repeated calls do not
// write, Reconcile keeps the split and the user's fields, unsupported splits fail with
// providers.ErrUnsupported, and providers.HandBack gives everything back to the primary.
//
// Each provider's package runs it from a test, with the Capabilities that describe the
// provider. The suite knows the Router contract and the API types, and nothing of any one
// provider or of the reconciler.
package conformance
