package argocd

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/argoproj/argo-cd/gitops-engine/v3/pkg/health"
	"github.com/argoproj/argo-cd/gitops-engine/v3/pkg/sync/common"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/harness"
)

// TestArgoCDWavesWaitForTheRollout syncs an Application with a PreSync hook (a migration Job,
// which the real job controller runs on kwok) and a ConfigMap in a later sync wave, as teams
// order "migrate, deploy, then announce". Argo CD waits for a wave's resources to be healthy
// before the next: the later wave must not be applied while the Rollout is under way, and the
// sync must end, not hang, when the rollout succeeds and when it is rolled back.
func TestArgoCDWavesWaitForTheRollout(t *testing.T) {
	argo := newArgoCD(t, "store")
	ctx, ns := context.Background(), argo.ns
	d, ro := app("podinfo:1.0")
	ro.Spec.Steps = ro.Spec.Steps[:2] // 5% and 50%, held a second each: no approval to wait for
	argo.commit("deployment", d)
	argo.commit("rollout", ro)
	argo.commit("migrate", migrationJob())
	argo.commit("announce", announcement("podinfo:1.0"))

	argo.sync()
	firstRun := waitForJob(t, ns, "migrate")
	waitFor(t, ns, "podinfo", 30*time.Second, phaseIs(trancheapi.PhaseInitialized))
	assert.Equal(t, "podinfo:1.0", announced(t, ns))

	// A release: the hook runs again, the rollout goes through, and only then is the later
	// wave applied.
	d.Spec.Template.Spec.Containers[0].Image = "podinfo:1.1"
	argo.commit("deployment", d)
	argo.commit("announce", announcement("podinfo:1.1"))
	early := watchForEarlyWave(ctx, t, ns, "podinfo:1.1")
	results, err := argo.operate()
	require.NoError(t, err)
	assert.Equal(t, trancheapi.PhaseSucceeded, waitFor(t, ns, "podinfo", time.Second, phaseIs(trancheapi.PhaseSucceeded, trancheapi.PhaseFailed)).Status.Phase,
		"the sync ended with the rollout")
	assert.Equal(t, "podinfo:1.1", announced(t, ns))
	assert.False(t, early.Load(), "the later wave was applied while the rollout was under way")
	assertNoFailure(t, results)
	secondRun := waitForJob(t, ns, "migrate")
	assert.NotEqual(t, firstRun.UID, secondRun.UID, "the PreSync hook ran again for the release")

	// A bad release: the Rollout turns Degraded, the sync ends as failed, and the later wave
	// is never applied.
	d.Spec.Template.Spec.Containers[0].Image = badImage
	harness.SetPodBehaviour(&d.Spec.Template, harness.PodCrash)
	argo.commit("deployment", d)
	argo.commit("announce", announcement(badImage))
	started := time.Now()
	results, err = argo.operate()
	t.Logf("the sync of the bad release ended after %s", time.Since(started).Round(100*time.Millisecond))
	require.NoError(t, err)
	assert.Equal(t, health.HealthStatusDegraded, argo.health("podinfo").Status)
	assert.True(t, failed(results, "Rollout"), "the sync reports the Rollout's failure: %+v", results)
	assert.Equal(t, "podinfo:1.1", announced(t, ns), "the later wave is not applied after a failed rollout")
}

// TestArgoCDWavesWaitAtAManualGate: a Rollout waiting for approval is Suspended, which holds
// a sync with a later wave until someone promotes, as with any suspended resource.
func TestArgoCDWavesWaitAtAManualGate(t *testing.T) {
	argo := newArgoCD(t, "gated")
	ns := argo.ns
	d, ro := app("podinfo:1.0") // 5%, 50%, then 100% once a person approves
	argo.commit("deployment", d)
	argo.commit("rollout", ro)
	argo.commit("announce", announcement("podinfo:1.0"))
	argo.sync()
	waitFor(t, ns, "podinfo", 30*time.Second, phaseIs(trancheapi.PhaseInitialized))

	d.Spec.Template.Spec.Containers[0].Image = "podinfo:1.1"
	argo.commit("deployment", d)
	argo.commit("announce", announcement("podinfo:1.1"))
	type outcome struct {
		results []common.ResourceSyncResult
		err     error
	}
	ended := make(chan outcome, 1)
	go func() {
		results, err := argo.operate()
		ended <- outcome{results, err}
	}()
	waitFor(t, ns, "podinfo", 30*time.Second, phaseIs(trancheapi.PhaseWaitingApproval))
	argo.waitForHealth("podinfo", health.HealthStatusSuspended)
	select {
	case o := <-ended:
		t.Fatalf("the sync ended while the Rollout waited for approval: %v %+v", o.err, o.results)
	case <-time.After(3 * time.Second): // six passes of the operation
	}
	assert.Equal(t, "podinfo:1.0", announced(t, ns), "the later wave waits at the gate")

	argo.press("podinfo", "promote")
	select {
	case o := <-ended:
		require.NoError(t, o.err)
		assertNoFailure(t, o.results)
	case <-time.After(time.Minute):
		t.Fatal("the sync did not end after the promotion")
	}
	assert.Equal(t, trancheapi.PhaseSucceeded, waitFor(t, ns, "podinfo", time.Second, phaseIs(trancheapi.PhaseSucceeded)).Status.Phase)
	assert.Equal(t, "podinfo:1.1", announced(t, ns))
}

func assertNoFailure(t *testing.T, results []common.ResourceSyncResult) {
	t.Helper()
	for _, r := range results {
		assert.NotEqual(t, common.ResultCodeSyncFailed, r.Status, "%s: %s", r.ResourceKey, r.Message)
		assert.NotEqual(t, common.OperationFailed, r.HookPhase, "%s: %s", r.ResourceKey, r.Message)
	}
}

func failed(results []common.ResourceSyncResult, kind string) bool {
	for _, r := range results {
		if r.ResourceKey.Kind == kind && (r.HookPhase == common.OperationFailed || r.Status == common.ResultCodeSyncFailed) {
			return true
		}
	}
	return false
}

// migrationJob is the PreSync hook: a Job run before each sync that changes something, deleted
// before it is created again (Argo CD's default policy).
func migrationJob() *batchv1.Job {
	return &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: "migrate", Annotations: map[string]string{
			"argocd.argoproj.io/hook": "PreSync", "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation",
		}},
		Spec: batchv1.JobSpec{BackoffLimit: ptr.To[int32](0), Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "migrate", Image: "migrate:1"}},
		}}},
	}
}

// announcement is the later wave: a ConfigMap naming the release, applied after the Rollout
// is healthy.
func announcement(image string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "announce", Annotations: map[string]string{
			"argocd.argoproj.io/sync-wave": "1",
		}},
		Data: map[string]string{"released": image},
	}
}

func announced(t *testing.T, ns string) string {
	t.Helper()
	cm := &corev1.ConfigMap{}
	require.NoError(t, cp.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "announce"}, cm))
	return cm.Data["released"]
}

// watchForEarlyWave looks, until the test ends, for the announcement of image while the
// Rollout is not yet Succeeded: the ConfigMap is read first and the Rollout after, so a
// Rollout not yet Succeeded then was not Succeeded when the ConfigMap changed either.
func watchForEarlyWave(ctx context.Context, t *testing.T, ns, image string) *atomic.Bool {
	early := &atomic.Bool{}
	ctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	go func() {
		for ctx.Err() == nil {
			cm, ro := &corev1.ConfigMap{}, &trancheapi.Rollout{}
			if cp.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "announce"}, cm) == nil && cm.Data["released"] == image {
				if cp.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "podinfo"}, ro) == nil && ro.Status.Phase != trancheapi.PhaseSucceeded {
					early.Store(true)
				}
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return early
}

// waitForJob waits until the Job has succeeded, as the job controller says.
func waitForJob(t *testing.T, ns, name string) *batchv1.Job {
	t.Helper()
	job := &batchv1.Job{}
	require.Eventually(t, func() bool {
		return cp.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, job) == nil && job.Status.Succeeded == 1
	}, 30*time.Second, 50*time.Millisecond, "job %s: %+v", name, job.Status)
	return job
}
