package cli_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/cli"
)

func TestPromotePassesTheManualGate(t *testing.T) {
	t.Parallel()
	key := deploy(t, step(5, 0, true), step(100, 0, false))
	_, err := cli.Promote(context.Background(), cp.Client, key, false)
	assert.ErrorContains(t, err, "is Initialized, not waiting for approval: nothing to promote")

	release(t, key, "app:2")
	waitFor(t, key, "the gate", inPhase(trancheapi.PhaseWaitingApproval))
	out, err := kubectl(t, key.Namespace, "promote", key.Name)
	require.NoError(t, err)
	assert.Regexp(t, `^rollout app is (Progressing|Promoting|Succeeded): `, out, "what the controller made of it")
	ro := waitFor(t, key, "promotion", inPhase(trancheapi.PhaseSucceeded))
	assert.Equal(t, ro.Status.CanaryRevision, ro.Status.StableRevision)
}

// TestPromotesInQuickSuccessionEachCount: a token per request, so two promotes a moment apart
// pass two manual gates.
func TestPromotesInQuickSuccessionEachCount(t *testing.T) {
	t.Parallel()
	key := deploy(t, step(5, 0, true), step(100, 0, true))
	release(t, key, "app:2")
	waitFor(t, key, "the first gate", inPhase(trancheapi.PhaseWaitingApproval))

	_, err := cli.Promote(context.Background(), cp.Client, key, false)
	require.NoError(t, err)
	first := waitFor(t, key, "the second gate", func(ro *trancheapi.Rollout) bool {
		return ro.Status.Phase == trancheapi.PhaseWaitingApproval && ro.Status.CurrentStep == 1
	})
	_, err = cli.Promote(context.Background(), cp.Client, key, false)
	require.NoError(t, err)
	second := waitFor(t, key, "promotion", inPhase(trancheapi.PhaseSucceeded))
	assert.NotEqual(t, first.Status.HandledRequests.Promote, second.Status.HandledRequests.Promote, "a token of its own for each")
}

func TestPromoteFullSkipsTheRemainingSteps(t *testing.T) {
	t.Parallel()
	key := deploy(t, step(5, time.Hour, false), step(50, time.Hour, false), step(100, time.Hour, false))
	release(t, key, "app:2")
	waitFor(t, key, "the first step", func(ro *trancheapi.Rollout) bool { return ro.Status.CanaryWeight == 5 })

	out, err := kubectl(t, key.Namespace, "promote", key.Name, "--full")
	require.NoError(t, err)
	assert.Regexp(t, `^rollout app is (Promoting|Succeeded): `, out, "what the controller made of it")
	ro := waitFor(t, key, "promotion", inPhase(trancheapi.PhaseSucceeded))
	assert.Equal(t, ro.Status.CanaryRevision, ro.Status.StableRevision)
	assert.Zero(t, ro.Status.CanaryWeight)
}

func TestAbortRollsBackAndRetryStartsAgain(t *testing.T) {
	t.Parallel()
	key := deploy(t, step(5, time.Hour, false), step(100, 0, false))
	_, err := cli.Retry(context.Background(), cp.Client, key)
	assert.ErrorContains(t, err, "only a failed or aborted rollout can be retried")
	release(t, key, "app:2")
	waitFor(t, key, "the first step", func(ro *trancheapi.Rollout) bool { return ro.Status.CanaryWeight == 5 })

	out, err := kubectl(t, key.Namespace, "abort", key.Name)
	require.NoError(t, err)
	assert.Contains(t, out, "rollout app is Aborted: Rolled back revision")
	aborted := waitFor(t, key, "the abort", inPhase(trancheapi.PhaseAborted))
	assert.Zero(t, aborted.Status.CanaryWeight)
	assert.NotEqual(t, aborted.Status.CanaryRevision, aborted.Status.StableRevision, "the stable revision stays")
	_, err = cli.Abort(context.Background(), cp.Client, key)
	assert.ErrorContains(t, err, "is Aborted: no rollout is under way to abort")

	_, err = kubectl(t, key.Namespace, "retry", key.Name)
	require.NoError(t, err)
	retried := waitFor(t, key, "the retry", func(ro *trancheapi.Rollout) bool {
		return ro.Status.Phase == trancheapi.PhaseProgressing && ro.Status.CanaryWeight == 5
	})
	assert.Equal(t, aborted.Status.CanaryRevision, retried.Status.CanaryRevision, "the same revision again")
}

func TestPauseHoldsAndResumeReleases(t *testing.T) {
	t.Parallel()
	key := deploy(t, step(5, 2*time.Second, false), step(100, 0, false))
	release(t, key, "app:2")
	waitFor(t, key, "the first step", func(ro *trancheapi.Rollout) bool { return ro.Status.CanaryWeight == 5 })

	out, err := kubectl(t, key.Namespace, "pause", key.Name)
	require.NoError(t, err)
	assert.Contains(t, out, "paused at step 1")
	waitFor(t, key, "the pause", inPhase(trancheapi.PhasePaused))
	out, err = kubectl(t, key.Namespace, "pause", key.Name)
	require.NoError(t, err)
	assert.Contains(t, out, "already paused")

	// Decided once more, the paused rollout stays at its step, and the controller means to look
	// again only at its resync, long after the step's hold: nothing moves it on but a resume.
	// (The simulation pause-and-resume in controllers holds a pause for minutes.)
	result, err := probe.Reconcile(context.Background(), ctrl.Request{NamespacedName: key})
	require.NoError(t, err)
	assert.Greater(t, result.RequeueAfter, time.Minute, "nothing is due")
	held := waitFor(t, key, "the pause", inPhase(trancheapi.PhasePaused))
	assert.EqualValues(t, 5, held.Status.CanaryWeight, "a paused rollout stays at its step")

	_, err = kubectl(t, key.Namespace, "resume", key.Name)
	require.NoError(t, err)
	waitFor(t, key, "promotion", inPhase(trancheapi.PhaseSucceeded))
	out, err = kubectl(t, key.Namespace, "resume", key.Name)
	require.NoError(t, err)
	assert.Contains(t, out, "is not paused")
}

func TestStatusExitsZeroOnPromotionAndOneOnFailure(t *testing.T) {
	t.Parallel()
	key := deploy(t, step(5, time.Second, false), step(100, 0, false))
	release(t, key, "app:2")
	out, err := kubectl(t, key.Namespace, "status", key.Name, "--timeout=1m")
	require.NoError(t, err, out)
	assert.Contains(t, out, "serves all traffic")

	release(t, key, "app:3")
	waitFor(t, key, "the new revision", func(ro *trancheapi.Rollout) bool { return ro.Status.Phase == trancheapi.PhaseProgressing })
	_, err = cli.Abort(context.Background(), cp.Client, key)
	require.NoError(t, err)
	out, err = kubectl(t, key.Namespace, "status", key.Name, "--timeout=1m")
	assert.ErrorContains(t, err, "did not succeed")
	assert.Contains(t, out, "Aborted")
}

// A Rollout that changes between the plugin's read and its write (the controller writes its
// status all the time) is read again: pause and resume neither fail nor write over a change.
func TestPauseAndResumeWriteOverAChangedRolloutAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	key := deploy(t, step(5, time.Minute, false), step(100, 0, false))
	changes := 0
	racing := interceptor.NewClient(cp.Client, interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			if changes < 2 { // someone else writes first, twice
				changes++
				other := &trancheapi.Rollout{}
				require.NoError(t, c.Get(ctx, key, other))
				before := other.DeepCopy()
				metav1.SetMetaDataLabel(&other.ObjectMeta, "test.tranche.dev/change", strconv.Itoa(changes))
				require.NoError(t, c.Patch(ctx, other, client.MergeFrom(before)))
			}
			return c.Patch(ctx, obj, patch, opts...)
		},
	})

	out, err := cli.Pause(ctx, racing, key)
	require.NoError(t, err)
	assert.Contains(t, out, "paused")
	ro := &trancheapi.Rollout{}
	require.NoError(t, cp.Client.Get(ctx, key, ro))
	assert.Equal(t, "true", ro.Annotations[trancheapi.AnnotationPaused])
	assert.Equal(t, "2", ro.Labels["test.tranche.dev/change"], "the other writes stay")

	changes = 0
	out, err = cli.Resume(ctx, racing, key)
	require.NoError(t, err)
	assert.Contains(t, out, "resumed")
	require.NoError(t, cp.Client.Get(ctx, key, ro))
	assert.NotContains(t, ro.Annotations, trancheapi.AnnotationPaused)
}

// kubectl tranche undo after a promotion puts the earlier revision back on the primary and
// says who asked; during a rollout it says to abort instead.
func TestUndoPutsTheEarlierRevisionBack(t *testing.T) {
	t.Parallel()
	key := deploy(t, step(5, time.Second, false), step(100, 0, false))
	first := waitFor(t, key, "initialization", inPhase(trancheapi.PhaseInitialized)).Status.StableRevision
	release(t, key, "app:2")
	waitFor(t, key, "the first step", func(ro *trancheapi.Rollout) bool { return ro.Status.CanaryWeight == 5 })
	_, err := kubectl(t, key.Namespace, "undo", key.Name)
	assert.ErrorContains(t, err, "a rollout is under way; abort it (kubectl tranche abort)")
	promoted := waitFor(t, key, "the promotion", inPhase(trancheapi.PhaseSucceeded))

	out, err := kubectl(t, key.Namespace, "undo", key.Name)
	require.NoError(t, err)
	assert.Regexp(t, `^rollout app is Aborted: Undone revision `+promoted.Status.StableRevision+` on request by \S+: revision `+first+` serves all traffic again`, out)
	ro := waitFor(t, key, "the undo", inPhase(trancheapi.PhaseAborted))
	assert.Equal(t, first, ro.Status.StableRevision)
}
