package controllers

import (
	"context"
	"maps"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
)

// finalizer holds a Rollout until its traffic is handed back to the primary.
const finalizer = "tranche.dev/finalizer"

// addFinalizer puts the finalizer on a Rollout that lacks it. It is a patch of the metadata
// under the Rollout's resourceVersion, never an Update of the whole object: an Update from a
// binary that does not know a field a newer version of the CRD added would drop it. The
// patch's own watch event is filtered out (no spec change), so the reconcile carries on.
func (r *RolloutReconciler) addFinalizer(ctx context.Context, s *scope) error {
	if controllerutil.ContainsFinalizer(s.rollout, finalizer) {
		return nil
	}
	if err := r.patchFinalizers(ctx, s, controllerutil.AddFinalizer); err != nil {
		return err
	}
	s.written = s.rollout.DeepCopy()
	return nil
}

// finalize leaves the app serving without Tranche, then lets the Rollout go. All traffic goes
// back to the primary while the target gets the primary's replicas back; once the target is
// ready (its Deployment and its Service's endpoints say so), the apex Service, the name the
// app's clients know, selects the target's pods and is released from the Rollout so that it
// outlives it. The primary, the other two Services and the routing objects are owned by the
// Rollout: the garbage collector deletes them after it. A target that does not get ready
// within the progress deadline is handed the apex Service all the same, with a warning: a
// Rollout that cannot be deleted would be worse.
func (r *RolloutReconciler) finalize(ctx context.Context, s *scope) (ctrl.Result, error) {
	ro := s.rollout
	if !controllerutil.ContainsFinalizer(ro, finalizer) {
		return ctrl.Result{}, nil
	}
	if router, err := r.Providers.For(r.Client, ro); err == nil {
		if err := providers.HandBack(ctx, router, ro); err != nil {
			return ctrl.Result{}, err
		}
	}
	if err := r.restoreTarget(ctx, ro); err != nil {
		return ctrl.Result{}, err
	}
	target := newWorkload(ro.Spec.TargetRef.Kind)
	switch err := r.Get(ctx, types.NamespacedName{Namespace: ro.Namespace, Name: ro.Spec.TargetRef.Name}, target); {
	case apierrors.IsNotFound(err):
		// Nothing to hand the apex Service to: it goes with the Rollout.
	case err != nil:
		return ctrl.Result{}, err
	default:
		w, err := r.servingReady(ctx, ro, ro.ServiceNames().Canary, workloadOf(target, false))
		if err != nil {
			return ctrl.Result{}, err
		}
		waited := r.Now().Sub(ro.DeletionTimestamp.Time)
		if !w.ready && waited < ro.Spec.EffectiveProgressDeadline() {
			return ctrl.Result{RequeueAfter: staleRetryDelay}, nil // the target's watch events come sooner
		}
		if !w.ready {
			r.Recorder.Eventf(ro, nil, corev1.EventTypeWarning, "TargetNotReady", "Delete",
				"The %s %q was not ready %s after the Rollout was deleted: its Service %q selects its pods all the same",
				workloadKind(target), target.GetName(), waited.Round(time.Second), ro.ServiceNames().Apex)
		}
		if err := r.handOverApex(ctx, ro, target); err != nil {
			return ctrl.Result{}, err
		}
	}
	forgetMetrics(ro.Namespace, ro.Name)
	return ctrl.Result{}, r.patchFinalizers(ctx, s, controllerutil.RemoveFinalizer)
}

// handOverApex points the apex Service at the target's pods and takes the Rollout's owner
// reference off it, so that the garbage collector leaves it; the annotation says a Rollout
// of the same name may take it back (see ensureService).
func (r *RolloutReconciler) handOverApex(ctx context.Context, ro *trancheapi.Rollout, target client.Object) error {
	key := types.NamespacedName{Namespace: ro.Namespace, Name: ro.ServiceNames().Apex}
	_, err := providers.Update(ctx, r.Client, key, func(svc *corev1.Service) error {
		if !metav1.IsControlledBy(svc, ro) {
			return nil // not Tranche's to hand over (or handed over already)
		}
		svc.Spec.Selector = maps.Clone(podSelector(target).MatchLabels)
		metav1.SetMetaDataAnnotation(&svc.ObjectMeta, trancheapi.AnnotationHandedOver, "true")
		svc.OwnerReferences = slices.DeleteFunc(svc.OwnerReferences, func(o metav1.OwnerReference) bool { return o.UID == ro.UID })
		return nil
	})
	return client.IgnoreNotFound(err)
}

// patchFinalizers changes the Rollout's finalizers as change says, in a merge patch that
// fails with a conflict if the Rollout changed since it was read (the list is replaced
// whole, so a finalizer another controller added meanwhile must not be lost).
func (r *RolloutReconciler) patchFinalizers(ctx context.Context, s *scope, change func(client.Object, string) bool) error {
	before := s.rollout.DeepCopy()
	change(s.rollout, finalizer)
	return r.Patch(ctx, s.rollout, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
}
