package providers

import (
	"context"
	"errors"
	"fmt"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers/traffic"
)

// Router moves traffic between a Rollout's primary and canary. The Services it routes to are
// created by the controller beforehand: <target>, <target>-primary and <target>-canary, in the
// Rollout's namespace (see trancheapi.Rollout.ServiceNames).
//
// Every method is idempotent, and a Router keeps no state between calls: what the data plane
// is told is always read back from the cluster.
type Router interface {
	// Reconcile creates the routing objects if they are missing (sending all traffic to the
	// primary) and brings the fields the Router owns in line with the Rollout's spec,
	// without changing the current split. Fields of shared objects that a user added are kept.
	Reconcile(ctx context.Context, ro *trancheapi.Rollout) error
	// SetRoutes tells the data plane to split traffic as r says.
	SetRoutes(ctx context.Context, ro *trancheapi.Rollout, r traffic.Routes) error
	// Routes reads back what the data plane is told now. When the routing objects exist but
	// cannot be read as a split, the error wraps ErrUnreadable: SetRoutes repairs them.
	Routes(ctx context.Context, ro *trancheapi.Rollout) (traffic.Routes, error)
	// Acceptance reads the data plane's word on the routing objects as they are now; a
	// Router whose data plane writes none embeds NoStatus.
	Acceptance(ctx context.Context, ro *trancheapi.Rollout) (traffic.Acceptance, error)
	// RequestMetrics are the families of request metrics this data plane may export, the
	// preferred first; none for a data plane without request metrics. The built-in metrics'
	// queries are made from them (BuiltinQueries), and so are the dashboard's (config/grafana).
	RequestMetrics() []RequestMetrics
	// Features says what the provider can do. The conformance suite holds each provider to
	// it, and the README's table of providers is made from it.
	Features() Features
}

// Features are what a provider can do with traffic.
type Features struct {
	// AnyWeight: the canary can get any share from 0 to 100%; else only none or all of it
	// (blue/green).
	AnyWeight bool
	// Match lists the request conditions an A/B step can match on, in words ("" for none).
	Match string
	// Mirror: requests can be copied to the canary.
	Mirror bool
	// Sticky: a client that reached the canary can be kept on it (session affinity).
	Sticky bool
	// Metrics names the data plane the built-in metrics come from ("" for none).
	Metrics string
	// GRPC says how a gRPC service (spec.service.protocol GRPC) is routed ("" when it
	// cannot be).
	GRPC string
	// TCP says how a TCP service (spec.service.protocol TCP) is routed ("" when it cannot
	// be).
	TCP string
	// Ports says how the several ports of a Rollout with spec.service.ports are split
	// together ("" when they cannot be).
	Ports string
	// Status names where the data plane says it took a split ("" when it does not: the
	// split counts once the routing objects read back). See Router.Acceptance.
	Status string
}

// Factory builds a Router that talks to the cluster through c.
type Factory func(c client.Client) Router

// Registry maps provider names (the JSON names of spec.provider's fields) to factories.
type Registry map[string]Factory

// ErrUnknownProvider is returned for a provider name no factory is registered for.
var ErrUnknownProvider = errors.New("unknown provider")

// ErrMissingReference is wrapped by a Router's errors when an object the provider's spec
// names (a user's Ingress, say) does not exist: only the user can fix that.
var ErrMissingReference = errors.New("a referenced object does not exist")

// ErrMalformed is wrapped by a Router's errors when a field of a routing object that is the
// user's, and that Tranche must keep (a route of their own, their part of a traffic policy),
// has the wrong type: Tranche cannot repair what it does not own, so only the user can fix
// it. A field of the wrong type that is Tranche's own is ErrUnreadable instead, which
// SetRoutes repairs. See Field.
var ErrMalformed = errors.New("a field Tranche must keep has the wrong type: fix or remove it")

// Releaser is a Router whose routing object is where the app's clients come in: a route a
// Gateway serves, a VirtualService, a TraefikService an IngressRoute names. Deleted with its
// Rollout, it would take the app off the air (the gateway answers 404), so a deleted
// Rollout releases it instead, once the apex Service selects the target's pods.
type Releaser interface {
	// Release makes the routing objects send everything to the apex Service, takes the
	// Rollout's ownership off them and marks them handed over (the annotation
	// AnnotationHandedOver), so that the garbage collector leaves them and a Rollout of the
	// same name created again takes them back (its Reconcile or SetRoutes does; until then
	// its Routes fails with ErrUnreadable). What a user added to them stays. It returns
	// the data plane's word on them as they are now; called again, it finds them released
	// and reads that word only. Objects that are gone are an error satisfying
	// apierrors.IsNotFound.
	Release(ctx context.Context, ro *trancheapi.Rollout) (traffic.Acceptance, error)
}

// HandBack sends all of a Rollout's traffic to the primary, for a Rollout being deleted: it
// is SetRoutes with the zero Routes, which also takes away what only a split needed (canary
// rules, mirror filters, affinity). The routing objects stay: the garbage collector deletes
// them with the Rollout, unless it was deleted orphaning its dependents, in which case they
// keep serving the primary. Routing objects or Services that are gone, and objects the
// Rollout does not control, have nothing to hand back: they are not an error, so that they
// do not hold up the deletion.
func HandBack(ctx context.Context, router Router, ro *trancheapi.Rollout) error {
	err := router.SetRoutes(ctx, ro, traffic.Routes{})
	if apierrors.IsNotFound(err) || errors.Is(err, ErrNotControlled) {
		return nil
	}
	return err
}

// For returns the Router for the Rollout's provider.
func (r Registry) For(c client.Client, ro *trancheapi.Rollout) (Router, error) {
	name := Name(ro)
	factory, ok := r[name]
	if !ok {
		return nil, fmt.Errorf("%w %q: this controller supports %v", ErrUnknownProvider, name, r.names())
	}
	return factory(c), nil
}

func (r Registry) names() []string {
	names := make([]string, 0, len(r))
	for name := range r {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Name is the name of the Rollout's provider: the JSON name of the one field set in
// spec.provider, or "" when none is.
func Name(ro *trancheapi.Rollout) string {
	p := ro.Spec.Provider
	switch {
	case p.GatewayAPI != nil:
		return "gatewayAPI"
	case p.Istio != nil:
		return "istio"
	case p.Linkerd != nil:
		return "linkerd"
	case p.SMI != nil:
		return "smi"
	case p.NGINX != nil:
		return "nginx"
	case p.Traefik != nil:
		return "traefik"
	case p.Kubernetes != nil:
		return "kubernetes"
	}
	return ""
}
