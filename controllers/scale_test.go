package controllers

import (
	"context"
	"fmt"
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
// The generation a scale makes is recorded as Tranche's own, so that a status about the
// generation read needs no write; not when another write came between.
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

	read := get()                     // as the cache has it
	readGeneration := read.Generation // patchReplicas writes the answer into read
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
	assert.Equal(t, readGeneration+1, now.Generation)
	assert.Equal(t, fmt.Sprintf("%d-%d", readGeneration, now.Generation), now.Annotations[trancheapi.AnnotationOwnGenerations])
	seen := trancheapi.TargetStatus{Generation: readGeneration}
	assert.True(t, seen.Covers(now.Generation, now.Annotations), "a status about the generation read is about the one Tranche's scale made")

	read = get()
	readGeneration = read.Generation
	seen = trancheapi.TargetStatus{Generation: readGeneration}
	template := read.DeepCopy()
	template.Spec.Template.Spec.Containers[0].Image = "app:2" // a release, meanwhile
	require.NoError(t, cp.Client.Patch(ctx, template, client.MergeFrom(read)))
	_, err = patchReplicas(ctx, cp.Client, read, 4)
	require.NoError(t, err, "the count is the one read")
	now = get()
	assert.Equal(t, int32(4), *now.Spec.Replicas)
	assert.Equal(t, readGeneration+2, now.Generation)
	assert.False(t, seen.Covers(now.Generation, now.Annotations), "the release meanwhile is not Tranche's own: %v", now.Annotations)

	read = get()
	owners := read.DeepCopy()
	owners.Spec.Replicas = ptr.To[int32](5) // kubectl scale, meanwhile
	require.NoError(t, cp.Client.Patch(ctx, owners, client.MergeFrom(read)))
	_, err = patchReplicas(ctx, cp.Client, read, 0)
	require.Error(t, err)
	assert.True(t, countChanged(err), "a changed count is retried on a fresh read: %v", err)
	assert.Equal(t, int32(5), *get().Spec.Replicas, "the owner's count is not overwritten")

	owned := get().Generation
	obj, err = scaleDeployment(ctx, cp.Client, key, 0)
	require.NoError(t, err)
	require.NotNil(t, obj)
	assert.Equal(t, int32(0), *get().Spec.Replicas)
	assert.Equal(t, fmt.Sprintf("%d-%d", owned, owned+1), get().Annotations[trancheapi.AnnotationOwnGenerations], "a range starts again after the owner's write")
	obj, err = scaleDeployment(ctx, cp.Client, key, 0)
	require.NoError(t, err)
	assert.Nil(t, obj, "nothing to write")
}
