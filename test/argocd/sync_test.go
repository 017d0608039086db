// Package argocd plays Argo CD against a real API server: gitops-engine, the library Argo CD
// runs, syncs a folder of manifests (the Git repository) with the Deployment and its Rollout,
// the Rollout's health comes from Tranche's health.lua through gitops-engine's health
// override, and actions run the Lua scripts Argo CD would run.
package argocd

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/argoproj/argo-cd/gitops-engine/v3/pkg/cache"
	"github.com/argoproj/argo-cd/gitops-engine/v3/pkg/diff"
	"github.com/argoproj/argo-cd/gitops-engine/v3/pkg/engine"
	"github.com/argoproj/argo-cd/gitops-engine/v3/pkg/health"
	gitopssync "github.com/argoproj/argo-cd/gitops-engine/v3/pkg/sync"
	"github.com/argoproj/argo-cd/gitops-engine/v3/pkg/sync/common"
	"github.com/argoproj/argo-cd/gitops-engine/v3/pkg/utils/kube"
	"github.com/argoproj/argo-cd/gitops-engine/v3/pkg/utils/tracing"
	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2/textlogger"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	crcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/config/argocd"
	"github.com/tranche-dev/tranche/controllers"
	"github.com/tranche-dev/tranche/notify"
	"github.com/tranche-dev/tranche/providers/registry"
	"github.com/tranche-dev/tranche/test/harness"
)

var cp *harness.ControlPlane

// badImage is the image of a release whose pods crash-loop (harness.PodCrash).
const badImage = "podinfo:crashloop"

func TestMain(m *testing.M) {
	crds, err := harness.GatewayAPICRDs()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(harness.Main(m, &cp, harness.Options{CRDDirectories: []string{crds}, Workloads: &harness.WorkloadOptions{}, AcceptRoutes: true}, startController))
}

func startController(ctx context.Context, cp *harness.ControlPlane) error {
	mgr, err := ctrl.NewManager(cp.Config, ctrl.Options{
		Scheme: cp.Scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		Cache: crcache.Options{ByObject: controllers.CacheObjects(labels.Everything())},
	})
	if err != nil {
		return err
	}
	r := &controllers.RolloutReconciler{
		Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("tranche"), Providers: registry.Default(),
		Now: time.Now, Concurrency: 4, Notifier: &notify.Dispatcher{},
	}
	if err := r.SetupWithManager(ctx, mgr); err != nil {
		return err
	}
	go func() {
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}()
	return nil
}

// trackingAnnotation is how Argo CD marks the objects an Application owns (annotation
// tracking, its default): <app>:<group>/<kind>:<namespace>/<name>.
const trackingAnnotation = "argocd.argoproj.io/tracking-id"

// argoCD syncs one Application, app, from a folder of manifests into a namespace.
type argoCD struct {
	t      *testing.T
	app    string
	ns     string
	repo   string
	engine engine.GitOpsEngine
	cache  cache.ClusterCache
}

func newArgoCD(t *testing.T, app string) *argoCD {
	ns := cp.Namespace(t)
	clusterCache := cache.NewClusterCache(cp.Config,
		cache.SetNamespaces([]string{ns}),
		cache.SetPopulateResourceInfoHandler(func(un *unstructured.Unstructured, _ bool) (any, bool) {
			return un.GetAnnotations()[trackingAnnotation], false
		}),
	)
	a := &argoCD{t: t, app: app, ns: ns, repo: t.TempDir(), engine: engine.NewEngine(cp.Config, clusterCache), cache: clusterCache}
	stop, err := a.engine.Run()
	require.NoError(t, err)
	t.Cleanup(stop)
	return a
}

// commit writes an object into the repository as a person's commit would: no status.
func (a *argoCD) commit(name string, obj runtime.Object) {
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	require.NoError(a.t, err)
	delete(content, "status")
	unstructured.RemoveNestedField(content, "metadata", "creationTimestamp")
	data, err := yaml.Marshal(content)
	require.NoError(a.t, err)
	require.NoError(a.t, os.WriteFile(filepath.Join(a.repo, name+".yaml"), data, 0o644))
}

// manifests reads the repository as Argo CD renders it: every object in the Application's
// namespace, with its tracking annotation.
func (a *argoCD) manifests() []*unstructured.Unstructured {
	files, err := filepath.Glob(filepath.Join(a.repo, "*.yaml"))
	require.NoError(a.t, err)
	var out []*unstructured.Unstructured
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(a.t, err)
		objs, err := kube.SplitYAML(data)
		require.NoError(a.t, err)
		for _, obj := range objs {
			obj.SetNamespace(a.ns)
			annotations := obj.GetAnnotations()
			if annotations == nil {
				annotations = map[string]string{}
			}
			gvk := obj.GroupVersionKind()
			annotations[trackingAnnotation] = fmt.Sprintf("%s:%s/%s:%s/%s", a.app, gvk.Group, gvk.Kind, a.ns, obj.GetName())
			obj.SetAnnotations(annotations)
			out = append(out, obj)
		}
	}
	return out
}

func (a *argoCD) isManaged(r *cache.Resource) bool {
	id, _ := r.Info.(string)
	return strings.HasPrefix(id, a.app+":")
}

// sync applies the repository with pruning, respecting the ignoreDifferences that
// docs/argocd.md asks for (RespectIgnoreDifferences): a Deployment's spec.replicas stays as
// it is live, since Tranche scales the target.
func (a *argoCD) sync() {
	a.t.Helper()
	results, err := a.operate()
	require.NoError(a.t, err)
	for _, r := range results {
		require.NotEqual(a.t, common.ResultCodeSyncFailed, r.Status, "%s: %s", r.ResourceKey, r.Message)
	}
}

// operate runs one sync operation to its end as Argo CD's application controller does: each
// pass compares the repository with the live objects afresh (hooks included) and carries the
// operation's state on, so that hooks are seen to complete and a sync wave waits on the health
// of the one before. (gitops-engine's engine.Sync keeps the live objects it started with,
// which never shows a hook or a resource changing.)
func (a *argoCD) operate() ([]common.ResourceSyncResult, error) {
	a.t.Helper()
	target := a.manifests()
	for _, obj := range target {
		a.respectIgnoredDifferences(obj)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kubectl := &kube.KubectlCmd{Log: textlogger.NewLogger(textlogger.NewConfig()), Tracer: tracing.NopTracer{}}
	var phase common.OperationPhase
	var message string
	var results []common.ResourceSyncResult
	started := metav1.Now()
	skipHooks := false
	for pass := 0; ; pass++ {
		live, err := a.cache.GetManagedLiveObjs(target, a.isManaged)
		if err != nil {
			return nil, err
		}
		reconciled := gitopssync.Reconcile(target, live, a.ns, a.cache)
		if pass == 0 {
			// As Argo CD: hooks run only for a sync that changes something.
			d, err := diff.DiffArray(ctx, reconciled.Target, reconciled.Live)
			if err != nil {
				return nil, err
			}
			skipHooks = !d.Modified
		}
		syncCtx, cleanup, err := gitopssync.NewSyncContext("HEAD", reconciled, cp.Config, cp.Config, kubectl, a.ns,
			gitopssync.WithPrune(true), gitopssync.WithHealthOverride(argocd.HealthOverride{}), gitopssync.WithSkipHooks(skipHooks),
			gitopssync.WithInitialState(phase, message, results, started))
		if err != nil {
			return nil, err
		}
		syncCtx.Sync(ctx)
		phase, message, results = syncCtx.GetState()
		cleanup()
		if phase.Completed() {
			if phase == common.OperationError {
				return results, fmt.Errorf("sync operation failed: %s", message)
			}
			return results, nil
		}
		select {
		case <-ctx.Done():
			return results, fmt.Errorf("sync operation still %s: %s: %w", phase, message, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (a *argoCD) respectIgnoredDifferences(obj *unstructured.Unstructured) {
	if obj.GetKind() != "Deployment" {
		return
	}
	live := &appsv1.Deployment{}
	if err := cp.Client.Get(context.Background(), client.ObjectKey{Namespace: a.ns, Name: obj.GetName()}, live); err != nil {
		return // not created yet: Git's value
	}
	require.NoError(a.t, unstructured.SetNestedField(obj.Object, int64(ptr.Deref(live.Spec.Replicas, 1)), "spec", "replicas"))
}

// ignoreReplicas is the ignoreDifferences of docs/argocd.md as gitops-engine's diff sees it.
type ignoreReplicas struct{}

func (ignoreReplicas) Normalize(un *unstructured.Unstructured) error {
	if un.GetKind() == "Deployment" {
		unstructured.RemoveNestedField(un.Object, "spec", "replicas")
	}
	return nil
}

// requireInSync fails unless every object of the repository is as Argo CD would want it,
// apart from the ignored differences.
func (a *argoCD) requireInSync() {
	a.t.Helper()
	for _, want := range a.manifests() {
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(want.GroupVersionKind())
		require.NoError(a.t, cp.Client.Get(context.Background(), client.ObjectKeyFromObject(want), live))
		result, err := diff.Diff(context.Background(), want, live, diff.WithNormalizer(ignoreReplicas{}))
		require.NoError(a.t, err)
		assert.False(a.t, result.Modified, "%s %s is out of sync:\nwant %s\nlive %s", want.GetKind(), want.GetName(), result.PredictedLive, result.NormalizedLive)
	}
}

// health is the Rollout's health as Argo CD shows it.
func (a *argoCD) health(name string) health.HealthStatus {
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(trancheapi.GroupVersion.WithKind("Rollout"))
	require.NoError(a.t, cp.Client.Get(context.Background(), client.ObjectKey{Namespace: a.ns, Name: name}, live))
	h, err := health.GetResourceHealth(live, argocd.HealthOverride{})
	require.NoError(a.t, err)
	require.NotNil(a.t, h)
	return *h
}

// waitForHealth waits until Argo CD would show the Rollout with the status.
func (a *argoCD) waitForHealth(name string, status health.HealthStatusCode) {
	a.t.Helper()
	var h health.HealthStatus
	require.Eventually(a.t, func() bool {
		h = a.health(name)
		return h.Status == status
	}, 30*time.Second, 20*time.Millisecond, "health %s (%s), want %s", h.Status, h.Message, status)
}

// press runs an action's Lua script on the live Rollout and patches it with the difference,
// as Argo CD does when a person presses the action's button.
func (a *argoCD) press(name, action string) {
	a.t.Helper()
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(trancheapi.GroupVersion.WithKind("Rollout"))
	require.NoError(a.t, cp.Client.Get(context.Background(), client.ObjectKey{Namespace: a.ns, Name: name}, live))
	actions, err := argocd.DiscoverActions(live.Object)
	require.NoError(a.t, err)
	require.False(a.t, actions[action].Disabled, "Argo CD does not offer %s now", action)
	before, err := json.Marshal(live.Object)
	require.NoError(a.t, err)
	changed, err := argocd.RunAction(action, live.DeepCopy().Object)
	require.NoError(a.t, err)
	after, err := json.Marshal(changed)
	require.NoError(a.t, err)
	patch, err := jsonpatch.CreateMergePatch(before, after)
	require.NoError(a.t, err)
	require.NoError(a.t, cp.Client.Patch(context.Background(), live, client.RawPatch(types.MergePatchType, patch)))
}

func waitFor(t *testing.T, ns, name string, limit time.Duration, ok func(*trancheapi.Rollout) bool) *trancheapi.Rollout {
	t.Helper()
	ro := &trancheapi.Rollout{}
	require.Eventually(t, func() bool {
		return cp.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, ro) == nil && ok(ro)
	}, limit, 50*time.Millisecond, "rollout %s: %s (%s)", name, ro.Status.Phase, ro.Status.Message)
	return ro
}

func phaseIs(phases ...trancheapi.Phase) func(*trancheapi.Rollout) bool {
	return func(ro *trancheapi.Rollout) bool {
		for _, p := range phases {
			if ro.Status.Phase == p {
				return true
			}
		}
		return false
	}
}

// app is the Git side of the test: a Deployment and its Rollout, 5% and 50% with short holds,
// then full traffic once a person approves.
func app(image string) (*appsv1.Deployment, *trancheapi.Rollout) {
	d := harness.Deployment("", "podinfo", image)
	d.TypeMeta.APIVersion, d.TypeMeta.Kind = "apps/v1", "Deployment"
	d.Spec.Replicas = ptr.To[int32](2)
	step := func(w int32) trancheapi.Step {
		return trancheapi.Step{Weight: ptr.To(w), Hold: &metav1.Duration{Duration: time.Second}}
	}
	ro := &trancheapi.Rollout{
		TypeMeta:   metav1.TypeMeta{APIVersion: trancheapi.GroupVersion.String(), Kind: "Rollout"},
		ObjectMeta: metav1.ObjectMeta{Name: "podinfo"},
		Spec: trancheapi.RolloutSpec{
			TargetRef: trancheapi.TargetRef{Kind: "Deployment", Name: "podinfo"},
			Service:   trancheapi.ServiceSpec{Port: 80},
			Provider: trancheapi.Provider{GatewayAPI: &trancheapi.GatewayAPIProvider{
				ParentRefs: []trancheapi.ParentReference{{Name: "public"}},
			}},
			Steps:            []trancheapi.Step{step(5), step(50), {Weight: ptr.To[int32](100), Approval: trancheapi.ApprovalManual}},
			ProgressDeadline: &metav1.Duration{Duration: 5 * time.Second},
		},
	}
	return d, ro
}

func TestArgoCDSyncsARolloutThroughItsLife(t *testing.T) {
	argo := newArgoCD(t, "shop")
	ctx, ns := context.Background(), argo.ns
	d, ro := app("podinfo:1.0")
	argo.commit("deployment", d)
	argo.commit("rollout", ro)

	// First sync: Tranche takes the Deployment over; Argo CD sees everything in sync, and
	// the objects Tranche made are not the Application's to prune.
	argo.sync()
	waitFor(t, ns, "podinfo", 30*time.Second, phaseIs(trancheapi.PhaseInitialized))
	assert.Equal(t, health.HealthStatusHealthy, argo.health("podinfo").Status)
	argo.requireInSync()
	argo.sync()
	generated := []client.Object{
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "podinfo-primary"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "podinfo"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "podinfo-primary"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "podinfo-canary"}},
		&gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "podinfo"}},
	}
	for _, obj := range generated {
		require.NoError(t, cp.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj), "a sync with pruning deleted %T %s", obj, obj.GetName())
		assert.Equal(t, "IgnoreExtraneous", obj.GetAnnotations()["argocd.argoproj.io/compare-options"], "%T %s", obj, obj.GetName())
	}

	// A new image in Git: the rollout steps, and a sync in the middle changes nothing.
	d.Spec.Template.Spec.Containers[0].Image = "podinfo:1.1"
	argo.commit("deployment", d)
	argo.sync()
	argo.waitForHealth("podinfo", health.HealthStatusProgressing)
	mid := waitFor(t, ns, "podinfo", 30*time.Second, func(ro *trancheapi.Rollout) bool {
		return ro.Status.CurrentStep == 1 && ro.Status.StepStartedAt != nil
	})
	h := argo.health("podinfo")
	assert.Equal(t, health.HealthStatusProgressing, h.Status)
	assert.Contains(t, h.Message, "step 2/3, canary weight 50%")
	argo.sync()
	argo.requireInSync()
	waiting := waitFor(t, ns, "podinfo", 30*time.Second, phaseIs(trancheapi.PhaseWaitingApproval))
	assert.Equal(t, mid.Status.RolloutStartedAt, waiting.Status.RolloutStartedAt, "the sync mid-rollout restarted it")
	assert.Equal(t, mid.Status.CanaryRevision, waiting.Status.CanaryRevision)
	assert.Equal(t, health.HealthStatusSuspended, argo.health("podinfo").Status)

	// A person presses Promote in Argo CD.
	argo.press("podinfo", "promote")
	done := waitFor(t, ns, "podinfo", 30*time.Second, phaseIs(trancheapi.PhaseSucceeded, trancheapi.PhaseFailed))
	require.Equal(t, trancheapi.PhaseSucceeded, done.Status.Phase, done.Status.Message)
	argo.waitForHealth("podinfo", health.HealthStatusHealthy)
	primary := &appsv1.Deployment{}
	require.NoError(t, cp.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "podinfo-primary"}, primary))
	assert.Equal(t, "podinfo:1.1", primary.Spec.Template.Spec.Containers[0].Image)
	argo.requireInSync()

	// A bad image in Git: its pods never become ready, the rollout rolls back, health is
	// Degraded, and syncing again does not start it over.
	d.Spec.Template.Spec.Containers[0].Image = badImage
	harness.SetPodBehaviour(&d.Spec.Template, harness.PodCrash)
	argo.commit("deployment", d)
	argo.sync()
	failed := waitFor(t, ns, "podinfo", 30*time.Second, phaseIs(trancheapi.PhaseFailed))
	h = argo.health("podinfo")
	assert.Equal(t, health.HealthStatusDegraded, h.Status)
	assert.Contains(t, h.Message, "Rolled back")
	argo.sync()
	time.Sleep(time.Second)
	again := waitFor(t, ns, "podinfo", time.Second, phaseIs(trancheapi.PhaseFailed))
	assert.Equal(t, failed.Status.RolloutStartedAt, again.Status.RolloutStartedAt, "a sync retried the failed revision")
	require.NoError(t, cp.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "podinfo-primary"}, primary))
	assert.Equal(t, "podinfo:1.1", primary.Spec.Template.Spec.Containers[0].Image, "the stable version still serves")
}
