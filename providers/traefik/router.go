package traefik

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/traffic"
)

// The permissions this provider needs, merged into the manager's ClusterRole by `make manifests`.
// +kubebuilder:rbac:groups=traefik.io,resources=traefikservices,verbs=get;create;patch

// GVK is the TraefikService kind Traefik v3 serves.
var GVK = schema.GroupVersionKind{Group: "traefik.io", Version: "v1alpha1", Kind: "TraefikService"}

// Router splits traffic with the Rollout's TraefikService.
type Router struct {
	providers.NoStatus
	c client.Client
}

var _ providers.Router = (*Router)(nil)

// New returns the traefik Router. It is a providers.Factory.
func New(c client.Client) providers.Router { return &Router{c: c} }

// Reconcile creates the TraefikService, sending everything to the primary, or brings the
// Service names and port of an existing one in line with the spec, keeping the split.
func (r *Router) Reconcile(ctx context.Context, ro *trancheapi.Rollout) error {
	err := r.update(ctx, ro, func(ts *unstructured.Unstructured) error {
		current, err := routesOf(ts, ro)
		if errors.Is(err, providers.ErrUnreadable) {
			current = traffic.Routes{} // SetRoutes-like repair: all to the primary
		} else if err != nil {
			return err
		}
		return setSpec(ts, ro, current)
	})
	if !apierrors.IsNotFound(err) {
		return err
	}
	ts := newService(ro)
	if err := setSpec(ts, ro, traffic.Routes{}); err != nil {
		return err
	}
	return providers.CreateControlled(ctx, r.c, ro, ts)
}

// SetRoutes writes the weights, or the mirror. Traefik does not match requests.
func (r *Router) SetRoutes(ctx context.Context, ro *trancheapi.Rollout, routes traffic.Routes) error {
	if err := supported(routes); err != nil {
		return err
	}
	return r.update(ctx, ro, func(ts *unstructured.Unstructured) error { return setSpec(ts, ro, routes) })
}

// Routes reads the split back from the TraefikService.
func (r *Router) Routes(ctx context.Context, ro *trancheapi.Rollout) (traffic.Routes, error) {
	ts := newService(ro)
	if err := r.c.Get(ctx, client.ObjectKeyFromObject(ts), ts); err != nil {
		return traffic.Routes{}, err
	}
	return routesOf(ts, ro)
}

func supported(routes traffic.Routes) error {
	if err := routes.Validate(); err != nil {
		return err
	}
	switch {
	case len(routes.Match) > 0:
		return fmt.Errorf("traefik cannot send requests to the canary by header, cookie or query: use weights or the gatewayAPI provider: %w", providers.ErrUnsupported)
	case routes.MirrorPercent > 0 && routes.CanaryWeight > 0:
		return fmt.Errorf("a TraefikService mirrors or splits, not both at once: %w", providers.ErrUnsupported)
	}
	return nil
}

func newService(ro *trancheapi.Rollout) *unstructured.Unstructured {
	return providers.NewUnstructured(GVK, ro.Namespace, ro.Name)
}

// update changes the Rollout's TraefikService as mutate says (see providers.UpdateControlled).
func (r *Router) update(ctx context.Context, ro *trancheapi.Rollout, mutate func(*unstructured.Unstructured) error) error {
	return providers.UpdateControlled(ctx, r.c, ro, newService(ro), mutate)
}
