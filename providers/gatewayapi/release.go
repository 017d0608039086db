package gatewayapi

import (
	"context"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/traffic"
)

var _ providers.Releaser = (*Router)(nil)

// Release hands the route over to the app when its Rollout goes: Tranche's rule sends
// everything to the apex Service alone (the canary rules and filters go, as for an idle
// Rollout), the Rollout's ownership comes off, and the handed-over annotation lets a Rollout
// of the same name take the route back. The user's rules and filters stay.
func (r *Router) Release(ctx context.Context, ro *trancheapi.Rollout) (traffic.Acceptance, error) {
	targets, err := r.targetsOf(ro)
	if err != nil {
		return traffic.Acceptance{}, err
	}
	// A port's route that is gone does not keep the others from being released.
	var words []traffic.Acceptance
	var gone error
	for _, t := range targets {
		word, err := r.release(ctx, ro, t)
		switch {
		case apierrors.IsNotFound(err):
			gone = err
		case err != nil:
			return traffic.Acceptance{}, err
		default:
			words = append(words, word)
		}
	}
	if len(words) == 0 {
		return traffic.Acceptance{}, gone
	}
	return weightiest(words), nil
}

// release is Release for one port's route.
func (r *Router) release(ctx context.Context, ro *trancheapi.Rollout, t target) (traffic.Acceptance, error) {
	var released *gatewayv1.HTTPRoute
	err := t.kind.update(ctx, r.c, t.key(), func(route *gatewayv1.HTTPRoute) error {
		released = route
		if providers.HandedOver(route) {
			return nil
		}
		if err := controlled(route, ro, t.kind); err != nil {
			return err
		}
		if err := applyRoutes(route, ro, t, traffic.Routes{}); err != nil {
			return err
		}
		rule := &route.Spec.Rules[tranchesRule(route, t)]
		rule.BackendRefs = slices.DeleteFunc(rule.BackendRefs, func(ref gatewayv1.HTTPBackendRef) bool {
			return isService(ref.BackendObjectReference, t.namespace, t.canary)
		})
		rule.BackendRefs[refIndex(rule.BackendRefs, t.namespace, t.primary)] = weighted(serviceRef(t.apex, t.port), 1)
		providers.MarkReleased(route, ro)
		return nil
	})
	if err != nil {
		return traffic.Acceptance{}, fmt.Errorf("releasing %s: %w", t, err)
	}
	return acceptance(released), nil
}

// takeBack makes a route that a Rollout of the same name released the Rollout's again: the
// rule Release left sending to the apex Service goes back to the primary, and the Rollout
// controls it. That rule is the one whose only backendRef is the apex Service, or, when a
// user has since added backendRefs of their own to it (in a TCPRoute, whose one rule is
// Tranche's, that is where theirs go), the first other than the canary rules that sends to
// the apex: its apex backendRef becomes the primary's and the canary's, the user's stay. Any
// other route is left as it is, and so is every route for a Rollout being deleted (which
// released it).
func takeBack(route *gatewayv1.HTTPRoute, ro *trancheapi.Rollout, t target) {
	if !providers.TakeBack(route, ro) {
		return
	}
	released := slices.IndexFunc(route.Spec.Rules, func(rule gatewayv1.HTTPRouteRule) bool {
		return len(rule.BackendRefs) == 1 && isService(rule.BackendRefs[0].BackendObjectReference, t.namespace, t.apex) && !isCanaryRule(rule)
	})
	if released < 0 {
		released = slices.IndexFunc(route.Spec.Rules, func(rule gatewayv1.HTTPRouteRule) bool {
			return refIndex(rule.BackendRefs, t.namespace, t.apex) >= 0 && !isCanaryRule(rule)
		})
	}
	if released < 0 {
		return
	}
	rule := &route.Spec.Rules[released]
	apex := refIndex(rule.BackendRefs, t.namespace, t.apex)
	rule.BackendRefs = slices.Replace(rule.BackendRefs, apex, apex+1,
		weighted(serviceRef(t.primary, t.port), 100), weighted(serviceRef(t.canary, t.port), 0))
}

// GRPCServicesRouted is ServicesRouted for a gRPC service's GRPCRoute.
func GRPCServicesRouted(route *gatewayv1.GRPCRoute, ro *trancheapi.Rollout) []string {
	return ServicesRouted(httpView(route), ro)
}

// TCPServicesRouted is ServicesRouted for a TCP service's TCPRoute.
func TCPServicesRouted(route *gatewayv1.TCPRoute, ro *trancheapi.Rollout) []string {
	return ServicesRouted(tcpView(route), ro)
}

// ServicesRouted lists the Rollout's Services (the apex, the primary, the canary) that some
// rule of the route sends requests to, in that order: what a deleted Rollout's route
// serves from.
func ServicesRouted(route *gatewayv1.HTTPRoute, ro *trancheapi.Rollout) []string {
	names := ro.ServiceNames()
	var routed []string
	for _, name := range []string{names.Apex, names.Primary, names.Canary} {
		for _, rule := range route.Spec.Rules {
			if refIndex(rule.BackendRefs, ro.Namespace, name) >= 0 {
				routed = append(routed, name)
				break
			}
		}
	}
	return routed
}
