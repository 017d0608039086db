// Package config holds no Go code, only the kustomize bases; this test checks that they
// install into a real API server and grant the manager what it uses.
package config

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/tranche-dev/tranche/test/harness"
)

var cp *harness.ControlPlane

func TestMain(m *testing.M) { os.Exit(harness.Main(m, &cp, harness.Options{})) }

// TestDefaultInstalls does what `kubectl apply --server-side -k config/default` does.
func TestDefaultInstalls(t *testing.T) {
	ctx := context.Background()
	kinds := apply(t, "default")
	assert.Equal(t, map[string]int{
		"CustomResourceDefinition": 3, "Namespace": 1, "ServiceAccount": 1, "ClusterRole": 1,
		"ClusterRoleBinding": 1, "Role": 1, "RoleBinding": 1, "Deployment": 1,
	}, kinds)

	manager := &appsv1.Deployment{}
	require.NoError(t, cp.Client.Get(ctx, types.NamespacedName{Namespace: "tranche-system", Name: "tranche-manager"}, manager))
	assert.Equal(t, "tranche-manager", manager.Spec.Template.Spec.ServiceAccountName)
	assert.Equal(t, "ghcr.io/tranche-dev/tranche:latest", manager.Spec.Template.Spec.Containers[0].Image)

	// The manager's service account may do what the controller does, and no more than asked.
	user := "system:serviceaccount:tranche-system:tranche-manager"
	for _, tc := range []struct {
		attrs authorizationv1.ResourceAttributes
		allow bool
	}{
		{authorizationv1.ResourceAttributes{Group: "tranche.dev", Resource: "rollouts", Verb: "watch"}, true},
		{authorizationv1.ResourceAttributes{Group: "tranche.dev", Resource: "rollouts", Subresource: "status", Verb: "patch"}, true},
		{authorizationv1.ResourceAttributes{Group: "tranche.dev", Resource: "metrictemplates", Verb: "list"}, true},
		{authorizationv1.ResourceAttributes{Group: "tranche.dev", Resource: "notificationproviders", Verb: "watch"}, true},
		{authorizationv1.ResourceAttributes{Group: "apps", Resource: "deployments", Verb: "watch"}, true},
		{authorizationv1.ResourceAttributes{Group: "events.k8s.io", Resource: "events", Verb: "create", Namespace: "shop"}, true},
		{authorizationv1.ResourceAttributes{Group: "coordination.k8s.io", Resource: "leases", Verb: "update", Namespace: "tranche-system"}, true},
		{authorizationv1.ResourceAttributes{Group: "tranche.dev", Resource: "metrictemplates", Verb: "delete"}, false},
		{authorizationv1.ResourceAttributes{Resource: "secrets", Verb: "list"}, false},
		// Reads go through the manager's caches, and writes are patches (see test/chart).
		{authorizationv1.ResourceAttributes{Group: "apps", Resource: "deployments", Verb: "get"}, false},
		{authorizationv1.ResourceAttributes{Group: "apps", Resource: "deployments", Verb: "update"}, false},
		{authorizationv1.ResourceAttributes{Group: "coordination.k8s.io", Resource: "leases", Verb: "update", Namespace: "kube-system"}, false},
	} {
		review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: user, ResourceAttributes: &tc.attrs}}
		require.NoError(t, cp.Client.Create(ctx, review))
		assert.Equal(t, tc.allow, review.Status.Allowed, "%s %s/%s %s in %q", tc.attrs.Verb, tc.attrs.Group, tc.attrs.Resource, tc.attrs.Subresource, tc.attrs.Namespace)
	}
}

// TestNamespacedInstalls does what `kubectl apply --server-side -k config/namespaced` does,
// with the namespace set to a team's as the overlay says: the manager gets a Role there and
// no ClusterRole, and runs with --namespaced in the namespace it is in.
func TestNamespacedInstalls(t *testing.T) {
	ctx := context.Background()
	team := cp.Namespace(t)
	overlay := t.TempDir()
	here, err := filepath.Abs(".")
	require.NoError(t, err)
	base, err := filepath.Rel(overlay, filepath.Join(here, "namespaced")) // kustomize takes no absolute base
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), []byte("namespace: "+team+"\nresources:\n- "+base+"\n"), 0o600))
	kinds := apply(t, overlay, "Namespace", "CustomResourceDefinition") // the team's namespace exists; the CRDs are the test's already
	assert.Equal(t, map[string]int{
		"CustomResourceDefinition": 3, "Namespace": 1, "ServiceAccount": 1, "Role": 2, "RoleBinding": 2, "Deployment": 1,
	}, kinds, "a Role for the manager and one for its Lease, and no ClusterRole")

	manager := &appsv1.Deployment{}
	require.NoError(t, cp.Client.Get(ctx, types.NamespacedName{Namespace: team, Name: "tranche-manager"}, manager))
	container := manager.Spec.Template.Spec.Containers[0]
	assert.Subset(t, container.Args, []string{"--namespaces=$(POD_NAMESPACE)", "--namespaced"})
	assert.Contains(t, container.Env, corev1.EnvVar{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}})

	user := "system:serviceaccount:" + team + ":tranche-manager"
	for _, tc := range []struct {
		attrs authorizationv1.ResourceAttributes
		allow bool
	}{
		{authorizationv1.ResourceAttributes{Group: "tranche.dev", Resource: "rollouts", Verb: "watch", Namespace: team}, true},
		{authorizationv1.ResourceAttributes{Group: "apps", Resource: "deployments", Verb: "patch", Namespace: team}, true},
		{authorizationv1.ResourceAttributes{Group: "coordination.k8s.io", Resource: "leases", Verb: "update", Namespace: team}, true},
		{authorizationv1.ResourceAttributes{Group: "tranche.dev", Resource: "rollouts", Verb: "watch"}, false},
		{authorizationv1.ResourceAttributes{Group: "apps", Resource: "deployments", Verb: "patch", Namespace: "default"}, false},
		{authorizationv1.ResourceAttributes{Group: "gateway.networking.k8s.io", Resource: "gatewayclasses", Verb: "get"}, false},
	} {
		review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: user, ResourceAttributes: &tc.attrs}}
		require.NoError(t, cp.Client.Create(ctx, review))
		assert.Equal(t, tc.allow, review.Status.Allowed, "%s %s/%s in %q", tc.attrs.Verb, tc.attrs.Group, tc.attrs.Resource, tc.attrs.Namespace)
	}
}

// apply builds the kustomization in dir and applies what it makes, server-side, but for the
// kinds left out, and counts what it made by kind.
func apply(t *testing.T, dir string, leftOut ...string) map[string]int {
	t.Helper()
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	require.NoError(t, err)
	kinds := map[string]int{}
	for _, res := range resources.Resources() {
		m, err := res.Map()
		require.NoError(t, err)
		obj := &unstructured.Unstructured{Object: m}
		kinds[obj.GetKind()]++
		if slices.Contains(leftOut, obj.GetKind()) {
			continue
		}
		require.NoError(t, cp.Client.Patch(context.Background(), obj, client.Apply, client.FieldOwner("install-test"), client.ForceOwnership),
			"%s %s", obj.GetKind(), obj.GetName())
	}
	return kinds
}
