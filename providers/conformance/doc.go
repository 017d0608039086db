// Package conformance is the suite every traffic provider passes against a real API server,
// so that the controller can rely on the Router contract alike for all of them: a fresh
// Rollout routes to the primary, Routes reads back what SetRoutes wrote, repeated calls do not
// write, Reconcile keeps the split and the user's fields, unsupported splits fail with
// providers.ErrUnsupported, providers.HandBack gives everything back to the primary, and a
// field of the wrong type is an error naming it (ErrUnreadable in Tranche's fields,
// ErrMalformed in the user's).
//
// Each provider's package runs it from a test, with the Capabilities that describe the
// provider. The package also holds what those tests share: a Rollout to start from
// (NewRollout, Start), golden files of the objects each kind of step writes (GoldenSteps),
// the built-in queries evaluated by Prometheus's own engine (CheckBuiltinQueries), and
// writing a field past a CRD's schema (WriteUnchecked).
//
// The suite knows the Router contract and the API types, and nothing of any one provider or
// of the reconciler. It does not start the control plane: the tests' harness does, in each
// provider's TestMain.
package conformance
