package controllers

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

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

// finalize hands all traffic back to the primary and gives the target the primary's
// replicas back, then lets the Rollout go. The primary, the Services and the routing objects
// are owned by the Rollout and deleted with it.
func (r *RolloutReconciler) finalize(ctx context.Context, s *scope) error {
	ro := s.rollout
	if !controllerutil.ContainsFinalizer(ro, finalizer) {
		return nil
	}
	if router, err := r.Providers.For(r.Client, ro); err == nil {
		if err := providers.HandBack(ctx, router, ro); err != nil {
			return err
		}
	}
	if err := r.restoreTarget(ctx, ro); err != nil {
		return err
	}
	forgetMetrics(ro.Namespace, ro.Name)
	return r.patchFinalizers(ctx, s, controllerutil.RemoveFinalizer)
}

// patchFinalizers changes the Rollout's finalizers as change says, in a merge patch that
// fails with a conflict if the Rollout changed since it was read (the list is replaced
// whole, so a finalizer another controller added meanwhile must not be lost).
func (r *RolloutReconciler) patchFinalizers(ctx context.Context, s *scope, change func(client.Object, string) bool) error {
	before := s.rollout.DeepCopy()
	change(s.rollout, finalizer)
	return r.Patch(ctx, s.rollout, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
}
