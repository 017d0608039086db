package controllers

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/harness"
)

// TestScalingTheTargetLocksOnlyItsCount: a status written after Tranche read the target
// does not make the scale-up conflict (a lock on the resourceVersion did, at about every
// other release), while a count changed after the read does, and the owner's count stays.
func TestScalingTheTargetLocksOnlyItsCount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := cp.Namespace(t)
	target := harness.Deployment(ns, "app", "app:1")
	target.Spec.Replicas = ptr.To[int32](0)
	target.Annotations = map[string]string{"deployment.kubernetes.io/revision": "1"}
	require.NoError(t, cp.Client.Create(ctx, target))
	key := client.ObjectKeyFromObject(target)
	get := func() *appsv1.Deployment {
		d := &appsv1.Deployment{}
		require.NoError(t, cp.Client.Get(ctx, key, d))
		return d
	}

	read := get() // as the cache has it
	written := read.DeepCopy()
	written.Status.Conditions = append(written.Status.Conditions, appsv1.DeploymentCondition{Type: "Checked", Status: "True"})
	// A status written since (the deployment controller's, and this one to be sure of it).
	require.NoError(t, cp.Client.Status().Patch(ctx, written, client.MergeFrom(read)))
	require.NotEqual(t, read.ResourceVersion, get().ResourceVersion)
	obj, err := patchReplicas(ctx, cp.Client, read, 3)
	require.NoError(t, err, "the status changed, not the count")
	require.NotNil(t, obj)
	now := get()
	assert.Equal(t, int32(3), *now.Spec.Replicas)
	assert.Equal(t, "3", now.Annotations[trancheapi.AnnotationScaledTo])
	assert.Equal(t, "1", now.Annotations["deployment.kubernetes.io/revision"], "the other annotations stay")
	assert.Equal(t, now.Generation, obj.GetGeneration(), "the object as written, for the record of Tranche's own writes")

	read = get()
	owners := read.DeepCopy()
	owners.Spec.Replicas = ptr.To[int32](5) // kubectl scale, meanwhile
	require.NoError(t, cp.Client.Patch(ctx, owners, client.MergeFrom(read)))
	_, err = patchReplicas(ctx, cp.Client, read, 0)
	require.Error(t, err)
	assert.True(t, countChanged(err), "a changed count is retried on a fresh read: %v", err)
	assert.Equal(t, int32(5), *get().Spec.Replicas, "the owner's count is not overwritten")

	obj, err = scaleDeployment(ctx, cp.Client, key, 0)
	require.NoError(t, err)
	require.NotNil(t, obj)
	assert.Equal(t, int32(0), *get().Spec.Replicas)
	obj, err = scaleDeployment(ctx, cp.Client, key, 0)
	require.NoError(t, err)
	assert.Nil(t, obj, "nothing to write")
}
