//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/stack"
)

// A Rollout taken out of Git is pruned by Argo CD, set up as docs/argocd.md says, while
// clients call through the gateway: no request fails, and the route and the apex Service stay,
// handed over to the Deployment's pods.
func TestArgoCDPrunesARolloutAndTheAppGoesOnServing(t *testing.T) {
	const app, host = "pantry", "pantry.e2e.test"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	c := s.ControlPlane.Client
	argo := sharedArgoCD(t)
	a := newArgoApp(ctx, t, app, host, 3*time.Second)
	commit, err := a.git.Commit(ctx, "shop", "the pantry", a.files(t, nil))
	require.NoError(t, err)
	route := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: app}}
	apex := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: app}}
	t.Cleanup(func() {
		for _, obj := range []client.Object{a.rollout, a.deployment, route, apex} {
			_ = c.Delete(context.Background(), obj, client.PropagationPolicy(metav1.DeletePropagationBackground))
		}
	})
	application := documentedApplication(a.url, app)
	require.NoError(t, unstructured.SetNestedField(application.Object, true, "spec", "syncPolicy", "automated", "prune"))
	require.NoError(t, c.Create(ctx, application))
	t.Cleanup(func() { stopManaging(t, application) })
	waitSyncedAt(ctx, t, argo, application, commit)
	_, err = waitFor(app, time.Minute, func(ro *trancheapi.Rollout) bool { return ro.Status.Phase == trancheapi.PhaseInitialized })
	require.NoError(t, err)
	require.NoError(t, stack.WaitServed(ctx, s.Traefik.WebURL(), host, 30*time.Second))
	load := stack.StartLoad(ctx, s.Traefik.WebURL(), host, requestsPerSecond)
	time.Sleep(2 * time.Second)

	before, from := load.Counts(), time.Now()
	commit = push(ctx, t, a.git, argo, app, "the pantry without its Rollout", map[string][]byte{app + "/rollout.yaml": nil})
	waitSyncedAt(ctx, t, argo, application, commit)
	require.Eventually(t, func() bool {
		return apierrors.IsNotFound(c.Get(ctx, client.ObjectKeyFromObject(a.rollout), &trancheapi.Rollout{}))
	}, 2*time.Minute, 100*time.Millisecond, "Argo CD pruned the Rollout")
	t.Logf("the Rollout was gone %s after the commit that took it out of Git", time.Since(from).Round(time.Millisecond))
	time.Sleep(5 * time.Second)
	seen := load.Counts().Minus(before)
	require.Positive(t, seen.Sent)
	assert.Zero(t, seen.Failed, "requests failed while Argo CD pruned the Rollout:\n%v", load.Failures(from, time.Now()))
	requireAllAnsweredBy(t, load, "v1", "after Argo CD pruned the Rollout")
	for _, obj := range []client.Object{route, apex} {
		require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(obj), obj), "%s stays", obj.GetName())
		assert.Empty(t, obj.GetOwnerReferences(), "%s is the app's now", obj.GetName())
	}
}
