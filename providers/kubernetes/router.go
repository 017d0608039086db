package kubernetes

import (
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/traffic"
)

// The permissions this provider needs, merged into the manager's ClusterRole by `make manifests`
// (the controller, which creates the Services, needs the same and more).
// +kubebuilder:rbac:groups="",resources=services,verbs=list;watch;patch

// Router does blue/green with the apex Service's selector: it is the primary Service's
// selector while the primary takes all traffic, and the canary Service's once the canary
// does. It owns no objects, only that one field of the apex Service.
type Router struct {
	providers.NoStatus
	c client.Client
}

var _ providers.Router = (*Router)(nil)

// New returns the kubernetes Router. It is a providers.Factory.
func New(c client.Client) providers.Router {
	return &Router{c: c}
}

// Reconcile checks that the three Services exist: the selector flip needs the apex Service
// to change and the other two to copy from. It creates nothing.
func (r *Router) Reconcile(ctx context.Context, ro *trancheapi.Rollout) error {
	_, err := providers.GetServices(ctx, r.c, ro)
	return err
}

// SetRoutes points the apex Service at the primary's pods (weight 0) or the canary's (100),
// by copying that Service's selector whole. Any other split, a match or a mirror is an error
// wrapping providers.ErrUnsupported: a Service sends every request to the pods it selects, so
// it can only switch all at once.
func (r *Router) SetRoutes(ctx context.Context, ro *trancheapi.Rollout, routes traffic.Routes) error {
	if err := supported(routes); err != nil {
		return err
	}
	names := ro.ServiceNames()
	from := names.Primary
	if routes.CanaryWeight == 100 {
		from = names.Canary
	}
	source := &corev1.Service{}
	if err := r.c.Get(ctx, client.ObjectKey{Namespace: ro.Namespace, Name: from}, source); err != nil {
		return fmt.Errorf("reading the Service %s/%s to copy its selector: %w", ro.Namespace, from, err)
	}
	if len(source.Spec.Selector) == 0 {
		return fmt.Errorf("the Service %s/%s has no selector to copy to the apex Service %s", ro.Namespace, from, names.Apex)
	}
	apexKey := client.ObjectKey{Namespace: ro.Namespace, Name: names.Apex}
	_, err := providers.Update(ctx, r.c, apexKey, func(apex *corev1.Service) error {
		apex.Spec.Selector = maps.Clone(source.Spec.Selector)
		return nil
	})
	if err != nil {
		return fmt.Errorf("pointing the apex Service %s at the pods of %s: %w", apexKey, from, err)
	}
	return nil
}

func supported(routes traffic.Routes) error {
	if err := routes.Validate(); err != nil {
		return err
	}
	switch {
	case len(routes.Match) > 0:
		return fmt.Errorf("the kubernetes provider cannot send matching requests to the canary (A/B testing), only all of them: %w", providers.ErrUnsupported)
	case routes.MirrorPercent > 0:
		return fmt.Errorf("the kubernetes provider cannot mirror requests to the canary: %w", providers.ErrUnsupported)
	case routes.Sticky != nil:
		return fmt.Errorf("the kubernetes provider cannot keep a client on the canary (session affinity): it switches everyone at once: %w", providers.ErrUnsupported)
	case routes.CanaryWeight != 0 && routes.CanaryWeight != 100:
		return fmt.Errorf("the kubernetes provider switches all traffic at once and cannot send %d%% to the canary (use weights 0 and 100): %w",
			routes.CanaryWeight, providers.ErrUnsupported)
	}
	return nil
}

// Routes compares the apex Service's selector with the primary's and the canary's. A
// selector that is neither (a person edited it) is an error, because no Routes describes
// where it sends requests; SetRoutes repairs it.
func (r *Router) Routes(ctx context.Context, ro *trancheapi.Rollout) (traffic.Routes, error) {
	svcs, err := providers.GetServices(ctx, r.c, ro)
	if err != nil {
		return traffic.Routes{}, err
	}
	switch apex := svcs.Apex.Spec.Selector; {
	case len(apex) > 0 && maps.Equal(apex, svcs.Primary.Spec.Selector):
		return traffic.Routes{}, nil
	case len(apex) > 0 && maps.Equal(apex, svcs.Canary.Spec.Selector):
		return traffic.Routes{CanaryWeight: 100}, nil
	default:
		return traffic.Routes{}, fmt.Errorf("the selector %v of the apex Service %s/%s is neither the primary's %v nor the canary's %v: %w",
			apex, ro.Namespace, svcs.Apex.Name, svcs.Primary.Spec.Selector, svcs.Canary.Spec.Selector, providers.ErrUnreadable)
	}
}

// RequestMetrics are none: plain Services have no proxy that counts requests, so there is no
// metric to build a built-in query on. The API rejects built-in metrics with this provider.
func (r *Router) RequestMetrics() []providers.RequestMetrics { return nil }

// Features: the kubernetes provider switches all traffic at once, with nothing to measure it by.
func (r *Router) Features() providers.Features {
	return providers.Features{GRPC: "the Service's selector", TCP: "the Service's selector", Ports: "the Service's selector (all ports)"}
}
