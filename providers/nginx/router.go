package nginx

import (
	"context"
	"fmt"
	"maps"
	"strconv"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/traffic"
)

// The permissions this provider needs, merged into the manager's ClusterRole by `make manifests`.
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses,verbs=list;watch;create;patch

// ingress-nginx's canary annotations.
const (
	annotationPrefix   = "nginx.ingress.kubernetes.io/"
	canary             = annotationPrefix + "canary"
	canaryWeight       = annotationPrefix + "canary-weight"
	canaryWeightTotal  = annotationPrefix + "canary-weight-total"
	canaryHeader       = annotationPrefix + "canary-by-header"
	canaryHeaderValue  = annotationPrefix + "canary-by-header-value"
	canaryHeaderRegexp = annotationPrefix + "canary-by-header-pattern"
	canaryCookie       = annotationPrefix + "canary-by-cookie"
)

// cookieAlways is the cookie value ingress-nginx sends to the canary.
const cookieAlways = "always"

// Router splits traffic with the canary Ingress.
type Router struct {
	providers.NoStatus
	c client.Client
}

var _ providers.Router = (*Router)(nil)

// New returns the nginx Router. It is a providers.Factory.
func New(c client.Client) providers.Router { return &Router{c: c} }

// CanaryName is the canary Ingress's name: the built-in queries select its metrics by it.
func CanaryName(ro *trancheapi.Rollout) string { return ro.Name + "-canary" }

func canaryKey(ro *trancheapi.Rollout) types.NamespacedName {
	return types.NamespacedName{Namespace: ro.Namespace, Name: CanaryName(ro)}
}

// Reconcile copies the user's Ingress into the canary Ingress (created with no traffic),
// keeping the split.
func (r *Router) Reconcile(ctx context.Context, ro *trancheapi.Rollout) error {
	user, err := r.userIngress(ctx, ro)
	if err != nil {
		return err
	}
	err = r.update(ctx, ro, func(ing *networkingv1.Ingress) error {
		copySpec(ing, user, ro)
		return nil
	})
	if !apierrors.IsNotFound(err) {
		return err
	}
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{
		Namespace: ro.Namespace, Name: CanaryName(ro), Labels: providers.Labels(ro), Annotations: providers.Annotations(),
		OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(ro, trancheapi.GroupVersion.WithKind("Rollout"))},
	}}
	copySpec(ing, user, ro)
	if err := setAnnotations(ing, traffic.Routes{}); err != nil {
		return err
	}
	if err := r.c.Create(ctx, ing); err != nil {
		return fmt.Errorf("creating Ingress %s: %w", canaryKey(ro), err)
	}
	return nil
}

func (r *Router) userIngress(ctx context.Context, ro *trancheapi.Rollout) (*networkingv1.Ingress, error) {
	name := ro.Spec.Provider.NGINX.IngressRef.Name
	user := &networkingv1.Ingress{}
	err := r.c.Get(ctx, types.NamespacedName{Namespace: ro.Namespace, Name: name}, user)
	switch {
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("the Ingress %q of spec.provider.nginx.ingressRef does not exist: create it, or fix the name: %w", name, providers.ErrMissingReference)
	case err != nil:
		return nil, fmt.Errorf("reading the Ingress %s of spec.provider.nginx.ingressRef: %w", name, err)
	}
	return user, nil
}

// copySpec makes the canary Ingress's rules, TLS and annotations the user's, with every
// backend that reaches the Rollout's Service (or its primary) sent to the canary Service
// instead. Annotations only the canary Ingress has are kept.
func copySpec(ing, user *networkingv1.Ingress, ro *trancheapi.Rollout) {
	names := ro.ServiceNames()
	spec := *user.Spec.DeepCopy()
	toCanary := func(b *networkingv1.IngressBackend) {
		if b != nil && b.Service != nil && (b.Service.Name == names.Apex || b.Service.Name == names.Primary) {
			b.Service.Name = names.Canary
		}
	}
	// The user's annotations (a rewrite, a body size) apply to the canary's requests too.
	for k, v := range user.Annotations {
		if copiedFromUser(k, ing.Annotations) {
			if ing.Annotations == nil {
				ing.Annotations = map[string]string{}
			}
			ing.Annotations[k] = v
		}
	}
	toCanary(spec.DefaultBackend)
	for i := range spec.Rules {
		if spec.Rules[i].HTTP == nil {
			continue
		}
		for j := range spec.Rules[i].HTTP.Paths {
			toCanary(&spec.Rules[i].HTTP.Paths[j].Backend)
		}
	}
	ing.Spec = spec
}

// SetRoutes writes the canary annotations.
func (r *Router) SetRoutes(ctx context.Context, ro *trancheapi.Rollout, routes traffic.Routes) error {
	if err := check(routes); err != nil {
		return err
	}
	return r.update(ctx, ro, func(ing *networkingv1.Ingress) error { return setAnnotations(ing, routes) })
}

// Routes reads the split back from the canary annotations.
func (r *Router) Routes(ctx context.Context, ro *trancheapi.Rollout) (traffic.Routes, error) {
	ing := &networkingv1.Ingress{}
	if err := r.c.Get(ctx, canaryKey(ro), ing); err != nil {
		return traffic.Routes{}, err
	}
	return routesOf(ing)
}

// update changes the canary Ingress through providers.Update, after checking that the
// Rollout controls it.
func (r *Router) update(ctx context.Context, ro *trancheapi.Rollout, mutate func(*networkingv1.Ingress) error) error {
	_, err := providers.Update(ctx, r.c, canaryKey(ro), func(ing *networkingv1.Ingress) error {
		if !metav1.IsControlledBy(ing, ro) {
			return fmt.Errorf("Ingress %s exists and is %w %s: rename the Rollout, or delete that Ingress", canaryKey(ro), providers.ErrNotControlled, ro.Name)
		}
		return mutate(ing)
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("updating Ingress %s: %w", canaryKey(ro), err)
	}
	return err
}

// setAnnotations replaces the canary and affinity annotations, keeping every other one.
func setAnnotations(ing *networkingv1.Ingress, routes traffic.Routes) error {
	annotations := maps.Clone(ing.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	for _, a := range []string{canaryWeight, canaryWeightTotal, canaryHeader, canaryHeaderValue, canaryHeaderRegexp, canaryCookie} {
		delete(annotations, a)
	}
	annotations[canary] = "true"
	setAffinity(annotations, routes.Sticky)
	if len(routes.Match) == 0 {
		annotations[canaryWeight] = strconv.Itoa(int(routes.CanaryWeight))
		annotations[canaryWeightTotal] = "100"
		ing.Annotations = annotations
		return nil
	}
	header, cookie, err := conditionsOf(routes.Match)
	if err != nil {
		return err
	}
	if header != nil {
		annotations[canaryHeader] = header.Name
		if header.Type == trancheapi.MatchRegularExpression {
			annotations[canaryHeaderRegexp] = header.Value
		} else {
			annotations[canaryHeaderValue] = header.Value
		}
	}
	if cookie != nil {
		annotations[canaryCookie] = cookie.Name
	}
	annotations[canaryWeight] = "0" // only matching requests
	ing.Annotations = annotations
	return nil
}
