package gatewayapi

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/tranche-dev/tranche/providers"
)

// routeKind is the kind of route a Rollout has, by what its Services speak: an HTTPRoute, or
// a GRPCRoute (grpc.go) or a TCPRoute (tcp.go), which the package reads and writes through an
// HTTPRoute view of it, so that it knows one kind of route.
type routeKind struct {
	name      string // for messages
	grpc, tcp bool
}

var (
	httpRoutes = routeKind{name: "HTTPRoute"}
	grpcRoutes = routeKind{name: "GRPCRoute", grpc: true}
	tcpRoutes  = routeKind{name: "TCPRoute", tcp: true}
)

// get reads the route, as its HTTPRoute view.
func (k routeKind) get(ctx context.Context, c client.Client, key client.ObjectKey) (*gatewayv1.HTTPRoute, error) {
	switch {
	case k.grpc:
		return getViewed(ctx, c, key, httpView)
	case k.tcp:
		return getViewed(ctx, c, key, tcpView)
	}
	route := &gatewayv1.HTTPRoute{}
	return route, c.Get(ctx, key, route)
}

// update changes the route through its HTTPRoute view with providers.Update, which writes
// only a changed route.
func (k routeKind) update(ctx context.Context, c client.Client, key client.ObjectKey, mutate func(*gatewayv1.HTTPRoute) error) error {
	switch {
	case k.grpc:
		return updateViewed(ctx, c, key, mutate, httpView, grpcRoute)
	case k.tcp:
		return updateViewed(ctx, c, key, mutate, tcpView, tcpRoute)
	}
	_, err := providers.Update(ctx, c, key, mutate)
	return err
}

// object is the route the view stands for, to create.
func (k routeKind) object(view *gatewayv1.HTTPRoute) client.Object {
	switch {
	case k.grpc:
		return grpcRoute(view)
	case k.tcp:
		return tcpRoute(view)
	}
	return view
}

// viewedRoute is a route the package reads through an HTTPRoute view.
type viewedRoute[T any] interface {
	*T
	client.Object
}

func getViewed[T any, P viewedRoute[T]](ctx context.Context, c client.Client, key client.ObjectKey, view func(P) *gatewayv1.HTTPRoute) (*gatewayv1.HTTPRoute, error) {
	route := P(new(T))
	if err := c.Get(ctx, key, route); err != nil {
		return nil, err
	}
	return view(route), nil
}

func updateViewed[T any, P viewedRoute[T]](ctx context.Context, c client.Client, key client.ObjectKey, mutate func(*gatewayv1.HTTPRoute) error,
	view func(P) *gatewayv1.HTTPRoute, back func(*gatewayv1.HTTPRoute) P) error {
	_, err := providers.Update(ctx, c, key, func(route P) error {
		v := view(route)
		if err := mutate(v); err != nil {
			return err
		}
		// The view has no kind of its own: the read's stays, so that an unchanged route
		// compares equal and is not written.
		gvk := route.GetObjectKind().GroupVersionKind()
		*route = *back(v)
		route.GetObjectKind().SetGroupVersionKind(gvk)
		return nil
	})
	return err
}
