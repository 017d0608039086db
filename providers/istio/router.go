package istio

import (
	"context"
	"errors"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/traffic"
)

// The permissions this provider needs, merged into the manager's ClusterRole by `make manifests`.
// +kubebuilder:rbac:groups=networking.istio.io,resources=virtualservices;destinationrules,verbs=get;create;patch

// The kinds Istio serves as networking.istio.io/v1.
var (
	VirtualService  = schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1", Kind: "VirtualService"}
	DestinationRule = schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1", Kind: "DestinationRule"}
)

// Router splits traffic with the Rollout's VirtualService.
type Router struct {
	c client.Client
}

var _ providers.Router = (*Router)(nil)

// New returns the istio Router. It is a providers.Factory.
func New(c client.Client) providers.Router { return &Router{c: c} }

// DestinationRuleNames are the names of the Rollout's two DestinationRules.
func DestinationRuleNames(ro *trancheapi.Rollout) (primary, canary string) {
	return ro.Name + "-primary", ro.Name + "-canary"
}

// Reconcile brings the DestinationRules and the VirtualService in line with the spec,
// creating what is missing (all traffic to the primary) and keeping the split.
func (r *Router) Reconcile(ctx context.Context, ro *trancheapi.Rollout) error {
	names := ro.ServiceNames()
	primaryDR, canaryDR := DestinationRuleNames(ro)
	for name, host := range map[string]string{primaryDR: names.Primary, canaryDR: names.Canary} {
		if err := r.ensure(ctx, ro, providers.NewUnstructured(DestinationRule, ro.Namespace, name), func(u *unstructured.Unstructured) error {
			return setDestinationRule(u, ro, host)
		}); err != nil {
			return err
		}
	}
	return r.ensure(ctx, ro, providers.NewUnstructured(VirtualService, ro.Namespace, ro.Name), func(vs *unstructured.Unstructured) error {
		current, err := routesOf(vs, ro)
		if errors.Is(err, providers.ErrUnreadable) {
			current = traffic.Routes{} // all traffic to the primary again, as SetRoutes repairs
		} else if err != nil {
			return err
		}
		return setVirtualService(vs, ro, current)
	})
}

// SetRoutes writes the split, the mirror or the A/B match into the VirtualService.
func (r *Router) SetRoutes(ctx context.Context, ro *trancheapi.Rollout, routes traffic.Routes) error {
	if err := routes.Validate(); err != nil {
		return err
	}
	if _, err := matchRequests(routes.Match); err != nil {
		return err
	}
	return r.update(ctx, ro, providers.NewUnstructured(VirtualService, ro.Namespace, ro.Name), func(vs *unstructured.Unstructured) error {
		return setVirtualService(vs, ro, routes)
	})
}

// Routes reads the split back from the VirtualService.
func (r *Router) Routes(ctx context.Context, ro *trancheapi.Rollout) (traffic.Routes, error) {
	vs := providers.NewUnstructured(VirtualService, ro.Namespace, ro.Name)
	if err := r.c.Get(ctx, client.ObjectKeyFromObject(vs), vs); err != nil {
		return traffic.Routes{}, err
	}
	return routesOf(vs, ro)
}

// ensure updates the object as mutate says (see providers.UpdateControlled), or creates it.
func (r *Router) ensure(ctx context.Context, ro *trancheapi.Rollout, obj *unstructured.Unstructured, mutate func(*unstructured.Unstructured) error) error {
	err := r.update(ctx, ro, obj, mutate)
	if !apierrors.IsNotFound(err) {
		return err
	}
	if err := mutate(obj); err != nil {
		return err
	}
	return providers.CreateControlled(ctx, r.c, ro, obj)
}

func (r *Router) update(ctx context.Context, ro *trancheapi.Rollout, obj *unstructured.Unstructured, mutate func(*unstructured.Unstructured) error) error {
	return providers.UpdateControlled(ctx, r.c, ro, obj, mutate)
}
