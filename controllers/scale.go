package controllers

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// A release changes the target's template and, a moment later, Tranche scales the target up
// to be the canary: by then the deployment controller has written the target's status (and
// its revision annotation) for the new template, so a write locked on the resourceVersion
// Tranche's cache read met a conflict about every other release, and a reconcile was lost to
// it. The count is what the write must not overwrite (its owner may scale the target
// meanwhile), so the lock is on the count alone: a JSON patch that tests it.
//
// The write also says which generation it expects to give the target (see
// trancheapi.TargetStatus.Covers): the one after the generation read. When another write
// came between, the target's generation is past that one and the claim is never used.

// scaleDeployment sets the Deployment's replicas, and the annotation that says the count is
// Tranche's (see declaredReplicas), in one write that fails only if the count is no longer
// the one read; it then reads again and retries. It returns the object as written, nil when
// there was nothing to write.
func scaleDeployment(ctx context.Context, c client.Client, key client.ObjectKey, replicas int32) (client.Object, error) {
	var written client.Object
	err := retry.OnError(retry.DefaultRetry, countChanged, func() error {
		written = nil
		d := &appsv1.Deployment{}
		if err := c.Get(ctx, key, d); err != nil {
			return err
		}
		var err error
		written, err = patchReplicas(ctx, c, d, replicas)
		return err
	})
	return written, err
}

// patchReplicas writes d's replicas and the annotations, testing that the count is still the
// one d has. It returns the object as written, nil when d needs no write.
func patchReplicas(ctx context.Context, c client.Client, d *appsv1.Deployment, replicas int32) (client.Object, error) {
	scaledTo := strconv.Itoa(int(replicas))
	if d.Spec.Replicas != nil && *d.Spec.Replicas == replicas && d.Annotations[trancheapi.AnnotationScaledTo] == scaledTo {
		return nil, nil
	}
	if d.Spec.Replicas == nil || d.Annotations == nil {
		// Not as the API server keeps a Deployment (it defaults the count, and the deployment
		// controller annotates the revision): lock the whole object then.
		return updateWorkload(ctx, c, trancheapi.KindDeployment, client.ObjectKeyFromObject(d), func(obj client.Object) error {
			scaleAsOwn(obj, replicas)
			return nil
		})
	}
	type op struct {
		Op    string `json:"op"`
		Path  string `json:"path"`
		Value any    `json:"value"`
	}
	annotation := func(key string) string { return "/metadata/annotations/" + jsonPointerEscape(key) }
	ops := []op{
		{"test", "/spec/replicas", *d.Spec.Replicas},
		{"replace", "/spec/replicas", replicas},
		{"add", annotation(trancheapi.AnnotationScaledTo), scaledTo},
	}
	if scaleBumpsGeneration(d, replicas) {
		ops = append(ops, op{"add", annotation(trancheapi.AnnotationOwnGenerations), trancheapi.NextOwnGenerations(d.Annotations, d.Generation)})
	}
	patch, err := json.Marshal(ops)
	if err != nil {
		return nil, err
	}
	if err := c.Patch(ctx, d, client.RawPatch(types.JSONPatchType, patch)); err != nil {
		return nil, err
	}
	return d, nil
}

// countChanged is the error of a write whose test of the count failed (the API server
// answers 422), or of the fallback's conflict.
func countChanged(err error) bool {
	return apierrors.IsInvalid(err) || apierrors.IsConflict(err)
}

// jsonPointerEscape escapes a key for a JSON pointer (RFC 6901).
func jsonPointerEscape(key string) string {
	return strings.ReplaceAll(strings.ReplaceAll(key, "~", "~0"), "/", "~1")
}

// scaleAsOwn scales a workload read from the API server, for a write locked on what was read,
// and says that the count is Tranche's; when that gives the workload a new generation, it
// records that the generation is Tranche's own.
func scaleAsOwn(obj client.Object, replicas int32) {
	if scaleBumpsGeneration(obj, replicas) {
		setAnnotation(obj, trancheapi.AnnotationOwnGenerations, trancheapi.NextOwnGenerations(obj.GetAnnotations(), obj.GetGeneration()))
	}
	scale(obj, replicas)
	setAnnotation(obj, trancheapi.AnnotationScaledTo, strconv.Itoa(int(replicas)))
}

// scaleBumpsGeneration reports whether scaling obj to replicas gives it a new generation: a
// Deployment's changes with its spec or its annotations (the API server copies them to its
// ReplicaSets), a DaemonSet's with its spec.
func scaleBumpsGeneration(obj client.Object, replicas int32) bool {
	switch o := obj.(type) {
	case *appsv1.DaemonSet:
		return parked(o) != (replicas == 0)
	case *appsv1.Deployment:
		return o.Spec.Replicas == nil || *o.Spec.Replicas != replicas || o.Annotations[trancheapi.AnnotationScaledTo] != strconv.Itoa(int(replicas))
	}
	return true
}
