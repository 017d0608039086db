package smi

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
// +kubebuilder:rbac:groups=split.smi-spec.io,resources=trafficsplits,verbs=get;create;patch

// Kind is the TrafficSplit kind, in no particular version.
var Kind = schema.GroupKind{Group: "split.smi-spec.io", Kind: "TrafficSplit"}

// Router splits traffic with the Rollout's TrafficSplit.
type Router struct {
	providers.NoStatus
	c client.Client
}

var _ providers.Router = (*Router)(nil)

// New returns the smi Router. It is a providers.Factory.
func New(c client.Client) providers.Router { return &Router{c: c} }

// object is the Rollout's TrafficSplit, empty, in the version the cluster serves.
func (r *Router) object(ro *trancheapi.Rollout) (*unstructured.Unstructured, error) {
	mapping, err := r.c.RESTMapper().RESTMapping(Kind)
	if err != nil {
		return nil, fmt.Errorf("the cluster serves no TrafficSplit (install an SMI implementation, such as linkerd-smi): %w", err)
	}
	if mapping.GroupVersionKind.Version == "v1alpha1" {
		return nil, fmt.Errorf("the cluster serves TrafficSplit v1alpha1 only, whose weights are quantities: Tranche needs v1alpha2 or later: %w", providers.ErrUnsupported)
	}
	return providers.NewUnstructured(mapping.GroupVersionKind, ro.Namespace, ro.Name), nil
}

// Reconcile creates the TrafficSplit, sending everything to the primary, or brings the
// Services of an existing one in line with the spec, keeping the split.
func (r *Router) Reconcile(ctx context.Context, ro *trancheapi.Rollout) error {
	err := r.update(ctx, ro, func(ts *unstructured.Unstructured) error {
		current, err := routesOf(ts, ro)
		if errors.Is(err, providers.ErrUnreadable) {
			current = traffic.Routes{} // all traffic to the primary again, as SetRoutes repairs
		} else if err != nil {
			return err
		}
		return setSpec(ts, ro, current)
	})
	if !apierrors.IsNotFound(err) {
		return err
	}
	ts, err := r.object(ro)
	if err != nil {
		return err
	}
	if err := setSpec(ts, ro, traffic.Routes{}); err != nil {
		return err
	}
	return providers.CreateControlled(ctx, r.c, ro, ts)
}

// SetRoutes writes the weights. SMI's TrafficSplit only weighs.
func (r *Router) SetRoutes(ctx context.Context, ro *trancheapi.Rollout, routes traffic.Routes) error {
	if err := routes.Validate(); err != nil {
		return err
	}
	if len(routes.Match) > 0 || routes.MirrorPercent > 0 || routes.Sticky != nil {
		return fmt.Errorf("an SMI TrafficSplit only splits by weight: no A/B match, no mirror, no session affinity: %w", providers.ErrUnsupported)
	}
	return r.update(ctx, ro, func(ts *unstructured.Unstructured) error { return setSpec(ts, ro, routes) })
}

// Routes reads the split back from the TrafficSplit.
func (r *Router) Routes(ctx context.Context, ro *trancheapi.Rollout) (traffic.Routes, error) {
	ts, err := r.object(ro)
	if err != nil {
		return traffic.Routes{}, err
	}
	if err := r.c.Get(ctx, client.ObjectKeyFromObject(ts), ts); err != nil {
		return traffic.Routes{}, err
	}
	return routesOf(ts, ro)
}

// update changes the Rollout's TrafficSplit as mutate says (see providers.UpdateControlled).
func (r *Router) update(ctx context.Context, ro *trancheapi.Rollout, mutate func(*unstructured.Unstructured) error) error {
	ts, err := r.object(ro)
	if err != nil {
		return err
	}
	return providers.UpdateControlled(ctx, r.c, ro, ts, mutate)
}

// setSpec writes the apex Service and the weighted backends. The rest of the spec is the
// user's (spec.matches, v1alpha3 and later), and is kept: a spec of the wrong type cannot be.
func setSpec(ts *unstructured.Unstructured, ro *trancheapi.Rollout, routes traffic.Routes) error {
	if _, _, err := providers.Fields(ts).Get("spec").AsMap(); err != nil {
		return providers.Malformed(err)
	}
	names := ro.ServiceNames()
	if err := unstructured.SetNestedField(ts.Object, names.Apex, "spec", "service"); err != nil {
		return err
	}
	primary, canary := providers.Split(routes.CanaryWeight)
	return unstructured.SetNestedSlice(ts.Object, []any{
		map[string]any{"service": names.Primary, "weight": int64(primary)},
		map[string]any{"service": names.Canary, "weight": int64(canary)},
	}, "spec", "backends")
}

// routesOf reads the weights, which SMI makes relative. The backends are Tranche's: a field
// of theirs of the wrong type is unreadable, and SetRoutes writes them again.
func routesOf(ts *unstructured.Unstructured, ro *trancheapi.Rollout) (traffic.Routes, error) {
	spec := providers.Fields(ts).Get("spec")
	if _, _, err := spec.AsMap(); err != nil {
		return traffic.Routes{}, providers.Malformed(err)
	}
	weights, err := weightsOf(spec.Get("backends"))
	if err != nil {
		return traffic.Routes{}, providers.Unreadable(err)
	}
	names := ro.ServiceNames()
	percent, err := providers.CanaryPercent(weights[names.Primary], weights[names.Canary])
	if len(weights) != 2 || err != nil {
		return traffic.Routes{}, providers.Unreadable(spec.Get("backends").Invalid("are not the primary and the canary"))
	}
	return traffic.Routes{CanaryWeight: percent}, nil
}

// weightsOf adds up the weight of each Service of the backends.
func weightsOf(backends providers.Field) (map[string]int32, error) {
	list, _, err := backends.AsList()
	if err != nil {
		return nil, err
	}
	weights := map[string]int32{}
	for _, b := range list {
		name, _, err := b.Get("service").AsString()
		if err != nil {
			return nil, err
		}
		w, found, err := b.Get("weight").AsFloat()
		if err != nil {
			return nil, err
		}
		if found {
			weights[name] += int32(w)
		}
	}
	return weights, nil
}

// RequestMetrics are linkerd-proxy's, linkerd-smi being the SMI implementation in use today.
func (r *Router) RequestMetrics() []providers.RequestMetrics {
	return []providers.RequestMetrics{providers.LinkerdProxy}
}

// Features says what a TrafficSplit can do.
func (r *Router) Features() providers.Features {
	return providers.Features{AnyWeight: true, Metrics: "linkerd-proxy (linkerd-smi)", GRPC: "the TrafficSplit (weights)", TCP: "the TrafficSplit (weights)",
		Ports: "the TrafficSplit (all ports)"}
}
