package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// With --namespaced, a request about a cluster-scoped kind or about every namespace is
// refused as Forbidden before it leaves the manager; requests within a namespace go through.
func TestNamespacedOnlyKeepsToNamespaces(t *testing.T) {
	ctx := context.Background()
	ns := cp.Namespace(t)
	c := namespacedOnly{cp.Client}

	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "settings"}, Data: map[string]string{"a": "1"}}
	require.NoError(t, c.Create(ctx, cm))
	require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(cm), &corev1.ConfigMap{}))
	require.NoError(t, c.List(ctx, &corev1.ConfigMapList{}, client.InNamespace(ns)))
	patch := client.MergeFrom(cm.DeepCopy())
	cm.Data["a"] = "2"
	require.NoError(t, c.Patch(ctx, cm, patch))

	for what, err := range map[string]error{
		"a cluster-scoped object":   c.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{}),
		"a list of cluster-scoped":  c.List(ctx, &corev1.NodeList{}),
		"every namespace's objects": c.List(ctx, &corev1.ConfigMapList{}),
		"a cluster-scoped write":    c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "nope"}}),
		"a cluster-scoped deletion": c.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}),
	} {
		assert.True(t, apierrors.IsForbidden(err), "%s: %v", what, err)
		assert.ErrorContains(t, err, "--namespaced", what)
	}
	// The refused writes never reached the API server (the test's own client may do both).
	assert.True(t, apierrors.IsNotFound(cp.Client.Get(ctx, client.ObjectKey{Name: "nope"}, &corev1.Namespace{})), "the namespace was created")
	namespace := &corev1.Namespace{}
	require.NoError(t, cp.Client.Get(ctx, client.ObjectKey{Name: ns}, namespace))
	assert.Nil(t, namespace.DeletionTimestamp, "the namespace was deleted")
}
