// Package smi is the smi provider: a TrafficSplit named after the Rollout, in its namespace
// and controlled by it, sends the Rollout's Service's traffic to the primary and canary
// Services by weight. The TrafficSplit is written in whichever version of split.smi-spec.io
// the cluster serves, from v1alpha2 on: their weighted backends are the same, so one
// implementation reads the served version from the API server and adapts.
//
// Tranche owns spec.service and spec.backends. The rest is the user's and is kept:
// spec.matches (v1alpha3 on), which narrows the split to some routes, labels and annotations.
// A spec of the wrong type is an error (providers.ErrMalformed): Tranche cannot keep it.
//
// The package knows the Router contract, the API types and the TrafficSplit kind, read as
// unstructured. It knows nothing of the reconciler or of other providers (linkerd-smi being
// the SMI implementation in use, the built-in queries are the providers root's linkerd-proxy
// ones).
package smi
