package gatewayapi

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/traffic"
)

// An implementation lists the Gateway API features it supports (GEP-2162 names) in its
// GatewayClass's status.supportedFeatures. Tranche's splits use core features only, but for
// a mirror step's RequestMirror filter and the route timeouts of the spec. An implementation
// without them may take the route and fail its requests all the same: Traefik 3.7 answers
// every request of a rule that has a filter it lacks with a 500, and still says Accepted.
const (
	featureRequestMirror  gatewayv1.FeatureName = "HTTPRouteRequestMirror"
	featureRequestTimeout gatewayv1.FeatureName = "HTTPRouteRequestTimeout"
	featureBackendTimeout gatewayv1.FeatureName = "HTTPRouteBackendTimeout"
	featureGRPCRoute      gatewayv1.FeatureName = "GRPCRoute"
)

// featureUse says what each feature is for, in the message of a refusal.
var featureUse = map[gatewayv1.FeatureName]string{
	featureRequestMirror:  "a mirror step's RequestMirror filter would fail the requests of Tranche's rule there: leave out the step's mirror, or use a data plane that mirrors",
	featureRequestTimeout: "spec.provider.gatewayAPI.timeouts.request would not be kept: leave it out, or use a data plane that supports it",
	featureBackendTimeout: "spec.provider.gatewayAPI.timeouts.backendRequest would not be kept: leave it out, or use a data plane that supports it",
	featureGRPCRoute:      "a GRPC service's GRPCRoute would not be served: use a data plane that implements GRPCRoute",
}

// routeFeatures lists the features the route needs whatever the split: a GRPCRoute for a
// gRPC service, and the spec's timeouts.
func routeFeatures(t target) []gatewayv1.FeatureName {
	var needed []gatewayv1.FeatureName
	if t.kind.grpc {
		needed = append(needed, featureGRPCRoute)
	}
	if t.timeouts != nil && t.timeouts.Request != nil {
		needed = append(needed, featureRequestTimeout)
	}
	if t.timeouts != nil && t.timeouts.BackendRequest != nil {
		needed = append(needed, featureBackendTimeout)
	}
	return needed
}

// splitFeatures lists the features a split needs beyond the core ones. Routes that send
// everything to the primary need none: nothing may keep them from being written.
func splitFeatures(routes traffic.Routes) []gatewayv1.FeatureName {
	if routes.MirrorPercent > 0 {
		return []gatewayv1.FeatureName{featureRequestMirror}
	}
	return nil
}

// kindCannot says what of routes the route's kind cannot do, wrapping
// providers.ErrUnsupported; nil when it can do it all. The API refuses a GRPC or TCP service
// such steps; a Rollout stored before that refusal gets this.
func kindCannot(t target, routes traffic.Routes) error {
	if t.kind.tcp && (routes.MirrorPercent > 0 || routes.Sticky != nil || len(routes.Match) > 0) {
		return fmt.Errorf("a TCPRoute splits connections by weight alone: leave out match, mirror and sessionAffinity for a TCP service: %w", providers.ErrUnsupported)
	}
	if !t.kind.grpc {
		return nil
	}
	if routes.MirrorPercent > 0 {
		return fmt.Errorf("a GRPCRoute's RequestMirror filter is a feature no Gateway can say it has: leave out mirror steps for a GRPC service: %w", providers.ErrUnsupported)
	}
	if routes.Sticky != nil {
		return fmt.Errorf("gRPC clients carry no cookie to keep them on the canary: leave out sessionAffinity for a GRPC service: %w", providers.ErrUnsupported)
	}
	for _, m := range routes.Match {
		if len(m.Cookies) > 0 || len(m.QueryParams) > 0 {
			return fmt.Errorf("a GRPCRoute matches on headers (gRPC metadata) only: leave out the step's cookies and queryParams: %w", providers.ErrUnsupported)
		}
	}
	return nil
}

// parentGateways yields the route's parent Gateways that can be read, by name: a parent
// that is not a Gateway (a mesh's Service) or cannot be read says nothing of what the route
// may hold.
func (r *Router) parentGateways(ctx context.Context, ro *trancheapi.Rollout, t target) iter.Seq2[client.ObjectKey, *gatewayv1.Gateway] {
	return func(yield func(client.ObjectKey, *gatewayv1.Gateway) bool) {
		for _, ref := range t.attachment.ParentRefs {
			if ref.Kind != nil && *ref.Kind != "Gateway" {
				continue
			}
			key := client.ObjectKey{Namespace: ro.Namespace, Name: ref.Name}
			if ref.Namespace != nil {
				key.Namespace = *ref.Namespace
			}
			gateway := &gatewayv1.Gateway{}
			if r.c.Get(ctx, key, gateway) != nil {
				continue
			}
			if !yield(key, gateway) {
				return
			}
		}
	}
}

// requireListeners fails, wrapping providers.ErrUnsupported, when a parent Gateway's
// listeners say which kinds of route they take (status.listeners[].supportedKinds) and none
// takes the route's kind: a TCPRoute, for which Gateway API names no feature (Traefik takes
// one only with its experimental channel on, on a TCP listener). A Gateway whose listeners
// have not said, or that cannot be read, says nothing: the route's status tells of those.
func (r *Router) requireListeners(ctx context.Context, ro *trancheapi.Rollout, t target) error {
	if !t.kind.tcp {
		return nil
	}
	for key, gateway := range r.parentGateways(ctx, ro, t) {
		if len(gateway.Status.Listeners) == 0 {
			continue
		}
		var kinds []string
		for _, l := range gateway.Status.Listeners {
			for _, k := range l.SupportedKinds {
				if k.Kind == gatewayv1.Kind(t.kind.name) {
					return nil
				}
				kinds = append(kinds, string(k.Kind))
			}
		}
		return fmt.Errorf("no listener of Gateway %s takes a %s (they take %s): give it a TCP listener, on an implementation that serves TCPRoutes: %w",
			key, t.kind.name, strings.Join(slices.Compact(slices.Sorted(slices.Values(kinds))), ", "), providers.ErrUnsupported)
	}
	return nil
}

// requireFeatures fails, wrapping providers.ErrUnsupported, when the GatewayClass of a
// parent Gateway lists its supported features and needed are not all among them. A class
// that lists none says nothing either way (an implementation older than GEP-2162), and so
// do parents that are not Gateways (a mesh's Service) and a Gateway or class that cannot be
// read: the route's status tells of those.
func (r *Router) requireFeatures(ctx context.Context, ro *trancheapi.Rollout, t target, needed []gatewayv1.FeatureName) error {
	if len(needed) == 0 {
		return nil
	}
	for key, gateway := range r.parentGateways(ctx, ro, t) {
		class := &gatewayv1.GatewayClass{}
		if err := r.c.Get(ctx, client.ObjectKey{Name: string(gateway.Spec.GatewayClassName)}, class); err != nil || len(class.Status.SupportedFeatures) == 0 {
			continue
		}
		for _, feature := range needed {
			if !slices.ContainsFunc(class.Status.SupportedFeatures, func(f gatewayv1.SupportedFeature) bool { return f.Name == feature }) {
				return fmt.Errorf("Gateway %s is of GatewayClass %s (%s), which does not list %s among its supportedFeatures: %s: %w",
					key, class.Name, class.Spec.ControllerName, feature, featureUse[feature], providers.ErrUnsupported)
			}
		}
	}
	return nil
}
