// Package linkerd is the linkerd provider. Linkerd splits a Service's traffic as a Gateway API
// HTTPRoute attached to that Service says (Gateway API's mesh mode, GAMMA), so the Router is
// the gatewayAPI provider's, attached to the Rollout's Service, with query templates for the
// metrics linkerd-proxy exports.
//
// The SMI mode (a TrafficSplit, for clusters that run the linkerd-smi extension) is not in
// this version: a Rollout asking for it is refused with a message.
package linkerd

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/gatewayapi"
)

// The linkerd-proxy of each pod counts the requests it receives (direction="inbound") by the
// Deployment it belongs to: the canary's are those of the target Deployment.
const canaryInbound = `namespace="{{ .Namespace }}", deployment="{{ .Canary }}", direction="inbound"`

// successRateQuery is the percent of the canary's responses Linkerd did not classify as
// failures (5xx, or a gRPC error); a canary failing every request reads 0, not no data.
const successRateQuery = `100 * (
  (sum(rate(response_total{` + canaryInbound + `, classification!="failure"}[{{ .Interval }}])) or vector(0))
  / sum(rate(response_total{` + canaryInbound + `}[{{ .Interval }}]))
)`

// durationQuery is the 99th percentile of the canary's response latency, which Linkerd
// measures in milliseconds already.
const durationQuery = `histogram_quantile(0.99, sum by (le) (
  rate(response_latency_ms_bucket{` + canaryInbound + `}[{{ .Interval }}])
))`

// Queries are the built-in query templates over linkerd-proxy's metrics; the smi provider uses
// them too, linkerd-smi being the SMI implementation in use.
var Queries = map[trancheapi.BuiltinMetric]string{
	trancheapi.BuiltinRequestSuccessRate: successRateQuery,
	trancheapi.BuiltinRequestDuration:    durationQuery,
}

// ModeSMI is the mode this version refuses.
const ModeSMI = "SMI"

// New returns the linkerd Router. It is a providers.Factory.
func New(c client.Client) providers.Router {
	return &router{Router: gatewayapi.NewWith(c, gatewayapi.ToService, Queries)}
}

// router refuses the SMI mode before anything is written, then routes as gatewayapi does.
type router struct {
	*gatewayapi.Router
}

func supported(ro *trancheapi.Rollout) error {
	if p := ro.Spec.Provider.Linkerd; p != nil && p.Mode == ModeSMI {
		return fmt.Errorf("linkerd's SMI mode (a TrafficSplit) is not available in this version of Tranche: leave spec.provider.linkerd.mode out to route with an HTTPRoute on the Service, which Linkerd 2.14 and later follow: %w", providers.ErrUnsupported)
	}
	return nil
}

func (r *router) Reconcile(ctx context.Context, ro *trancheapi.Rollout) error {
	if err := supported(ro); err != nil {
		return err
	}
	return r.Router.Reconcile(ctx, ro)
}

func (r *router) SetRoutes(ctx context.Context, ro *trancheapi.Rollout, routes providers.Routes) error {
	if err := supported(ro); err != nil {
		return err
	}
	if routes.MirrorPercent > 0 {
		return fmt.Errorf("linkerd does not mirror requests (no RequestMirror filter in its HTTPRoute support): %w", providers.ErrUnsupported)
	}
	return r.Router.SetRoutes(ctx, ro, routes)
}

// Features says what Linkerd does with an HTTPRoute: no mirroring.
func (r *router) Features() providers.Features {
	return providers.Features{AnyWeight: true, Match: "headers, cookies, query parameters", Sticky: true, Metrics: "linkerd-proxy"}
}
