package controllers

import (
	"context"
	"fmt"
	"maps"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/controllers/planner"
	"github.com/tranche-dev/tranche/providers"
)

// A target with a HorizontalPodAutoscaler keeps it: it scales the canary while a rollout
// runs. The primary gets a copy of it, named as the primary and pointing at it, which
// Tranche keeps in step with the user's edits and which goes with the Rollout. Tranche never
// sets the replicas of a Deployment an autoscaler scales, but for two: zero for the idle
// target (an autoscaler leaves a Deployment scaled to zero alone) and, when it scales the
// target up again for a rollout, a count within the autoscaler's bounds, so that the
// autoscaler has nothing to correct.

func autoscalingOf(hpa *autoscalingv2.HorizontalPodAutoscaler) *planner.Autoscaling {
	if hpa == nil {
		return nil
	}
	b := planner.Autoscaling{Name: hpa.Name, Min: 1, Max: hpa.Spec.MaxReplicas}
	if hpa.Spec.MinReplicas != nil {
		b.Min = *hpa.Spec.MinReplicas
	}
	return &b
}

// settled reports whether the autoscaler is done with the count the target has now (see
// planner.Autoscaling.Settled): the count is within its bounds (which it enforces without
// metrics), its status says it read that count, and it wants that count or has no metrics to
// want another from.
func settled(hpa *autoscalingv2.HorizontalPodAutoscaler, bounds planner.Autoscaling, count int32) bool {
	if count < bounds.Min || count > bounds.Max || hpa.Status.CurrentReplicas != count {
		return false
	}
	if hpa.Status.DesiredReplicas == count {
		return true
	}
	for _, c := range hpa.Status.Conditions {
		if c.Type == autoscalingv2.ScalingActive && c.Status == corev1.ConditionFalse {
			return true
		}
	}
	return false
}

// targetAutoscaler finds the HorizontalPodAutoscaler that scales the Rollout's target, or
// nil. Two are an error the user must fix: Kubernetes itself refuses to act on either.
func targetAutoscaler(ctx context.Context, c client.Reader, ro *trancheapi.Rollout) (*autoscalingv2.HorizontalPodAutoscaler, error) {
	var list autoscalingv2.HorizontalPodAutoscalerList
	if err := c.List(ctx, &list, client.InNamespace(ro.Namespace)); err != nil {
		return nil, fmt.Errorf("listing HorizontalPodAutoscalers: %w", err)
	}
	var found *autoscalingv2.HorizontalPodAutoscaler
	for i := range list.Items {
		hpa := &list.Items[i]
		if !scales(hpa, ro.Spec.TargetRef) {
			continue
		}
		if found != nil {
			return nil, specError{fmt.Errorf("HorizontalPodAutoscalers %q and %q both scale the %s %q: delete one of them",
				found.Name, hpa.Name, ro.Spec.TargetRef.Kind, ro.Spec.TargetRef.Name)}
		}
		found = hpa
	}
	return found, nil
}

func scales(hpa *autoscalingv2.HorizontalPodAutoscaler, target trancheapi.TargetRef) bool {
	ref := hpa.Spec.ScaleTargetRef
	return ref.Kind == target.Kind && ref.Name == target.Name && (ref.APIVersion == "apps/v1" || ref.APIVersion == "")
}

// desiredPrimaryAutoscaler is the user's autoscaler, pointed at the primary.
func desiredPrimaryAutoscaler(ro *trancheapi.Rollout, user *autoscalingv2.HorizontalPodAutoscaler) *autoscalingv2.HorizontalPodAutoscaler {
	spec := *user.Spec.DeepCopy()
	spec.ScaleTargetRef.Name = ro.PrimaryName()
	spec.ScaleTargetRef.APIVersion = "apps/v1"
	// A paced rollback raises the floor while the primary needs replicas for its next share.
	if floor := min(ro.Status.PrimaryMinReplicas, spec.MaxReplicas); floor > ptr.Deref(spec.MinReplicas, 1) {
		spec.MinReplicas = &floor
	}
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ro.Namespace, Name: ro.PrimaryName(),
			Labels: providers.Labels(ro), Annotations: providers.Annotations(),
		},
		Spec: spec,
	}
}

// ensurePrimaryAutoscaler makes the primary's autoscaler match the target's, or deletes it
// when the target has none any more.
func (r *RolloutReconciler) ensurePrimaryAutoscaler(ctx context.Context, ro *trancheapi.Rollout, user *autoscalingv2.HorizontalPodAutoscaler) error {
	key := types.NamespacedName{Namespace: ro.Namespace, Name: ro.PrimaryName()}
	if user == nil {
		return r.deletePrimaryAutoscaler(ctx, ro, key)
	}
	want := desiredPrimaryAutoscaler(ro, user)
	if err := controllerutil.SetControllerReference(ro, want, r.Scheme()); err != nil {
		return err
	}
	_, err := providers.Update(ctx, r.Client, key, func(hpa *autoscalingv2.HorizontalPodAutoscaler) error {
		if !metav1.IsControlledBy(hpa, ro) {
			return specError{fmt.Errorf("HorizontalPodAutoscaler %q exists and is not Tranche's: Tranche gives the primary a copy of %q under that name; rename or delete it",
				hpa.Name, user.Name)}
		}
		hpa.Spec = want.Spec
		if hpa.Labels == nil {
			hpa.Labels = map[string]string{}
		}
		maps.Copy(hpa.Labels, want.Labels)
		return nil
	})
	if apierrors.IsNotFound(err) {
		err = r.Create(ctx, want)
		if apierrors.IsAlreadyExists(err) {
			return nil // the cache has not seen it yet
		}
	}
	return err
}

func (r *RolloutReconciler) deletePrimaryAutoscaler(ctx context.Context, ro *trancheapi.Rollout, key types.NamespacedName) error {
	hpa := &autoscalingv2.HorizontalPodAutoscaler{}
	if err := r.Get(ctx, key, hpa); err != nil {
		return client.IgnoreNotFound(err)
	}
	if !metav1.IsControlledBy(hpa, ro) {
		return nil
	}
	return client.IgnoreNotFound(r.Delete(ctx, hpa, client.Preconditions{UID: &hpa.UID}))
}
