// Package gatewayapi splits traffic with a Gateway API HTTPRoute (gateway.networking.k8s.io/v1),
// for any implementation that reads backendRefs weights: Traefik, Envoy Gateway, Istio,
// Contour, Linkerd (GAMMA) and others. A gRPC service's route is a GRPCRoute, which the
// package reads and writes through an HTTPRoute view of it (grpc.go): what follows holds for
// both kinds.
//
// The route is named after the Rollout, lives in its namespace and is controlled by it. Users
// may edit it: Tranche owns only these parts of it, and keeps everything else as it finds it:
//
//   - spec.parentRefs and spec.hostnames, which follow spec.provider.gatewayAPI;
//   - "Tranche's backendRefs": in Tranche's rule (the first rule with a backendRef to the
//     primary Service, other than the canary rules), the backendRefs naming the primary and
//     the canary Services of the Rollout's namespace; Tranche sets their weight and port;
//   - in that rule, the RequestMirror filter whose backendRef names the canary Service, the
//     timeouts when spec.provider.gatewayAPI.timeouts is set, and, while the canary keeps its
//     clients, the ResponseHeaderModifier filter of the canary's backendRef that sets the
//     affinity cookie;
//   - the canary rules tranche-canary-match (during A/B steps) and tranche-canary-sticky
//     (while the canary keeps its clients), derived from Tranche's rule.
//
// Recognising its parts by the Services they name and the rules by name, rather than by
// position, lets a user add, reorder or remove rules of their own without confusing Tranche.
//
// The package knows the Router contract, the API types and Gateway API's. It knows nothing of
// the reconciler, nor of the providers made of it (linkerd attaches its route to a Service
// through NewWith).
package gatewayapi
