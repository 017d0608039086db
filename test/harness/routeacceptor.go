package harness

import (
	"context"
	"slices"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// acceptorName is the controllerName the route acceptor writes in a route's status.
const acceptorName = "tranche.dev/test-gateway"

// acceptRoutes plays, for tests that run no data plane, the part of a Gateway API
// implementation Tranche waits for: every HTTPRoute and GRPCRoute is accepted, with its
// references resolved, by each of its parents, at each generation, as Traefik writes it (see
// package doc). It runs until ctx is done, watching again whenever a watch ends.
func acceptRoutes(ctx context.Context, c client.WithWatch) {
	go acceptKind(ctx, c, func() client.ObjectList { return &gatewayv1.GRPCRouteList{} })
	go acceptKind(ctx, c, func() client.ObjectList { return &gatewayv1.TCPRouteList{} })
	acceptKind(ctx, c, func() client.ObjectList { return &gatewayv1.HTTPRouteList{} })
}

// acceptKind accepts the routes of one kind, listed as newList makes them.
func acceptKind(ctx context.Context, c client.WithWatch, newList func() client.ObjectList) {
	for ctx.Err() == nil {
		routes := newList()
		if err := c.List(ctx, routes); err != nil {
			pause(ctx, 100*time.Millisecond)
			continue
		}
		items, _ := apimeta.ExtractList(routes)
		for _, item := range items {
			if route, ok := item.(client.Object); ok {
				accept(ctx, c, route)
			}
		}
		w, err := c.Watch(ctx, newList(), &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: routes.GetResourceVersion()}})
		if err != nil {
			pause(ctx, 100*time.Millisecond)
			continue
		}
		for event := range w.ResultChan() {
			if route, ok := event.Object.(client.Object); ok && (event.Type == watch.Added || event.Type == watch.Modified) {
				accept(ctx, c, route)
			}
		}
		w.Stop()
	}
}

// routeParts is what the acceptor reads and writes of a route of either kind: its parents
// and its status.
func routeParts(route client.Object) ([]gatewayv1.ParentReference, *gatewayv1.RouteStatus) {
	switch r := route.(type) {
	case *gatewayv1.HTTPRoute:
		return r.Spec.ParentRefs, &r.Status.RouteStatus
	case *gatewayv1.GRPCRoute:
		return r.Spec.ParentRefs, &r.Status.RouteStatus
	case *gatewayv1.TCPRoute:
		return r.Spec.ParentRefs, &r.Status.RouteStatus
	}
	return nil, &gatewayv1.RouteStatus{}
}

// accept writes the route's status when it does not say its generation yet.
func accept(ctx context.Context, c client.Client, route client.Object) {
	if accepted(route) {
		return
	}
	_ = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		fresh := route.DeepCopyObject().(client.Object)
		if err := c.Get(ctx, client.ObjectKeyFromObject(route), fresh); err != nil {
			return err
		}
		if accepted(fresh) {
			return nil
		}
		parents, status := routeParts(fresh)
		status.Parents = nil
		for _, ref := range parents {
			st := gatewayv1.RouteParentStatus{ParentRef: ref, ControllerName: acceptorName}
			for _, kind := range []gatewayv1.RouteConditionType{gatewayv1.RouteConditionAccepted, gatewayv1.RouteConditionResolvedRefs} {
				apimeta.SetStatusCondition(&st.Conditions, metav1.Condition{
					Type: string(kind), Status: metav1.ConditionTrue, Reason: string(kind), ObservedGeneration: fresh.GetGeneration(),
				})
			}
			status.Parents = append(status.Parents, st)
		}
		return c.Status().Update(ctx, fresh)
	})
}

// accepted reports whether the acceptor's status says the route's generation for each parent.
func accepted(route client.Object) bool {
	parents, status := routeParts(route)
	if len(status.Parents) != len(parents) {
		return false
	}
	for _, st := range status.Parents {
		c := apimeta.FindStatusCondition(st.Conditions, string(gatewayv1.RouteConditionAccepted))
		if st.ControllerName != acceptorName || c == nil || c.ObservedGeneration != route.GetGeneration() {
			return false
		}
	}
	return true
}

// RouteSaid reports whether every parent in the route's status accepted generation gen or a
// later one.
func RouteSaid(route *gatewayv1.HTTPRoute, gen int64) bool {
	if len(route.Status.Parents) == 0 {
		return false
	}
	for _, p := range route.Status.Parents {
		c := apimeta.FindStatusCondition(p.Conditions, string(gatewayv1.RouteConditionAccepted))
		if c == nil || c.ObservedGeneration < gen {
			return false
		}
	}
	return true
}

// MedianAndMax of durations, 0 for none.
func MedianAndMax(ds []time.Duration) (median, longest time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	sorted := slices.Sorted(slices.Values(ds))
	return sorted[len(sorted)/2], sorted[len(sorted)-1]
}

func pause(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
