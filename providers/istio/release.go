package istio

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/traffic"
)

var _ providers.Releaser = (*Router)(nil)

// Release hands the VirtualService over to the app when its Rollout goes (bound to a
// gateway, it is the way in): Tranche's split route sends everything to the apex Service, its
// match and sticky routes go, the user's routes stay, and it belongs to no one. The
// DestinationRules, of the primary's and the canary's Services, go with the Rollout.
func (r *Router) Release(ctx context.Context, ro *trancheapi.Rollout) (traffic.Acceptance, error) {
	vs, err := providers.ReleaseControlled(ctx, r.c, ro, providers.NewUnstructured(VirtualService, ro.Namespace, ro.Name), func(vs *unstructured.Unstructured) error {
		if err := setVirtualService(vs, ro, traffic.Routes{}); err != nil {
			return err
		}
		return sendSplitTo(vs, ro.ServiceNames().Apex, int64(ro.Spec.Service.Port))
	})
	if err != nil {
		return traffic.Acceptance{}, err
	}
	return acceptanceOf(vs), nil
}

// sendSplitTo makes Tranche's split route send everything to one Service.
func sendSplitTo(vs *unstructured.Unstructured, host string, port int64) error {
	http, err := httpRoutes(vs)
	if err != nil {
		return err
	}
	http = placeRoute(http, clustersRoute, nil, "") // the versions go with the Rollout
	out := make([]any, len(http))
	found := false
	for i, r := range http {
		out[i] = r.value
		if route, ok := r.value.(map[string]any); ok && r.name == splitRoute {
			route["route"] = []any{map[string]any{"destination": destinationOf(host, port)}}
			found = true
		}
	}
	if !found {
		return fmt.Errorf("VirtualService %s/%s has no route %q", vs.GetNamespace(), vs.GetName(), splitRoute)
	}
	return unstructured.SetNestedSlice(vs.Object, out, "spec", "http")
}
