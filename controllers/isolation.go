package controllers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/controllers/planner"
)

// Isolation is what a Rollout may have the controller use, in a cluster shared by teams. A
// Rollout that refers past it is Stalled, with a message naming the flag that refuses it,
// and nothing it refers to is read.
type Isolation struct {
	// NoCrossNamespaceRefs refuses references to MetricTemplates and NotificationProviders
	// in a namespace other than the Rollout's (--no-cross-namespace-refs, as Flux names it):
	// another team's template would lend its Prometheus credentials to a query whose
	// results land in this Rollout's status, and another team's provider its Slack URL. The
	// Secrets those objects name are in their own namespaces, so they are covered too.
	NoCrossNamespaceRefs bool
	// Namespaces are the namespaces the manager watches (--namespaces); empty: all. The
	// cache cannot read an object elsewhere, so a reference there is refused up front
	// rather than retried for ever.
	Namespaces []string
	// AllowedHosts, when not empty, are the only hosts the controller calls at a user's
	// word (--allowed-webhook-hosts): Rollout webhooks and the Prometheus addresses of
	// MetricTemplates stall the Rollout when refused, and a NotificationProvider's URL is
	// not called (the delivery fails, and is logged). A host is a name (api.example.com), a name's subdomains
	// (*.example.com) or an IP address.
	AllowedHosts []string
}

// refused reports the first reference of the Rollout its isolation refuses, before any of
// them is read.
func (iso Isolation) refused(ro *trancheapi.Rollout) *planner.Problem {
	for _, ref := range append(templateRefs(ro), providerRefs(ro)...) {
		switch ns := ref.key.Namespace; {
		case iso.NoCrossNamespaceRefs && ns != ro.Namespace:
			return &planner.Problem{Reason: trancheapi.ReasonReferenceRefused, Message: fmt.Sprintf(
				"%s refers to %s in namespace %q, and this controller runs with --no-cross-namespace-refs: a Rollout may refer only to objects in its own namespace %q; copy the object there",
				ref.field, ref.key.Name, ns, ro.Namespace)}
		case !iso.watches(ns):
			return &planner.Problem{Reason: trancheapi.ReasonReferenceRefused, Message: fmt.Sprintf(
				"%s refers to %s in namespace %q, which this controller does not watch (--namespaces=%s): move the object to a watched namespace, or add its namespace to the flag",
				ref.field, ref.key.Name, ns, strings.Join(iso.Namespaces, ","))}
		}
	}
	if a := ro.Spec.Analysis; a != nil {
		for _, hook := range a.Webhooks {
			if err := iso.allows(hook.URL); err != nil {
				return &planner.Problem{Reason: trancheapi.ReasonReferenceRefused, Message: fmt.Sprintf("webhook %s: %v", hook.Name, err)}
			}
		}
	}
	return nil
}

// refusedPrometheus reports the first MetricTemplate of the Rollout whose Prometheus address
// the isolation refuses. The templates come from the cache.
func (iso Isolation) refusedPrometheus(ctx context.Context, c client.Reader, ro *trancheapi.Rollout) (*planner.Problem, error) {
	if len(iso.AllowedHosts) == 0 {
		return nil, nil
	}
	for _, ref := range templateRefs(ro) {
		tmpl := &trancheapi.MetricTemplate{}
		if err := c.Get(ctx, ref.key, tmpl); err != nil {
			return nil, client.IgnoreNotFound(err) // a missing one is told of by readReferences
		}
		if p := tmpl.Spec.Prometheus; p != nil && p.Address != "" {
			if err := iso.allows(p.Address); err != nil {
				return &planner.Problem{Reason: trancheapi.ReasonReferenceRefused, Message: fmt.Sprintf(
					"MetricTemplate %s (%s): its Prometheus: %v", ref.key, ref.field, err)}, nil
			}
		}
	}
	return nil, nil
}

// watches reports whether the manager watches namespace ns.
func (iso Isolation) watches(ns string) bool {
	return len(iso.Namespaces) == 0 || slices.Contains(iso.Namespaces, ns)
}

// allows reports why the controller must not call address; nil when it may.
func (iso Isolation) allows(address string) error {
	if len(iso.AllowedHosts) == 0 {
		return nil
	}
	u, err := url.Parse(address)
	if err != nil || u.Hostname() == "" {
		return errors.New("the address is not a URL with a host") // an address may hold a secret: not echoed
	}
	host := strings.ToLower(u.Hostname())
	for _, allowed := range iso.AllowedHosts {
		allowed = strings.ToLower(allowed)
		if suffix, ok := strings.CutPrefix(allowed, "*."); ok && strings.HasSuffix(host, "."+suffix) || host == allowed {
			return nil
		}
	}
	if net.ParseIP(host) != nil {
		host = "address " + host
	}
	return fmt.Errorf("the host %s is not among the hosts this controller may call (--allowed-webhook-hosts=%s)", host, strings.Join(iso.AllowedHosts, ","))
}
