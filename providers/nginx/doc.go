// Package nginx is the nginx provider (ingress-nginx): a canary Ingress named
// <rollout>-canary beside the user's Ingress (spec.provider.nginx.ingressRef), with the same
// rules and TLS, every backend turned to the canary Service, and ingress-nginx's canary
// annotations saying how much of the traffic, or which requests, it takes.
//
// Tranche owns the canary Ingress, which is controlled by the Rollout: its spec, copied from
// the user's Ingress at every reconcile; the canary annotations (nginx.ingress.kubernetes.io/
// canary and canary-*); and, while it keeps clients on the canary, the affinity annotations,
// marked as Tranche's by tranche.dev/nginx-affinity. The user's other annotations are copied
// onto it; labels and annotations a user adds to the canary Ingress alone are kept. The
// user's Ingress is only read.
//
// ingress-nginx can match one header (exactly or by a regular expression) and one cookie
// (whose value "always" sends to the canary), but no query parameter and no mirror: Tranche
// refuses those rather than ignoring them.
//
// The package knows the Router contract, the API types and networking.k8s.io/v1 Ingresses.
// It knows nothing of the reconciler or of other providers.
package nginx
