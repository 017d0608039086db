//go:build e2e

package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/stack"
)

// Argo CD itself, configured as docs/argocd.md tells users (config/argocd/argocd-cm.yaml in
// its argocd-cm, the Application's ignoreDifferences as the page gives them), syncs the demo
// app's Deployment and Rollout from a Git repository. A commit with a new image is synced and
// rolled out by Tranche; Argo CD's health of the Rollout, read from the Application's resource
// tree through Argo CD's API, goes Progressing and then Healthy, and the Application stays
// Synced from its sync of the commit to past the end of the rollout, when Tranche has scaled
// the target to zero: Tranche's writes never make it OutOfSync. Then, through Argo CD's API,
// the Rollout's actions; and a commit while it is paused, which Argo CD syncs on its own
// without undoing the pause or the rollout under way.
func TestArgoCDSyncsTheRolloutAndShowsItsHealth(t *testing.T) {
	const app, host = "catalog", "catalog.e2e.test"
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	c := s.ControlPlane.Client
	argo := sharedArgoCD(t)

	a := newArgoApp(ctx, t, app, host, 4*time.Second)
	git, deployment, rollout := a.git, a.deployment, a.rollout
	rollout.Spec.ScaleDownDelay = &metav1.Duration{Duration: 2 * time.Second} // the target is scaled to zero while Argo CD watches
	files := func() map[string][]byte { return a.files(t, nil) }
	_, err := git.Commit(ctx, "shop", "the catalog", files())
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = c.Delete(context.Background(), rollout)
		_ = c.Delete(context.Background(), deployment)
	})

	application := documentedApplication(a.url, app)
	require.NoError(t, c.Create(ctx, application))
	t.Cleanup(func() { stopManaging(t, application) })

	_, err = stack.WaitForPhase(ctx, c, namespace, app, 2*time.Minute, trancheapi.PhaseInitialized)
	require.NoError(t, err, "Argo CD synced the Rollout and Tranche initialized it")
	require.NoError(t, stack.WaitServed(ctx, s.Traefik.WebURL(), host, 30*time.Second))
	load := stack.StartLoad(ctx, s.Traefik.WebURL(), host, requestsPerSecond)
	require.Eventually(t, func() bool {
		return applicationState(ctx, application).Sync == "Synced" && rolloutHealth(ctx, argo, app) == "Healthy"
	}, time.Minute, 200*time.Millisecond, "the Application Synced and the Rollout Healthy in Argo CD; the controller said:\n%s",
		argo.LogTail("argocd-application-controller"))

	// The release: a commit with v2. Argo CD's word on the Rollout, and on the Application,
	// every 100 ms until the rollout ends.
	deployment.Spec.Template.Spec.Containers[0].Image = stack.Image("v2")
	commit := push(ctx, t, git, argo, app, "catalog v2", files())
	var mu sync.Mutex
	var healths []string
	var outOfSync []string
	syncedAtCommit := false // from when the watch saw the commit synced, it counts what follows
	watching, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for watching.Err() == nil {
			sync := applicationState(watching, application)
			health := rolloutHealth(watching, argo, app)
			mu.Lock()
			if health != "" && (len(healths) == 0 || healths[len(healths)-1] != health) {
				healths = append(healths, health)
			}
			if sync.Revision == commit && sync.Sync == "Synced" {
				syncedAtCommit = true
			} else if syncedAtCommit && sync.Sync == "OutOfSync" {
				outOfSync = append(outOfSync, time.Now().Format("15:04:05.000"))
			}
			mu.Unlock()
			time.Sleep(100 * time.Millisecond)
		}
	}()
	ro := waitForEnd(t, app, "", 3*time.Minute)
	waitServing(t, app, 0)      // Tranche scaled the promoted target down: its replicas differ from Git's
	time.Sleep(3 * time.Second) // Argo CD watches the target: its word on that comes at once
	stop()
	<-done
	require.Equal(t, trancheapi.PhaseSucceeded, ro.Status.Phase, ro.Status.Message)
	mu.Lock()
	t.Logf("Argo CD's health of the Rollout through the release: %v", healths)
	assert.Contains(t, healths, "Progressing", "Argo CD saw the rollout under way")
	assert.Equal(t, "Healthy", healths[len(healths)-1], "and promoted")
	assert.True(t, syncedAtCommit, "the watch saw Argo CD sync the commit (else it watched nothing)")
	assert.Empty(t, outOfSync, "the Application went OutOfSync after Argo CD synced the commit")
	assert.Zero(t, load.Counts().Failed, "clients saw failures")
	mu.Unlock()

	// The actions, through Argo CD's API as the UI's buttons send them: pause and resume,
	// abort and retry, and promote-full, each offered only when it applies.
	deployment.Spec.Template.Spec.Containers[0].Image = stack.Image("v3")
	push(ctx, t, git, argo, app, "catalog v3", files())
	inPhase := func(phase trancheapi.Phase, health string) {
		t.Helper()
		_, err := waitFor(app, time.Minute, func(ro *trancheapi.Rollout) bool { return ro.Status.Phase == phase })
		require.NoError(t, err, "the Rollout %s", phase)
		require.Eventually(t, func() bool { return rolloutHealth(ctx, argo, app) == health }, 30*time.Second, 100*time.Millisecond,
			"Argo CD's health of the %s Rollout, %s; it says %q", phase, health, rolloutHealth(ctx, argo, app))
	}
	act := func(action string, phase trancheapi.Phase, health string) {
		t.Helper()
		require.Contains(t, enabledActions(ctx, t, argo, app), action, "Argo CD offers %s", action)
		runAction(ctx, t, argo, app, action)
		inPhase(phase, health)
	}
	inPhase(trancheapi.PhaseProgressing, "Progressing")
	act("pause", trancheapi.PhasePaused, "Suspended")

	// A commit mid-rollout, synced by Argo CD on its own (self-heal on): it applies the Rollout
	// and the target again, and undoes neither the pause request nor the rollout under way.
	paused, err := waitFor(app, time.Second, func(*trancheapi.Rollout) bool { return true })
	require.NoError(t, err)
	pausedTarget := &appsv1.Deployment{}
	require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(deployment), pausedTarget))
	for _, obj := range []client.Object{rollout, deployment} {
		obj.SetLabels(labels.Merge(obj.GetLabels(), labels.Set{"team": "shop"}))
	}
	replicas := watchReplicas(ctx, client.ObjectKeyFromObject(deployment))
	commit = push(ctx, t, git, argo, app, "catalog: the team that owns it", files())
	waitSyncedAt(ctx, t, argo, application, commit)
	time.Sleep(time.Second) // a write after the sync (a self-heal) would come meanwhile
	synced, err := waitFor(app, time.Second, func(*trancheapi.Rollout) bool { return true })
	require.NoError(t, err)
	syncedTarget := &appsv1.Deployment{}
	require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(deployment), syncedTarget))
	assert.Equal(t, "shop", synced.Labels["team"], "Argo CD applied the commit to the Rollout")
	assert.Equal(t, "shop", syncedTarget.Labels["team"], "and to the target")
	assert.Equal(t, "true", synced.Annotations[trancheapi.AnnotationPaused], "the pause request stays")
	assert.Equal(t, trancheapi.PhasePaused, synced.Status.Phase, synced.Status.Message)
	assert.Equal(t, paused.Status.CanaryRevision, synced.Status.CanaryRevision, "the same revision under way")
	assert.Equal(t, paused.Status.RolloutStartedAt, synced.Status.RolloutStartedAt, "the rollout was not restarted")
	assert.Equal(t, paused.Status.CurrentStep, synced.Status.CurrentStep, "at the same step")
	assert.Equal(t, pausedTarget.Spec.Replicas, syncedTarget.Spec.Replicas, "the target keeps the replicas Tranche gave it")
	assert.Equal(t, pausedTarget.Spec, syncedTarget.Spec, "the target's spec is as it was")
	assert.Equal(t, []int32{*pausedTarget.Spec.Replicas}, replicas(), "the target's replicas, looked at every 50 ms through the sync")

	for _, step := range []struct {
		action string
		phase  trancheapi.Phase
		health string
	}{
		{"resume", trancheapi.PhaseProgressing, "Progressing"},
		{"abort", trancheapi.PhaseAborted, "Degraded"},
		{"retry", trancheapi.PhaseProgressing, "Progressing"},
		{"promote-full", trancheapi.PhaseSucceeded, "Healthy"},
	} {
		act(step.action, step.phase, step.health)
	}
	assert.NotContains(t, enabledActions(ctx, t, argo, app), "abort", "no abort once promoted")

	// Undo, as in an incident after a promotion: v2, promoted before v3, serves all traffic
	// again. Tranche's status and event say the request came through Argo CD, and Argo CD's
	// own event on the Application records who ran the action (with its API's authentication
	// off here, "Unknown user").
	act("undo", trancheapi.PhaseAborted, "Degraded")
	requireAllAnsweredBy(t, load, "v2", "after the undo through Argo CD")
	undone, err := waitFor(app, time.Second, func(*trancheapi.Rollout) bool { return true })
	require.NoError(t, err)
	assert.Contains(t, undone.Status.Message, "on request through Argo CD", "the Rollout says who asked")
	assert.Contains(t, argoEvents(ctx, t, app), "Unknown user ran action undo on resource tranche.dev/Rollout/"+app)
	assert.Zero(t, load.Counts().Failed, "clients saw failures")
	assert.Equal(t, "Synced", applicationState(ctx, application).Sync, "the requests, annotations, leave the Application Synced")
}
