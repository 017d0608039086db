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
// outlives it. Routing objects where the clients come in (a Gateway's route) are released
// too, sending everything to the apex Service, and the Rollout waits until the data plane
// has taken that. The primary, the other two Services and the other routing objects are
// owned by the Rollout: the garbage collector deletes them after it. A target that does not get ready
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
		if !w.Ready && waited < ro.Spec.EffectiveProgressDeadline() {
			return ctrl.Result{RequeueAfter: staleRetryDelay}, nil // the target's watch events come sooner
		}
		if !w.Ready {
			r.Recorder.Eventf(ro, nil, corev1.EventTypeWarning, "TargetNotReady", "Delete",
				"The %s %q was not ready %s after the Rollout was deleted: its Service %q selects its pods all the same",
				workloadKind(target), target.GetName(), waited.Round(time.Second), ro.ServiceNames().Apex)
		}
		if err := r.handOverApex(ctx, ro, target); err != nil {
			return ctrl.Result{}, err
		}
		taken, err := r.releaseRoutes(ctx, ro)
		if err != nil {
			return ctrl.Result{}, err
		}
		if !taken && r.Now().Sub(ro.DeletionTimestamp.Time) < ro.Spec.EffectiveProgressDeadline() {
			return ctrl.Result{RequeueAfter: staleRetryDelay}, nil
		}
		if wait, err := r.keepPrimaryAfterRelease(ctx, s); err != nil || wait > 0 {
			return ctrl.Result{RequeueAfter: wait}, err
		}
	}
	forgetMetrics(ro.Namespace, ro.Name)
	// A reconcile queued before the last one let the Rollout go reads it from a cache that
	// has not seen it go: gone is what it wants.
	return ctrl.Result{}, client.IgnoreNotFound(r.patchFinalizers(ctx, s, controllerutil.RemoveFinalizer))
}

// releaseRoutes hands the routing objects where the app's clients come in (a Gateway's
// route, see providers.Releaser) over to the app, sending everything to the apex Service,
// which selects the target's pods by now. It reports whether the data plane has taken them
// so: until it has, the primary, which it may still send to, must stay. A provider whose
// objects are not an entry point has nothing to release, and objects that are gone nothing
// either.
func (r *RolloutReconciler) releaseRoutes(ctx context.Context, ro *trancheapi.Rollout) (bool, error) {
	router, err := r.Providers.For(r.Client, ro)
	if err != nil {
		return true, nil
	}
	releaser, ok := router.(providers.Releaser)
	if !ok {
		return true, nil
	}
	word, err := releaser.Release(ctx, ro)
	switch {
	case apierrors.IsNotFound(err):
		return true, nil
	case err != nil:
		return false, err
	}
	return word.Taken(), nil
}

// keepPrimaryAfterRelease is how much longer the primary must stay once the data plane
// took the released routes: scaleDownDelay after it did, as for a canary traffic left, since
// a data plane says it took a route a moment before it serves by it (Traefik, by a few
// milliseconds to a tenth of a second). The first call records the time on the Rollout.
func (r *RolloutReconciler) keepPrimaryAfterRelease(ctx context.Context, s *scope) (time.Duration, error) {
	ro := s.rollout
	releasedAt, err := time.Parse(time.RFC3339Nano, ro.Annotations[trancheapi.AnnotationReleasedAt])
	if err != nil {
		before := ro.DeepCopy()
		releasedAt = r.Now()
		metav1.SetMetaDataAnnotation(&ro.ObjectMeta, trancheapi.AnnotationReleasedAt, releasedAt.UTC().Format(time.RFC3339Nano))
		if err := r.Patch(ctx, ro, client.MergeFrom(before)); err != nil {
			return 0, err
		}
	}
	return max(0, ro.Spec.EffectiveScaleDownDelay()-r.Now().Sub(releasedAt)), nil
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
