package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// Requests never touch spec, which Git owns: they are annotations the controller reads (see
// api/v1alpha1/requests.go). Each function checks first that the request makes sense for
// the Rollout as it is, and says why not when it does not.

// Promote asks the controller to pass the manual gate the rollout waits at; with full, to
// skip the remaining steps and analysis and promote at once.
func Promote(ctx context.Context, c client.Client, key types.NamespacedName, full bool) (string, error) {
	ro, err := getRollout(ctx, c, key)
	if err != nil {
		return "", err
	}
	phase := ro.Status.Phase
	switch {
	case full && !phase.UnderWay():
		return "", fmt.Errorf("rollout %s is %s: no rollout is under way to promote", key.Name, phaseOf(ro))
	case !full && phase != trancheapi.PhaseWaitingApproval:
		return "", fmt.Errorf("rollout %s is %s, not waiting for approval: nothing to promote (--full skips the remaining steps)", key.Name, phaseOf(ro))
	}
	token := newToken()
	if full {
		token = trancheapi.PromoteFullPrefix + token
	}
	if err := annotate(ctx, c, key, trancheapi.AnnotationPromote, &token); err != nil {
		return "", err
	}
	if full {
		return fmt.Sprintf("rollout %s: skipping the remaining steps, promoting revision %s", key.Name, ro.Status.CanaryRevision), nil
	}
	return fmt.Sprintf("rollout %s: step %d approved", key.Name, ro.Status.CurrentStep+1), nil
}

// Abort asks the controller to roll the canary back. The rollout is not tried again until
// the target changes or Retry is asked for.
func Abort(ctx context.Context, c client.Client, key types.NamespacedName) (string, error) {
	ro, err := getRollout(ctx, c, key)
	if err != nil {
		return "", err
	}
	if !ro.Status.Phase.UnderWay() && ro.Status.Phase != trancheapi.PhasePromoting {
		return "", fmt.Errorf("rollout %s is %s: no rollout is under way to abort", key.Name, phaseOf(ro))
	}
	token := newToken()
	if err := annotate(ctx, c, key, trancheapi.AnnotationAbort, &token); err != nil {
		return "", err
	}
	return fmt.Sprintf("rollout %s: aborting revision %s, traffic goes back to %s", key.Name, ro.Status.CanaryRevision, ro.Status.StableRevision), nil
}

// Retry asks the controller to roll out again the revision that failed or was aborted.
func Retry(ctx context.Context, c client.Client, key types.NamespacedName) (string, error) {
	ro, err := getRollout(ctx, c, key)
	if err != nil {
		return "", err
	}
	if ro.Status.Phase != trancheapi.PhaseFailed && ro.Status.Phase != trancheapi.PhaseAborted {
		return "", fmt.Errorf("rollout %s is %s: only a failed or aborted rollout can be retried", key.Name, phaseOf(ro))
	}
	token := newToken()
	if err := annotate(ctx, c, key, trancheapi.AnnotationRetry, &token); err != nil {
		return "", err
	}
	return fmt.Sprintf("rollout %s: retrying revision %s", key.Name, ro.Status.CanaryRevision), nil
}

// Pause holds the rollout where it is; a Rollout with no rollout under way holds the next
// one at its first step. Pausing a paused Rollout changes nothing.
func Pause(ctx context.Context, c client.Client, key types.NamespacedName) (string, error) {
	ro, err := getRollout(ctx, c, key)
	if err != nil {
		return "", err
	}
	if ro.Annotations[trancheapi.AnnotationPaused] == "true" {
		return fmt.Sprintf("rollout %s is already paused", key.Name), nil
	}
	paused := "true"
	if err := annotate(ctx, c, key, trancheapi.AnnotationPaused, &paused); err != nil {
		return "", err
	}
	if !ro.Status.Phase.UnderWay() {
		return fmt.Sprintf("rollout %s paused: the next rollout will hold at its first step", key.Name), nil
	}
	return fmt.Sprintf("rollout %s paused at step %d", key.Name, ro.Status.CurrentStep+1), nil
}

// Resume releases a paused rollout; the hold of its step starts again. Resuming a Rollout
// that is not paused changes nothing.
func Resume(ctx context.Context, c client.Client, key types.NamespacedName) (string, error) {
	ro, err := getRollout(ctx, c, key)
	if err != nil {
		return "", err
	}
	if _, ok := ro.Annotations[trancheapi.AnnotationPaused]; !ok {
		return fmt.Sprintf("rollout %s is not paused", key.Name), nil
	}
	if err := annotate(ctx, c, key, trancheapi.AnnotationPaused, nil); err != nil {
		return "", err
	}
	return fmt.Sprintf("rollout %s resumed", key.Name), nil
}

func getRollout(ctx context.Context, c client.Client, key types.NamespacedName) (*trancheapi.Rollout, error) {
	ro := &trancheapi.Rollout{}
	if err := c.Get(ctx, key, ro); err != nil {
		return nil, fmt.Errorf("reading rollout %s in namespace %s: %w", key.Name, key.Namespace, err)
	}
	return ro, nil
}

// phaseOf names the phase for messages; a Rollout the controller has not seen yet has none.
func phaseOf(ro *trancheapi.Rollout) string {
	if ro.Status.Phase == "" {
		return "not yet seen by the controller"
	}
	return string(ro.Status.Phase)
}

// annotate sets (or, with nil, removes) one annotation with a merge patch, which touches
// nothing else: no conflict with the controller's writes, nothing for a Git sync to undo.
func annotate(ctx context.Context, c client.Client, key types.NamespacedName, name string, value *string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]*string{name: value}}})
	if err != nil {
		return err
	}
	ro := &trancheapi.Rollout{}
	ro.Namespace, ro.Name = key.Namespace, key.Name
	if err := c.Patch(ctx, ro, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("annotating rollout %s: %w", key.Name, err)
	}
	return nil
}

// newToken is a request token that differs from every earlier one: the controller acts on
// each token once.
func newToken() string {
	return strconv.FormatInt(time.Now().UnixNano(), 36)
}
