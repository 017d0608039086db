package controllers

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// laggingCache plays an informer's cache: a read answers the object as it was when the
// test last called catchUp, while writes go to the API server at once.
type laggingCache struct {
	client.Client
	seen map[client.ObjectKey]client.Object
}

func (c *laggingCache) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	old, ok := c.seen[key]
	if !ok {
		return apierrors.NewNotFound(corev1.Resource("object"), key.Name)
	}
	data, err := runtime.DefaultUnstructuredConverter.ToUnstructured(old)
	if err != nil {
		return err
	}
	return runtime.DefaultUnstructuredConverter.FromUnstructured(data, obj)
}

func (c *laggingCache) catchUp(t *testing.T, obj client.Object) {
	t.Helper()
	fresh := obj.DeepCopyObject().(client.Object)
	require.NoError(t, c.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), fresh))
	c.seen[client.ObjectKeyFromObject(obj)] = fresh
}

func TestReadsBehindOurOwnWritesWaitForTheCache(t *testing.T) {
	ctx := context.Background()
	scheme := runtime.NewScheme()
	require.NoError(t, appsv1.AddToScheme(scheme))
	require.NoError(t, trancheapi.AddToScheme(scheme))
	apiServer := fake.NewClientBuilder().WithScheme(scheme).WithStatusSubresource(&trancheapi.Rollout{}).Build()
	cache := &laggingCache{Client: apiServer, seen: map[client.ObjectKey]client.Object{}}
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	c := newOwnWrites(cache, func() time.Time { return now })
	key := client.ObjectKey{Namespace: "shop", Name: "podinfo-primary"}
	read := func() error { return c.Get(ctx, key, &appsv1.Deployment{}) }

	primary := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "podinfo-primary", UID: "a"}}
	require.NoError(t, c.Create(ctx, primary))
	assert.ErrorIs(t, read(), errBehindOwnWrite, "created, not in the cache yet")
	cache.catchUp(t, primary)
	require.NoError(t, read(), "the cache has seen the create")
	assert.Zero(t, c.unseen.Load(), "nothing created is waited for any more")

	before := primary.DeepCopy()
	primary.Spec.Replicas = ptr.To[int32](3)
	require.NoError(t, c.Patch(ctx, primary, client.MergeFrom(before)))
	assert.ErrorIs(t, read(), errBehindOwnWrite, "patched, the cache holds the version before")
	cache.catchUp(t, primary)
	require.NoError(t, read(), "the cache has seen the patch")

	someoneElses := primary.DeepCopy()
	someoneElses.Spec.Replicas = ptr.To[int32](5)
	require.NoError(t, apiServer.Update(ctx, someoneElses))
	require.NoError(t, read(), "another writer's write is not ours to wait for: the write locked on the read finds it")

	require.NoError(t, apiServer.Get(ctx, key, primary))
	primary.Spec.Replicas = ptr.To[int32](2)
	require.NoError(t, c.Update(ctx, primary))
	assert.ErrorIs(t, read(), errBehindOwnWrite)
	now = now.Add(cacheLagBound + time.Second)
	require.NoError(t, read(), "a cache that never catches up is read as it is after the bound")

	// The status subresource's writes are remembered too.
	ro := &trancheapi.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "podinfo", UID: "b"}}
	require.NoError(t, apiServer.Create(ctx, ro))
	cache.catchUp(t, ro)
	written := ro.DeepCopy()
	written.Status.Phase = trancheapi.PhaseProgressing
	require.NoError(t, c.Status().Patch(ctx, written, client.MergeFrom(ro)))
	assert.ErrorIs(t, c.Get(ctx, client.ObjectKeyFromObject(ro), &trancheapi.Rollout{}), errBehindOwnWrite)
	cache.catchUp(t, ro)
	require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(ro), &trancheapi.Rollout{}))

	// A missing object not created by us is missing.
	err := c.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "cart"}, &appsv1.Deployment{})
	assert.True(t, apierrors.IsNotFound(err), "%v", err)
}
