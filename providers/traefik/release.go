package traefik

import (
	"context"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/traffic"
)

var _ providers.Releaser = (*Router)(nil)

// Release hands the TraefikService over to the IngressRoutes that name it when its Rollout
// goes: it sends everything to the apex Service, weighted alone (the sticky settings and
// the rest of the user's stay), and belongs to no one. Traefik writes no status: the word
// is Unreported.
func (r *Router) Release(ctx context.Context, ro *trancheapi.Rollout) (traffic.Acceptance, error) {
	_, err := providers.ReleaseControlled(ctx, r.c, ro, newService(ro), func(ts *unstructured.Unstructured) error {
		if err := setSpec(ts, ro, traffic.Routes{}); err != nil {
			return err
		}
		apex := backendOf(ro, ro.ServiceNames().Apex)
		apex["weight"] = int64(1)
		return unstructured.SetNestedSlice(ts.Object, []any{apex}, "spec", "weighted", "services")
	})
	return traffic.Acceptance{State: traffic.Unreported}, err
}
