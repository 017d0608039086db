package cli

import (
	"context"
	"fmt"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// What a person of a team may read is the API server's to say: the dashboard asks it as
// them (SelfSubjectAccessReviews) which namespaces' Rollouts to show them.

// readableNamespaces are those of the namespaces given (none: every namespace) that the user
// c acts as may list and watch Rollouts in, [""] for all when none are given and the user
// may read Rollouts in every namespace. It asks the API server as the user.
func readableNamespaces(ctx context.Context, c client.Client, user string, given []string) ([]string, error) {
	if len(given) == 0 {
		everywhere, err := mayReadRollouts(ctx, c, "")
		if err != nil {
			return nil, err
		}
		if everywhere {
			return []string{""}, nil
		}
		var list corev1.NamespaceList
		if err := c.List(ctx, &list); apierrors.IsForbidden(err) {
			return nil, fmt.Errorf("%s may neither read Rollouts in every namespace nor list the namespaces, so this dashboard cannot tell which namespaces to show: ask for one of these rights, or have the dashboard serve the namespaces you work in (--namespaces)", user)
		} else if err != nil {
			return nil, err
		}
		for _, ns := range list.Items {
			given = append(given, ns.Name)
		}
	}
	var readable []string
	for _, ns := range given {
		ok, err := mayReadRollouts(ctx, c, ns)
		if err != nil {
			return nil, err
		}
		if ok {
			readable = append(readable, ns)
		}
	}
	if len(readable) == 0 {
		return nil, fmt.Errorf("%s may list and watch Rollouts in none of the namespaces this dashboard shows (%s)", user, strings.Join(given, ", "))
	}
	return readable, nil
}

// mayReadRollouts asks the API server whether the user c acts as may list and watch Rollouts
// in namespace ("" for all).
func mayReadRollouts(ctx context.Context, c client.Client, namespace string) (bool, error) {
	for _, verb := range []string{"list", "watch"} {
		review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: namespace, Verb: verb, Group: trancheapi.GroupVersion.Group, Resource: "rollouts",
			},
		}}
		if err := c.Create(ctx, review); err != nil {
			return false, fmt.Errorf("asking the API server what you may read: %w", err)
		}
		if !review.Status.Allowed {
			return false, nil
		}
	}
	return true, nil
}
