package chart

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tranche-dev/tranche/test/harness"
)

// permission is one verb on one resource (a subresource as "resource/subresource") of one API
// group: what an RBAC rule grants, and what a request needs.
type permission struct{ group, resource, verb string }

func (p permission) String() string {
	group := p.group
	if group == "" {
		group = "core"
	}
	return fmt.Sprintf("%s %s/%s", p.verb, group, p.resource)
}

// permissionOf is what the request needed.
func permissionOf(r harness.AuditEvent) permission {
	resource := r.ObjectRef.Resource
	if r.ObjectRef.Subresource != "" {
		resource += "/" + r.ObjectRef.Subresource
	}
	return permission{r.ObjectRef.APIGroup, resource, r.Verb}
}

// notSeenHere are the permissions the manager holds that no request of exercise shows it
// using, each with why it holds it.
var notSeenHere = map[permission]string{
	{"tranche.dev", "rollouts/finalizers", "update"}: "never a request: the API server's OwnerReferencesPermissionEnforcement admission, where a cluster turns it on, asks it of whoever creates an object whose owner reference blocks the owner's deletion, as the primary's, its Services' and its routes' references to their Rollout do",
	{"events.k8s.io", "events", "patch"}:             "client-go's events library counts an event that repeats by patching it (an EventSeries), which takes more than this test's minute",
	{"", "events", "patch"}:                          "the same for the leader election's events (core API), which repeat when one replica takes the Lease again",
}

// requestsOf is every request the user made of the API server, as its audit log says.
func requestsOf(t *testing.T, user string) []harness.AuditEvent {
	t.Helper()
	events, err := cp.Audit("")
	require.NoError(t, err)
	var out []harness.AuditEvent
	for _, e := range events {
		if e.User.Username == user && e.ObjectRef.Resource != "" { // discovery (/api, /apis) is everyone's
			out = append(out, e)
		}
	}
	require.NotEmpty(t, out, "no request of %s in the audit log", user)
	return out
}

// grantedTo is every permission the roles grant: a ClusterRole for a key without a
// namespace, else a Role.
func grantedTo(t *testing.T, roles ...client.ObjectKey) []permission {
	t.Helper()
	var out []permission
	for _, key := range roles {
		var rules []rbacv1.PolicyRule
		if key.Namespace == "" {
			cr := &rbacv1.ClusterRole{}
			require.NoError(t, cp.Client.Get(context.Background(), key, cr))
			rules = cr.Rules
		} else {
			r := &rbacv1.Role{}
			require.NoError(t, cp.Client.Get(context.Background(), key, r))
			rules = r.Rules
		}
		for _, rule := range rules {
			for _, group := range rule.APIGroups {
				for _, resource := range rule.Resources {
					for _, verb := range rule.Verbs {
						out = append(out, permission{group, resource, verb})
					}
				}
			}
		}
	}
	return out
}
