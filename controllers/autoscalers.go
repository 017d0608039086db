package controllers

import (
	"context"
	"fmt"
	"maps"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
)

// A target with a HorizontalPodAutoscaler keeps it: it scales the canary while a rollout
// runs. The primary gets a copy of it, named as the primary and pointing at it, which
// Tranche keeps in step with the user's edits and which goes with the Rollout. Tranche never
// sets the replicas of a Deployment an autoscaler scales, but for two: zero for the idle
// target (an autoscaler leaves a Deployment scaled to zero alone) and, when it scales the
// target up again for a rollout, a count within the autoscaler's bounds, so that the
// autoscaler has nothing to correct.

// autoscaling is what decide knows of the target's autoscaler: its name, minReplicas and
// maxReplicas.
type autoscaling struct {
	name     string
	min, max int32
}

func (a autoscaling) clamp(n int32) int32 { return min(max(n, a.min), a.max) }

func autoscalingOf(hpa *autoscalingv2.HorizontalPodAutoscaler) *autoscaling {
	if hpa == nil {
		return nil
	}
	b := autoscaling{name: hpa.Name, min: 1, max: hpa.Spec.MaxReplicas}
	if hpa.Spec.MinReplicas != nil {
		b.min = *hpa.Spec.MinReplicas
	}
	return &b
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
