package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// Requests never touch spec, which Git owns: they are annotations the controller reads (see
// api/v1alpha1/requests.go). Each function checks first that the request makes sense for
// the Rollout as it is, and says why not when it does not.

// Promote asks the controller to pass the manual gate the rollout waits at; with full, to
// skip the remaining steps and analysis and promote at once. It returns what the controller
// made of it.
func Promote(ctx context.Context, c client.Client, key types.NamespacedName, full bool) (string, error) {
	token := newToken()
	if full {
		token = trancheapi.PromoteFullPrefix + token
	}
	return request(ctx, c, key, trancheapi.AnnotationPromote, token, func(ro *trancheapi.Rollout, target string) error {
		phase := ro.Status.Phase
		switch {
		case full && !phase.UnderWay():
			return fmt.Errorf("rollout %s is %s: no rollout is under way to promote", key.Name, phaseOf(ro))
		case full && target != ro.Status.CanaryRevision:
			return fmt.Errorf("rollout %s: the target runs revision %s now, not %s under test: the new revision is rolled out from the first step", key.Name, target, ro.Status.CanaryRevision)
		case !full && phase != trancheapi.PhaseWaitingApproval:
			return fmt.Errorf("rollout %s is %s, not waiting for approval: nothing to promote (--full skips the remaining steps)", key.Name, phaseOf(ro))
		}
		return nil
	}, func(h trancheapi.HandledRequests) string { return h.Promote })
}

// Abort asks the controller to roll the canary back. The rollout is not tried again until
// the target changes or Retry is asked for.
func Abort(ctx context.Context, c client.Client, key types.NamespacedName) (string, error) {
	return request(ctx, c, key, trancheapi.AnnotationAbort, newToken(), func(ro *trancheapi.Rollout, _ string) error {
		// While Promoting, the controller aborts only until the primary has the new template.
		if !ro.Status.Phase.UnderWay() && ro.Status.Phase != trancheapi.PhasePromoting {
			return fmt.Errorf("rollout %s is %s: no rollout is under way to abort", key.Name, phaseOf(ro))
		}
		return nil
	}, func(h trancheapi.HandledRequests) string { return h.Abort })
}

// Retry asks the controller to roll out again the revision that failed or was aborted.
func Retry(ctx context.Context, c client.Client, key types.NamespacedName) (string, error) {
	return request(ctx, c, key, trancheapi.AnnotationRetry, newToken(), func(ro *trancheapi.Rollout, target string) error {
		switch {
		case ro.Status.Phase != trancheapi.PhaseFailed && ro.Status.Phase != trancheapi.PhaseAborted:
			return fmt.Errorf("rollout %s is %s: only a failed or aborted rollout can be retried", key.Name, phaseOf(ro))
		case target != ro.Status.CanaryRevision:
			return fmt.Errorf("rollout %s: the target runs revision %s now, not the failed %s: there is nothing to retry", key.Name, target, ro.Status.CanaryRevision)
		}
		return nil
	}, func(h trancheapi.HandledRequests) string { return h.Retry })
}

// Undo asks the controller to put back on the primary, at once, the revision it ran before
// its current one: for an incident after a promotion. The token names who asks, as the API
// server knows them, for the event and the notification.
func Undo(ctx context.Context, c client.Client, key types.NamespacedName) (string, error) {
	token := newToken()
	if who := whoAmI(ctx, c); who != "" {
		token += " by " + who
	}
	return request(ctx, c, key, trancheapi.AnnotationUndo, token, func(ro *trancheapi.Rollout, _ string) error {
		if ro.Status.Phase.UnderWay() || ro.Status.Phase == trancheapi.PhasePromoting {
			return fmt.Errorf("rollout %s is %s: a rollout is under way; abort it (kubectl tranche abort) to send all traffic back to the primary", key.Name, phaseOf(ro))
		}
		return nil
	}, func(h trancheapi.HandledRequests) string { return h.Undo })
}

// whoAmI is the user the API server takes this client for, "" when it does not say.
func whoAmI(ctx context.Context, c client.Client) string {
	user, _ := whoIs(ctx, c)
	return user
}

// whoIs asks the API server whom the credentials of c belong to (a SelfSubjectReview): a
// refusal when it does not accept them, another error when it could not be asked. Its words
// are for a person signing in to the dashboard with a token.
func whoIs(ctx context.Context, c client.Client) (string, error) {
	review := &authenticationv1.SelfSubjectReview{}
	switch err := c.Create(ctx, review); {
	case apierrors.IsUnauthorized(err):
		return "", refusal{"The API server does not accept this token."}
	case err != nil:
		return "", fmt.Errorf("could not ask the API server whom the token belongs to: %w", err)
	case review.Status.UserInfo.Username == "":
		return "", refusal{"The API server does not say whom this token belongs to."}
	}
	return review.Status.UserInfo.Username, nil
}

// answerWait is how long a request waits for the controller to act on it.
const answerWait = 10 * time.Second

// request writes a request's token once check finds it makes sense for the Rollout as it is,
// then waits a moment for the controller to handle it and says what the controller made of
// it. The annotation is written against the Rollout's resourceVersion, so that a Rollout
// that changed since it was checked is checked again.
func request(ctx context.Context, c client.Client, key types.NamespacedName, annotation, token string,
	check func(ro *trancheapi.Rollout, targetRevision string) error, handled func(trancheapi.HandledRequests) string) (string, error) {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		ro, err := getRollout(ctx, c, key)
		if err != nil {
			return err
		}
		target, err := targetRevision(ctx, c, ro)
		if err != nil {
			return err
		}
		if err := check(ro, target); err != nil {
			return err
		}
		return annotate(ctx, c, ro, annotation, &token)
	})
	if err != nil {
		return "", err
	}
	wait, cancel := context.WithTimeout(ctx, answerWait)
	defer cancel()
	for {
		ro, err := getRollout(wait, c, key)
		if err == nil && handled(ro.Status.HandledRequests) == token {
			return fmt.Sprintf("rollout %s is %s: %s", key.Name, phaseOf(ro), ro.Status.Message), nil
		}
		select {
		case <-wait.Done():
			return fmt.Sprintf("rollout %s: requested; the controller has not acted on it yet (kubectl tranche get %s shows when it does)", key.Name, key.Name), nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Pause holds the rollout where it is; a Rollout with no rollout under way holds the next
// one at its first step. Pausing a paused Rollout changes nothing. The step it names is the
// one of the Rollout the annotation was written over: a Rollout that changed meanwhile (the
// controller writes its status all the time) is read again.
func Pause(ctx context.Context, c client.Client, key types.NamespacedName) (string, error) {
	var said string
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		ro, err := getRollout(ctx, c, key)
		if err != nil {
			return err
		}
		if ro.Annotations[trancheapi.AnnotationPaused] == "true" {
			said = fmt.Sprintf("rollout %s is already paused", key.Name)
			return nil
		}
		paused := "true"
		if err := annotate(ctx, c, ro, trancheapi.AnnotationPaused, &paused); err != nil {
			return err
		}
		said = fmt.Sprintf("rollout %s paused at step %d", key.Name, ro.Status.CurrentStep+1)
		if !ro.Status.Phase.UnderWay() {
			said = fmt.Sprintf("rollout %s paused: the next rollout will hold at its first step", key.Name)
		}
		return nil
	})
	return said, err
}

// Resume releases a paused rollout; the hold of its step starts again. Resuming a Rollout
// that is not paused changes nothing.
func Resume(ctx context.Context, c client.Client, key types.NamespacedName) (string, error) {
	var said string
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		ro, err := getRollout(ctx, c, key)
		if err != nil {
			return err
		}
		if _, ok := ro.Annotations[trancheapi.AnnotationPaused]; !ok {
			said = fmt.Sprintf("rollout %s is not paused", key.Name)
			return nil
		}
		if err := annotate(ctx, c, ro, trancheapi.AnnotationPaused, nil); err != nil {
			return err
		}
		said = fmt.Sprintf("rollout %s resumed", key.Name)
		return nil
	})
	return said, err
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
// nothing else: no spec for a Git sync to undo. The patch carries the resourceVersion ro was
// read at: it fails with a conflict when the Rollout changed since.
func annotate(ctx context.Context, c client.Client, ro *trancheapi.Rollout, name string, value *string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"resourceVersion": ro.ResourceVersion,
		"annotations":     map[string]*string{name: value},
	}})
	if err != nil {
		return err
	}
	target := &trancheapi.Rollout{}
	target.Namespace, target.Name = ro.Namespace, ro.Name
	if err := c.Patch(ctx, target, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("annotating rollout %s: %w", ro.Name, err)
	}
	return nil
}

// newToken is a request token that differs from every earlier one: the controller acts on
// each token once.
func newToken() string {
	return strconv.FormatInt(time.Now().UnixNano(), 36)
}
