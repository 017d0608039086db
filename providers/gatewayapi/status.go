package gatewayapi

import (
	"context"
	"fmt"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers/traffic"
)

// Acceptance reads the routes' status: the split is the data plane's once every parentRef's
// entry in status.parents of every port's route says Accepted and ResolvedRefs of the route's
// current generation. A refusal of any route outweighs a route not yet spoken of.
func (r *Router) Acceptance(ctx context.Context, ro *trancheapi.Rollout) (traffic.Acceptance, error) {
	targets, err := r.targetsOf(ro)
	if err != nil {
		return traffic.Acceptance{}, err
	}
	var words []traffic.Acceptance
	for _, t := range targets {
		route, err := t.kind.get(ctx, r.c, t.key())
		if err != nil {
			return traffic.Acceptance{}, fmt.Errorf("reading %s: %w", t, err)
		}
		if err := controlled(route, ro, t.kind); err != nil {
			return traffic.Acceptance{}, err
		}
		word := acceptance(route)
		if len(targets) > 1 && word.State != traffic.Accepted {
			word.Parent += " (of " + t.String() + ")" // which port's route
		}
		words = append(words, word)
	}
	return weightiest(words), nil
}

// acceptance is what the route's parents say of it as it is now.
func acceptance(route *gatewayv1.HTTPRoute) traffic.Acceptance {
	var words []traffic.Acceptance
	for _, ref := range route.Spec.ParentRefs {
		words = append(words, parentWord(route, ref))
	}
	return weightiest(words)
}

// weightiest is the word that counts of several: the first refusal, as it is news only the
// user can act on, else the first that is pending, else Accepted.
func weightiest(words []traffic.Acceptance) traffic.Acceptance {
	var pending *traffic.Acceptance
	for _, word := range words {
		switch word.State {
		case traffic.Refused:
			return word
		case traffic.Pending:
			if pending == nil {
				pending = &word
			}
		}
	}
	if pending != nil {
		return *pending
	}
	return traffic.Acceptance{State: traffic.Accepted}
}

// parentWord is what one parent says of the route: every controller that reports on the
// parent must have accepted this generation and resolved its references.
func parentWord(route *gatewayv1.HTTPRoute, ref gatewayv1.ParentReference) traffic.Acceptance {
	name := parentName(route.Namespace, ref)
	reported := false
	for _, st := range route.Status.Parents {
		if !sameParent(route.Namespace, st.ParentRef, ref) {
			continue
		}
		reported = true
		for _, kind := range []gatewayv1.RouteConditionType{gatewayv1.RouteConditionAccepted, gatewayv1.RouteConditionResolvedRefs} {
			c := apimeta.FindStatusCondition(st.Conditions, string(kind))
			switch {
			case c == nil || c.ObservedGeneration < route.Generation:
				return traffic.Acceptance{State: traffic.Pending, Parent: name}
			case c.Status != metav1.ConditionTrue:
				return traffic.Acceptance{State: traffic.Refused, Parent: name,
					Reason: fmt.Sprintf("%s=%s (%s)", c.Type, c.Status, c.Reason), Message: c.Message}
			}
		}
	}
	if !reported {
		return traffic.Acceptance{State: traffic.Pending, Parent: name}
	}
	return traffic.Acceptance{State: traffic.Accepted, Parent: name}
}

// sameParent compares parent references with the API's defaults filled in: a Gateway of
// Gateway API's group, in the route's namespace.
func sameParent(namespace string, a, b gatewayv1.ParentReference) bool {
	return parentName(namespace, a) == parentName(namespace, b) &&
		deref(a.SectionName) == deref(b.SectionName) && deref(a.Port) == deref(b.Port)
}

// parentName is the parent as people name it: kind namespace/name, with the defaults of a
// parentRef filled in.
func parentName(namespace string, ref gatewayv1.ParentReference) string {
	group, kind := gatewayv1.GroupName, "Gateway"
	if ref.Group != nil {
		group = string(*ref.Group)
	}
	if ref.Kind != nil {
		kind = string(*ref.Kind)
	}
	if ref.Namespace != nil {
		namespace = string(*ref.Namespace)
	}
	if group != gatewayv1.GroupName && group != "" {
		kind += "." + group
	}
	return fmt.Sprintf("%s %s/%s", kind, namespace, ref.Name)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
