package gatewayapi

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/traffic"
)

// Router splits traffic with the HTTPRoute named after the Rollout (see the package
// documentation for the parts of it Tranche owns). The client's scheme must know Gateway
// API's v1 types and Tranche's.
type Router struct {
	c       client.Client
	attach  func(*trancheapi.Rollout) (Attachment, error)
	metrics []providers.RequestMetrics
}

var _ providers.Router = (*Router)(nil)

// New returns the gatewayAPI Router, which attaches the route as spec.provider.gatewayAPI
// says. It is a providers.Factory.
func New(c client.Client) providers.Router {
	return &Router{c: c, attach: fromSpec, metrics: requestMetrics}
}

// NewWith returns a Router for a provider that routes with an HTTPRoute of its own making
// (a mesh, such as Linkerd, in Gateway API's mesh mode): attach says what the route attaches
// to, metrics are its data plane's request metrics.
func NewWith(c client.Client, attach func(*trancheapi.Rollout) (Attachment, error), metrics ...providers.RequestMetrics) *Router {
	return &Router{c: c, attach: attach, metrics: metrics}
}

// Reconcile creates the routes, sending everything to the primary, or brings an existing
// one's parentRefs, hostnames and Tranche's rule in line with the spec. It keeps the split:
// the weights, the filters and what the canary rules match; the canary rules are rewritten
// from Tranche's rule, so that a user's edit of that rule reaches the requests they send to
// the canary too. A route of the same name that the Rollout does not control is an error:
// Tranche does not take over a route it did not create.
func (r *Router) Reconcile(ctx context.Context, ro *trancheapi.Rollout) error {
	targets, err := r.targetsOf(ro)
	if err != nil {
		return err
	}
	for _, t := range targets {
		if err := r.reconcileRoute(ctx, ro, t); err != nil {
			return err
		}
	}
	return nil
}

// reconcileRoute is Reconcile for one port's route.
func (r *Router) reconcileRoute(ctx context.Context, ro *trancheapi.Rollout, t target) error {
	if err := r.requireFeatures(ctx, ro, t, routeFeatures(t)); err != nil {
		return err
	}
	if err := r.requireListeners(ctx, ro, t); err != nil {
		return err
	}
	err := r.update(ctx, ro, t, func(route *gatewayv1.HTTPRoute) error {
		ensureRoute(route, ro, t)
		return refreshCanaryRules(route, t)
	})
	if !apierrors.IsNotFound(err) {
		return err
	}
	return r.create(ctx, ro, t)
}

func (r *Router) create(ctx context.Context, ro *trancheapi.Rollout, t target) error {
	view := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: t.namespace, Name: t.name, Annotations: providers.Annotations()}}
	ensureRoute(view, ro, t)
	route := t.kind.object(view)
	// Controlled by the Rollout, the route is deleted with it by the garbage collector.
	if err := controllerutil.SetControllerReference(ro, route, r.c.Scheme()); err != nil {
		return fmt.Errorf("making the Rollout own its %s: %w", t.kind.name, err)
	}
	err := r.c.Create(ctx, route)
	if apierrors.IsAlreadyExists(err) {
		// Created since the read, by another reconcile: bring that one in line instead.
		return r.update(ctx, ro, t, func(route *gatewayv1.HTTPRoute) error {
			ensureRoute(route, ro, t)
			return nil
		})
	}
	if err != nil {
		return fmt.Errorf("creating %s: %w", t, err)
	}
	return nil
}

// SetRoutes writes the weights of Tranche's backendRefs, its mirror filter, its canary rules
// and the canary's cookie filter, and also brings the parts Reconcile owns in line, since it
// holds the route anyway; every port's route gets the same weight. A missing route is an
// error (Reconcile creates it). Nothing is written when the route already says what routes
// says.
func (r *Router) SetRoutes(ctx context.Context, ro *trancheapi.Rollout, routes traffic.Routes) error {
	if err := routes.Validate(); err != nil {
		return err
	}
	targets, err := r.targetsOf(ro)
	if err != nil {
		return err
	}
	if len(targets) > 1 && (routes.MirrorPercent > 0 || routes.Sticky != nil || len(routes.Match) > 0) {
		// The API refuses such steps; a Rollout stored before that refusal gets this.
		return fmt.Errorf("a Rollout with service.ports splits every port by weight alone: leave out match, mirror and sessionAffinity: %w", providers.ErrUnsupported)
	}
	for _, t := range targets {
		if err := kindCannot(t, routes); err != nil {
			return err
		}
		if err := r.requireFeatures(ctx, ro, t, splitFeatures(routes)); err != nil {
			return err
		}
	}
	for _, t := range targets {
		err := r.update(ctx, ro, t, func(route *gatewayv1.HTTPRoute) error {
			return applyRoutes(route, ro, t, routes)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// applyRoutes writes the split into the route.
func applyRoutes(route *gatewayv1.HTTPRoute, ro *trancheapi.Rollout, t target, routes traffic.Routes) error {
	main := ensureRoute(route, ro, t)
	value := providers.StickyValue(ro)
	setWeights(&route.Spec.Rules[main], t, routes.CanaryWeight)
	setMirror(&route.Spec.Rules[main], t, routes.MirrorPercent)
	setCookieFilter(&route.Spec.Rules[main], t, routes.Sticky, value)
	if err := setCanaryRule(route, matchRuleName, main, t, routes.Match); err != nil {
		return err
	}
	return setCanaryRule(route, stickyRuleName, tranchesRule(route, t), t, stickyMatch(routes.Sticky, value))
}

// Routes reads the split back from the routes: the canary's share of Tranche's two
// backendRefs' weights, its mirror filter, its canary rules and the canary's cookie filter.
// Ports whose routes give the canary different shares (a SetRoutes cut short) are
// ErrUnreadable: SetRoutes evens them out. A missing route is an error satisfying
// apierrors.IsNotFound.
func (r *Router) Routes(ctx context.Context, ro *trancheapi.Rollout) (traffic.Routes, error) {
	targets, err := r.targetsOf(ro)
	if err != nil {
		return traffic.Routes{}, err
	}
	var split traffic.Routes
	for i, t := range targets {
		routes, err := r.routesOf(ctx, ro, t)
		if err != nil {
			return traffic.Routes{}, err
		}
		if i == 0 {
			split = routes
			continue
		}
		if routes.CanaryWeight != split.CanaryWeight {
			return traffic.Routes{}, fmt.Errorf("%s gives the canary %d%% where %s gives it %d%%: %w",
				t, routes.CanaryWeight, targets[0], split.CanaryWeight, providers.ErrUnreadable)
		}
	}
	return split, nil
}

// routesOf reads the split back from one route.
func (r *Router) routesOf(ctx context.Context, ro *trancheapi.Rollout, t target) (traffic.Routes, error) {
	route, err := t.kind.get(ctx, r.c, t.key())
	if err != nil {
		return traffic.Routes{}, fmt.Errorf("reading %s: %w", t, err)
	}
	if providers.HandedOver(route) && ro.DeletionTimestamp.IsZero() {
		// Released by a deleted Rollout of this name: setting the routes takes it back.
		return traffic.Routes{}, fmt.Errorf("%s was handed over by a deleted Rollout of this name: %w", t, providers.ErrUnreadable)
	}
	if err := controlled(route, ro, t.kind); err != nil {
		return traffic.Routes{}, err
	}
	main := tranchesRule(route, t)
	if main < 0 {
		return traffic.Routes{}, fmt.Errorf("%s has no rule with a backendRef to the Service %s: %w", t, t.primary, providers.ErrUnreadable)
	}
	rule := route.Spec.Rules[main]
	weight, err := canaryWeight(rule, t)
	if err != nil {
		return traffic.Routes{}, fmt.Errorf("%s: %w: %w", t, err, providers.ErrUnreadable)
	}
	return traffic.Routes{
		CanaryWeight:  weight,
		MirrorPercent: mirrorPercent(rule, t),
		Match:         canaryMatch(route, matchRuleName, main),
		Sticky:        readSticky(route, main, t, providers.StickyValue(ro)),
	}, nil
}

// update changes one of the Rollout's routes through providers.Update, after checking that
// the Rollout controls it, or taking it back when a Rollout of the same name released it.
func (r *Router) update(ctx context.Context, ro *trancheapi.Rollout, t target, mutate func(*gatewayv1.HTTPRoute) error) error {
	err := t.kind.update(ctx, r.c, t.key(), func(route *gatewayv1.HTTPRoute) error {
		takeBack(route, ro, t)
		if err := controlled(route, ro, t.kind); err != nil {
			return err
		}
		return mutate(route)
	})
	if err != nil {
		return fmt.Errorf("updating %s: %w", t, err)
	}
	return nil
}

func controlled(route *gatewayv1.HTTPRoute, ro *trancheapi.Rollout, kind routeKind) error {
	if metav1.IsControlledBy(route, ro) {
		return nil
	}
	return fmt.Errorf("%s %s/%s is %w %s: Tranche does not take over a route it did not create: delete it, or give the Rollout another name",
		kind.name, route.Namespace, route.Name, providers.ErrNotControlled, ro.Name)
}
