// Package kubernetes is the blue/green provider for clusters without a mesh or gateway: it
// switches all traffic between the primary and the canary at once by changing the selector of
// the Service clients call. It cannot split, match or mirror requests, and has no metrics of
// its own.
//
// It knows the Router contract, the API types and core Services, and nothing of the
// reconciler.
package kubernetes
