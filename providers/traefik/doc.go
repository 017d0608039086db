// Package traefik is the traefik provider: a TraefikService named after the Rollout, in its
// namespace and controlled by it, which the user's IngressRoute sends its traffic to.
//
// A weight step writes
//
//	spec.weighted.services: [{name: <target>-primary, port, weight: 100-w}, {name: <target>-canary, port, weight: w}]
//
// and a mirror step, which Traefik expresses as a different kind of TraefikService,
//
//	spec.mirroring: {name: <target>-primary, port, mirrors: [{name: <target>-canary, port, percent: p}]}
//
// Tranche owns those backends and, while it keeps clients on the canary, the weighted
// section's sticky cookie. Traefik serves one section at a time, so the other one goes; the
// user's fields of a section (sticky sessions of their own, say) wait in an annotation
// tranche.dev/traefik-<section> while it is away and come back with it. Those fields, labels
// and annotations are the user's and are kept; a section of the wrong type is an error
// (providers.ErrMalformed), since Tranche can neither keep nor repair it.
//
// The package knows the Router contract, the API types and Traefik's traefik.io/v1alpha1
// TraefikService, read as unstructured. It knows nothing of the reconciler or of other
// providers.
package traefik
