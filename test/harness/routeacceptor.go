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
// implementation Tranche waits for: every HTTPRoute is accepted, with its references
// resolved, by each of its parents, at each generation, as Traefik writes it (see package
// doc). It runs until ctx is done, watching again whenever a watch ends.
func acceptRoutes(ctx context.Context, c client.WithWatch) {
	for ctx.Err() == nil {
		routes := &gatewayv1.HTTPRouteList{}
		if err := c.List(ctx, routes); err != nil {
			pause(ctx, 100*time.Millisecond)
			continue
		}
		for i := range routes.Items {
			accept(ctx, c, &routes.Items[i])
		}
		w, err := c.Watch(ctx, &gatewayv1.HTTPRouteList{}, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: routes.ResourceVersion}})
		if err != nil {
			pause(ctx, 100*time.Millisecond)
			continue
		}
		for event := range w.ResultChan() {
			if route, ok := event.Object.(*gatewayv1.HTTPRoute); ok && (event.Type == watch.Added || event.Type == watch.Modified) {
				accept(ctx, c, route)
			}
		}
		w.Stop()
	}
}

// accept writes the route's status when it does not say its generation yet.
func accept(ctx context.Context, c client.Client, route *gatewayv1.HTTPRoute) {
	if accepted(route) {
		return
	}
	_ = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		fresh := &gatewayv1.HTTPRoute{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(route), fresh); err != nil {
			return err
		}
		if accepted(fresh) {
			return nil
		}
		fresh.Status.Parents = nil
		for _, ref := range fresh.Spec.ParentRefs {
			st := gatewayv1.RouteParentStatus{ParentRef: ref, ControllerName: acceptorName}
			for _, kind := range []gatewayv1.RouteConditionType{gatewayv1.RouteConditionAccepted, gatewayv1.RouteConditionResolvedRefs} {
				apimeta.SetStatusCondition(&st.Conditions, metav1.Condition{
					Type: string(kind), Status: metav1.ConditionTrue, Reason: string(kind), ObservedGeneration: fresh.Generation,
				})
			}
			fresh.Status.Parents = append(fresh.Status.Parents, st)
		}
		return c.Status().Update(ctx, fresh)
	})
}

// accepted reports whether the acceptor's status says the route's generation for each parent.
func accepted(route *gatewayv1.HTTPRoute) bool {
	if len(route.Status.Parents) != len(route.Spec.ParentRefs) {
		return false
	}
	for _, st := range route.Status.Parents {
		c := apimeta.FindStatusCondition(st.Conditions, string(gatewayv1.RouteConditionAccepted))
		if st.ControllerName != acceptorName || c == nil || c.ObservedGeneration != route.Generation {
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
