// Package istio is the istio provider: a VirtualService named after the Rollout splits the
// Rollout's hosts between the primary and canary Services, and DestinationRules
// <rollout>-primary and <rollout>-canary give both the same traffic policy (mutual TLS,
// circuit breaking), so that the canary is judged under the mesh's real conditions.
//
// Tranche owns two HTTP routes of the VirtualService, named tranche (the split, with the
// mirror) and tranche-match (A/B: the matching requests to the canary), and the spec of its
// DestinationRules. Routes a user adds to the VirtualService, and labels and annotations,
// are kept.
package istio

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
)

// The permissions this provider needs, merged into the manager's ClusterRole by `make manifests`.
// +kubebuilder:rbac:groups=networking.istio.io,resources=virtualservices;destinationrules,verbs=get;list;watch;create;update;patch

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

// object is an empty object of a kind, named, for Get.
func object(gvk schema.GroupVersionKind, ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

// DestinationRuleNames are the names of the Rollout's two DestinationRules.
func DestinationRuleNames(ro *trancheapi.Rollout) (primary, canary string) {
	return ro.Name + "-primary", ro.Name + "-canary"
}

// Reconcile brings the DestinationRules and the VirtualService in line with the spec,
// creating what is missing (all traffic to the primary) and keeping the split.
func (r *Router) Reconcile(ctx context.Context, ro *trancheapi.Rollout) error {
	names := providers.Services(ro)
	primaryDR, canaryDR := DestinationRuleNames(ro)
	for name, host := range map[string]string{primaryDR: names.Primary, canaryDR: names.Canary} {
		if err := r.ensure(ctx, ro, object(DestinationRule, ro.Namespace, name), func(u *unstructured.Unstructured) error {
			return setDestinationRule(u, ro, host)
		}); err != nil {
			return err
		}
	}
	return r.ensure(ctx, ro, object(VirtualService, ro.Namespace, ro.Name), func(vs *unstructured.Unstructured) error {
		current, err := routesOf(vs, ro)
		if err != nil {
			current = providers.Routes{} // unreadable: all traffic to the primary again
		}
		return setVirtualService(vs, ro, current)
	})
}

// SetRoutes writes the split, the mirror or the A/B match into the VirtualService.
func (r *Router) SetRoutes(ctx context.Context, ro *trancheapi.Rollout, routes providers.Routes) error {
	if routes.CanaryWeight < 0 || routes.CanaryWeight > 100 || routes.MirrorPercent < 0 || routes.MirrorPercent > 100 {
		return fmt.Errorf("weights and mirror percents go from 0 to 100, not %+v: %w", routes, providers.ErrUnsupported)
	}
	if _, err := matchRequests(routes.Match); err != nil {
		return err
	}
	return r.update(ctx, ro, object(VirtualService, ro.Namespace, ro.Name), func(vs *unstructured.Unstructured) error {
		return setVirtualService(vs, ro, routes)
	})
}

// Routes reads the split back from the VirtualService.
func (r *Router) Routes(ctx context.Context, ro *trancheapi.Rollout) (providers.Routes, error) {
	vs := object(VirtualService, ro.Namespace, ro.Name)
	if err := r.c.Get(ctx, client.ObjectKeyFromObject(vs), vs); err != nil {
		return providers.Routes{}, err
	}
	return routesOf(vs, ro)
}

// Finalize sends everything to the primary; the objects go with the Rollout.
func (r *Router) Finalize(ctx context.Context, ro *trancheapi.Rollout) error {
	err := r.SetRoutes(ctx, ro, providers.Routes{})
	if apierrors.IsNotFound(err) || errors.Is(err, errNotControlled) {
		return nil
	}
	return err
}

var errNotControlled = errors.New("not controlled by the Rollout")

// ensure updates the object as mutate says, or creates it, owned by the Rollout.
func (r *Router) ensure(ctx context.Context, ro *trancheapi.Rollout, obj *unstructured.Unstructured, mutate func(*unstructured.Unstructured) error) error {
	err := r.update(ctx, ro, obj.DeepCopy(), mutate)
	if !apierrors.IsNotFound(err) {
		return err
	}
	obj.SetLabels(providers.Labels(ro))
	obj.SetOwnerReferences([]metav1.OwnerReference{*metav1.NewControllerRef(ro, trancheapi.GroupVersion.WithKind("Rollout"))})
	if err := mutate(obj); err != nil {
		return err
	}
	if err := r.c.Create(ctx, obj); err != nil {
		return fmt.Errorf("creating %s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}

// update changes an object the Rollout controls as mutate says, writing only a change, with
// the resourceVersion read (a concurrent change is read again and retried).
func (r *Router) update(ctx context.Context, ro *trancheapi.Rollout, obj *unstructured.Unstructured, mutate func(*unstructured.Unstructured) error) error {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		u := obj.DeepCopy()
		if err := r.c.Get(ctx, client.ObjectKeyFromObject(u), u); err != nil {
			return err
		}
		if !metav1.IsControlledBy(u, ro) {
			return fmt.Errorf("%s %s/%s exists and is %w %s: rename the Rollout, or delete it so that Tranche can create its own",
				u.GetKind(), u.GetNamespace(), u.GetName(), errNotControlled, ro.Name)
		}
		before := u.DeepCopy()
		if err := mutate(u); err != nil {
			return err
		}
		if equality.Semantic.DeepEqual(before.Object, u.Object) {
			return nil
		}
		return r.c.Patch(ctx, u, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("updating %s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}
	return err
}
