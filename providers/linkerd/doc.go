// Package linkerd is the linkerd provider. Linkerd splits a Service's traffic as a Gateway API
// HTTPRoute attached to that Service says (Gateway API's mesh mode, GAMMA), so the Router is
// the gatewayAPI provider's, attached to the Rollout's Service, with the query templates over
// linkerd-proxy's metrics (providers.LinkerdProxy) and without mirroring, which Linkerd's
// HTTPRoute support lacks.
//
// It owns what the gatewayAPI provider owns of the HTTPRoute named after the Rollout (see
// package gatewayapi), whose one parentRef is the Rollout's Service; the rest of the route is
// the user's and is kept.
//
// Clusters that run the linkerd-smi extension and split with TrafficSplits use the smi
// provider, which reads the same linkerd-proxy metrics.
//
// The package knows the Router contract, the API types and package gatewayapi, which it is
// made of (the one provider another provider may import, see docs/architecture.md). It knows
// nothing of the reconciler or of other providers.
package linkerd
