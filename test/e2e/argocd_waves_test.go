//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/stack"
)

// An app whose Git folder has, beside its Deployment and Rollout, a PreSync hook Job (a
// migration, run before each sync) and a ConfigMap in a later sync wave (what may change
// only once the new version is out). Argo CD runs the hook, on the real job controller and
// kwok, before the new version reaches the target; it holds the later wave while the Rollout
// is Progressing and while it is Suspended at a step that waits for a person, whom the promote
// action, through Argo CD's API, lets on; the wave is applied once the Rollout is Healthy.
func TestArgoCDRunsTheHookFirstAndHoldsTheLaterWaveBehindTheRollout(t *testing.T) {
	const app, host = "basket", "basket.e2e.test"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	c := s.ControlPlane.Client
	argo := sharedArgoCD(t)

	a := newArgoApp(ctx, t, app, host, 3*time.Second)
	git, deployment, rollout := a.git, a.deployment, a.rollout
	rollout.Spec.Steps[1].Approval = trancheapi.ApprovalManual // 50% waits for a person
	files := func(version string, args ...string) map[string][]byte {
		deployment.Spec.Template.Spec.Containers[0].Image = stack.Image(version)
		deployment.Spec.Template.Spec.Containers[0].Args = args
		return a.files(t, map[string]any{"migrate.yaml": migrationHook(app, version), "released.yaml": releasedInLaterWave(app, version)})
	}
	commit, err := git.Commit(ctx, "shop", "the basket", files("v1"))
	require.NoError(t, err)
	t.Cleanup(func() {
		for _, obj := range []client.Object{rollout, deployment, migrationHook(app, ""), releasedInLaterWave(app, "")} {
			_ = c.Delete(context.Background(), obj, client.PropagationPolicy(metav1.DeletePropagationBackground))
		}
	})
	application := documentedApplication(a.url, app)
	// Argo CD retries a failed automated sync, by default 5 times over minutes: once, soon, here.
	require.NoError(t, unstructured.SetNestedMap(application.Object, map[string]any{"limit": int64(1), "backoff": map[string]any{"duration": "1s"}},
		"spec", "syncPolicy", "retry"))
	require.NoError(t, c.Create(ctx, application))
	t.Cleanup(func() { stopManaging(t, application) })

	waitSyncedAt(ctx, t, argo, application, commit)
	initialized, err := waitFor(app, time.Minute, func(ro *trancheapi.Rollout) bool { return ro.Status.Phase == trancheapi.PhaseInitialized })
	require.NoError(t, err)
	require.NoError(t, stack.WaitServed(ctx, s.Traefik.WebURL(), host, 30*time.Second))
	load := stack.StartLoad(ctx, s.Traefik.WebURL(), host, requestsPerSecond)

	// The release, and what Argo CD and Tranche do, looked at every 100 ms.
	commit = push(ctx, t, git, argo, app, "basket v2", files("v2"))
	watch := &waveWatch{stable: initialized.Status.StableRevision}
	watching, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for watching.Err() == nil {
			watch.look(watching, app)
			time.Sleep(100 * time.Millisecond)
		}
	}()

	_, err = waitFor(app, 2*time.Minute, func(ro *trancheapi.Rollout) bool { return ro.Status.Phase == trancheapi.PhaseWaitingApproval })
	require.NoError(t, err, "the Rollout waits for approval at 50%%")
	require.Eventually(t, func() bool { return rolloutHealth(ctx, argo, app) == "Suspended" }, 30*time.Second, 100*time.Millisecond,
		"Argo CD's health of a Rollout waiting for approval")
	time.Sleep(4 * time.Second) // Argo CD looks at the wave's health again meanwhile (it waits 2 s between waves)
	require.Contains(t, enabledActions(ctx, t, argo, app), "promote", "Argo CD offers promote at the approval gate")
	runAction(ctx, t, argo, app, "promote")
	ro := waitForEnd(t, app, initialized.Status.CanaryRevision, 2*time.Minute)
	require.Equal(t, trancheapi.PhaseSucceeded, ro.Status.Phase, ro.Status.Message)
	waitSyncedAt(ctx, t, argo, application, commit)
	stop()
	<-done
	// Argo CD ends the sync right after it applies the later wave, sooner than the watch's
	// next look: one more, now that the sync is over.
	watch.look(ctx, app)

	watch.mu.Lock()
	defer watch.mu.Unlock()
	assert.False(t, watch.hookDone.IsZero(), "the PreSync hook of v2 ran to completion")
	assert.False(t, watch.released.IsZero(), "the later wave was applied")
	assert.Empty(t, watch.violations, "what came out of order")
	t.Logf("the hook completed %s, the rollout began %s, the later wave came %s",
		watch.hookDone.Format("15:04:05.000"), watch.began.Format("15:04:05.000"), watch.released.Format("15:04:05.000"))
	assert.Zero(t, load.Counts().Failed, "clients saw failures")

	// A bad release: Tranche rolls it back, the Rollout is Degraded, and Argo CD's sync ends
	// Failed rather than waiting for ever, without the later wave.
	commit = push(ctx, t, git, argo, app, "basket v3", files("v3", "--error-rate=0.3"))
	failed, err := waitFor(app, 2*time.Minute, func(ro *trancheapi.Rollout) bool { return ro.Status.Phase == trancheapi.PhaseFailed })
	require.NoError(t, err, "Tranche rolls v3 back")
	t.Log(failed.Status.Message)
	waitSyncEnded(ctx, t, argo, application, commit, "Failed")
	released := &corev1.ConfigMap{}
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: app + "-released"}, released))
	assert.Equal(t, "v2", released.Data["version"], "the later wave was not applied")
	assert.Equal(t, "Degraded", rolloutHealth(ctx, argo, app))
}

// waveWatch is what the test saw of one release: when the hook of the new version completed,
// when Tranche began the rollout, when the later wave came, and anything out of that order.
type waveWatch struct {
	stable string // the revision before the release

	mu                        sync.Mutex
	hookDone, began, released time.Time
	violations                []string
}

// look reads the later wave's ConfigMap, then the Rollout, then the hook's Job, in that
// order, so that what it finds out of order was: a ConfigMap of v2 while the Rollout, read
// after it, is still under way, or a rollout begun while the hook, read after it, has not
// completed.
func (w *waveWatch) look(ctx context.Context, app string) {
	c := s.ControlPlane.Client
	cm, ro, job := &corev1.ConfigMap{}, &trancheapi.Rollout{}, &batchv1.Job{}
	cmErr := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: app + "-released"}, cm)
	if c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: app}, ro) != nil {
		return
	}
	jobErr := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: app + "-migrate"}, job)
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	begun := ro.Status.CanaryRevision != "" && ro.Status.CanaryRevision != w.stable
	promoted := begun && ro.Status.Phase == trancheapi.PhaseSucceeded && ro.Status.StableRevision == ro.Status.CanaryRevision
	if begun && w.began.IsZero() {
		w.began = now
	}
	if w.hookDone.IsZero() {
		if jobErr == nil && job.Labels["version"] == "v2" && jobComplete(job) {
			w.hookDone = now
		} else if begun {
			w.violations = append(w.violations, fmt.Sprintf("%s: the rollout began (%s) before the hook of v2 completed",
				now.Format("15:04:05.000"), ro.Status.Phase))
		}
	}
	if cmErr == nil && cm.Data["version"] == "v2" {
		if w.released.IsZero() {
			w.released = now
		}
		if !promoted {
			w.violations = append(w.violations, fmt.Sprintf("%s: the later wave came while the Rollout was %s: %s",
				now.Format("15:04:05.000"), ro.Status.Phase, ro.Status.Message))
		}
	}
}

func jobComplete(job *batchv1.Job) bool {
	for _, cond := range job.Status.Conditions {
		if cond.Type == batchv1.JobComplete && cond.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// migrationHook is a Job Argo CD runs before each sync of the app (a PreSync hook), replaced
// at the next: a pod that kwok completes.
func migrationHook(app, version string) *batchv1.Job {
	return &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: app + "-migrate", Labels: map[string]string{"version": version},
			Annotations: map[string]string{"argocd.argoproj.io/hook": "PreSync", "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation"}},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr.To[int32](0),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "migrate", Image: "migrate:" + version}},
			}},
		},
	}
}

// releasedInLaterWave is a ConfigMap in sync wave 1, after the Deployment and the Rollout
// (wave 0): Argo CD applies it once they are Healthy.
func releasedInLaterWave(app, version string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: app + "-released",
			Annotations: map[string]string{"argocd.argoproj.io/sync-wave": "1"}},
		Data: map[string]string{"version": version},
	}
}
