package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// Outcome is what `status` makes of a Rollout: whether the rollout of the revision its
// target runs now has ended, and how.
type Outcome struct {
	Ended     bool
	Succeeded bool
	Message   string
}

// Judge decides the outcome from the Rollout and its target's metadata (nil when it cannot
// be read). The target's revision is the one the controller recorded in status.target, once
// it has seen the target's latest generation. A status about another revision (the
// controller has not seen the new one yet) or an older spec is not an outcome: a pipeline
// that applies a change and then asks must not be answered about the release before.
func Judge(ro *trancheapi.Rollout, target *metav1.PartialObjectMetadata) Outcome {
	st := ro.Status
	// A rollout's own end (Stalled with the phase as its reason) is judged below, against
	// the revision asked about: it may be the release before.
	if c := apimeta.FindStatusCondition(st.Conditions, trancheapi.ConditionStalled); c != nil && c.Status == metav1.ConditionTrue &&
		c.ObservedGeneration == ro.Generation && c.Reason != string(st.Phase) {
		return Outcome{Ended: true, Message: "stalled: " + c.Message}
	}
	switch {
	case st.ObservedGeneration != ro.Generation:
		return Outcome{Message: "waiting for the controller to see the latest spec"}
	case pendingRequest(ro) != "":
		return Outcome{Message: fmt.Sprintf("waiting for the controller to act on the %s request", pendingRequest(ro))}
	case target == nil:
		return Outcome{Message: fmt.Sprintf("waiting for the target %s", ro.Spec.TargetRef.Kind)}
	case !st.Target.Covers(target.Generation, target.Annotations):
		return Outcome{Message: fmt.Sprintf("waiting for the controller to see generation %d of the target %s", target.Generation, ro.Spec.TargetRef.Kind)}
	}
	revision := st.Target.Revision
	idle := !st.Phase.UnderWay() && st.Phase != trancheapi.PhasePromoting && st.Phase != trancheapi.PhaseInitializing && st.Phase != ""
	switch {
	case idle && st.StableRevision == revision:
		// Also after a failed rollout when the target was set back to the stable revision.
		return Outcome{Ended: true, Succeeded: true, Message: fmt.Sprintf("revision %s serves all traffic", revision)}
	case (st.Phase == trancheapi.PhaseFailed || st.Phase == trancheapi.PhaseAborted) && st.CanaryRevision == revision:
		return Outcome{Ended: true, Message: fmt.Sprintf("%s: %s", st.Phase, st.Message)}
	case st.CanaryRevision != revision && st.StableRevision != revision:
		return Outcome{Message: fmt.Sprintf("waiting for the controller to see revision %s", revision)}
	}
	return Outcome{Message: fmt.Sprintf("%s: %s", st.Phase, st.Message)}
}

// pendingRequest names a promote, abort, undo or retry request the controller has not handled
// yet, or is "". Until it has, the phase says nothing of the outcome: a retried rollout is
// still Failed a moment after `kubectl tranche retry`.
func pendingRequest(ro *trancheapi.Rollout) string {
	handled := ro.Status.HandledRequests
	for _, r := range []struct{ name, annotation, handled string }{
		{"retry", trancheapi.AnnotationRetry, handled.Retry},
		{"abort", trancheapi.AnnotationAbort, handled.Abort},
		{"undo", trancheapi.AnnotationUndo, handled.Undo},
		{"promote", trancheapi.AnnotationPromote, handled.Promote},
	} {
		if token := ro.Annotations[r.annotation]; token != "" && token != r.handled {
			return r.name
		}
	}
	return ""
}

// Wait polls the Rollout until Judge says its rollout has ended, calling progress with each
// new message, and returns the outcome. It stops with ctx (use a deadline for a timeout).
func Wait(ctx context.Context, c client.Client, key types.NamespacedName, progress func(string)) (Outcome, error) {
	last, out := "", Outcome{}
	for {
		ro, err := getRollout(ctx, c, key)
		var target *metav1.PartialObjectMetadata
		if err == nil {
			target, err = getTarget(ctx, c, ro)
		}
		switch {
		case apierrors.IsNotFound(err) || apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err):
			return Outcome{}, err
		case err != nil && ctx.Err() == nil:
			out.Message = fmt.Sprintf("%v (trying again)", err) // the API server may be away a moment
		case err == nil:
			out = Judge(ro, target)
		}
		if out.Message != last && progress != nil && ctx.Err() == nil {
			progress(out.Message)
			last = out.Message
		}
		if out.Ended {
			return out, nil
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return out, fmt.Errorf("rollout %s has not ended in time: %s", key.Name, out.Message)
			}
			return out, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// getTarget reads the metadata of the Rollout's target (a Deployment or a DaemonSet): nil
// while it does not exist.
func getTarget(ctx context.Context, c client.Client, ro *trancheapi.Rollout) (*metav1.PartialObjectMetadata, error) {
	ref := ro.Spec.TargetRef
	target := &metav1.PartialObjectMetadata{}
	target.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind(ref.Kind))
	err := c.Get(ctx, types.NamespacedName{Namespace: ro.Namespace, Name: ref.Name}, target)
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("reading the target %s %s: %w", ref.Kind, ref.Name, err)
	}
	return target, nil
}

// targetRevision is the revision of the target's pod template as the controller
// recorded it, "" while the target does not exist, and an error while the controller has not
// seen the target's latest generation: the plugin never hashes a template itself (the
// revision covers more than the template).
func targetRevision(ctx context.Context, c client.Client, ro *trancheapi.Rollout) (string, error) {
	d, err := getTarget(ctx, c, ro)
	switch {
	case err != nil || d == nil:
		return "", err
	case !ro.Status.Target.Covers(d.Generation, d.Annotations):
		return "", fmt.Errorf("rollout %s: the controller has not seen generation %d of the target %s %s yet: try again in a moment",
			ro.Name, d.Generation, ro.Spec.TargetRef.Kind, d.Name)
	}
	return ro.Status.Target.Revision, nil
}
