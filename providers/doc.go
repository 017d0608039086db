// Package providers defines the Router interface every traffic provider implements, and the
// explicit registry that maps a Rollout's provider block to one (an unknown name is an
// error, never a fallback).
//
// Each mesh or gateway lives in a package of its own below this one and ships its built-in
// metric templates; all of them pass one shared conformance suite. Providers know the API
// types and their data plane's objects, and nothing of the reconciler.
package providers
