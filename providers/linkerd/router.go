package linkerd

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/gatewayapi"
	"github.com/tranche-dev/tranche/providers/traffic"
)

// The permissions this provider needs, merged into the manager's ClusterRole by `make manifests`:
// the gatewayAPI provider's, whose Router this one is.
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=httproutes;grpcroutes,verbs=list;watch;create;patch

// New returns the linkerd Router. It is a providers.Factory.
func New(c client.Client) providers.Router {
	return &router{Router: gatewayapi.NewWith(c, gatewayapi.ToService, providers.LinkerdProxy)}
}

// router routes as gatewayapi does, without mirroring.
type router struct {
	*gatewayapi.Router
}

func (r *router) SetRoutes(ctx context.Context, ro *trancheapi.Rollout, routes traffic.Routes) error {
	if routes.MirrorPercent > 0 {
		return fmt.Errorf("linkerd does not mirror requests (no RequestMirror filter in its HTTPRoute support): %w", providers.ErrUnsupported)
	}
	return r.Router.SetRoutes(ctx, ro, routes)
}

// Features says what Linkerd does with an HTTPRoute: no mirroring.
func (r *router) Features() providers.Features {
	return providers.Features{AnyWeight: true, Match: "headers, cookies, query parameters", Sticky: true, Metrics: "linkerd-proxy", Status: r.Router.Features().Status,
		GRPC: r.Router.Features().GRPC}
}
