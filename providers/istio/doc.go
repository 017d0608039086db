// Package istio is the istio provider: a VirtualService named after the Rollout splits the
// Rollout's hosts between the primary and canary Services, and DestinationRules
// <rollout>-primary and <rollout>-canary give both the same traffic policy (mutual TLS,
// outlier detection, connection pool), so that the canary is judged under the mesh's real
// conditions. All three are in the Rollout's namespace and controlled by it.
//
// Tranche owns, of the VirtualService, spec.hosts, spec.gateways and three HTTP routes found
// by name: tranche (the split, with the mirror), tranche-match (an A/B step's matching
// requests, to the canary) and tranche-sticky (clients the canary marked with the affinity
// cookie, to the canary); of each DestinationRule, spec.host and the tls, outlierDetection
// and connectionPool of spec.trafficPolicy. Everything else is the user's and is kept: routes
// they add to the VirtualService, in their places; the rest of a traffic policy (a load
// balancer, say); labels and annotations. A field of theirs of the wrong type is an error
// (providers.ErrMalformed), since Tranche can neither keep nor repair it.
//
// The package knows the Router contract, the API types and Istio's networking.istio.io/v1
// kinds, read as unstructured. It knows nothing of the reconciler or of other providers.
package istio
