//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/harness"
	"github.com/tranche-dev/tranche/test/stack"
)

// Argo CD itself, configured as docs/argocd.md tells users (config/argocd/argocd-cm.yaml in
// its argocd-cm, the Application's ignoreDifferences as the page gives them), syncs the demo
// app's Deployment and Rollout from a Git repository. A commit with a new image is synced and
// rolled out by Tranche; Argo CD's health of the Rollout, read from the Application's resource
// tree through Argo CD's API, goes Progressing and then Healthy, and the Application stays
// Synced from its sync of the commit to past the end of the rollout, when Tranche has scaled
// the target to zero: Tranche's writes never make it OutOfSync.
func TestArgoCDSyncsTheRolloutAndShowsItsHealth(t *testing.T) {
	const app, host = "catalog", "catalog.e2e.test"
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	c := s.ControlPlane.Client
	crds, err := harness.ArgoCDCRDs()
	require.NoError(t, err, "make e2e builds Argo CD first")
	_, err = envtest.InstallCRDs(s.ControlPlane.Config, envtest.CRDInstallOptions{Paths: []string{crds}})
	require.NoError(t, err)

	// The repository: the app and its Rollout, each in a file of its own.
	git, err := harness.StartGitServer(ctx)
	require.NoError(t, err)
	url, err := git.Create(ctx, "shop")
	require.NoError(t, err)
	deployment := stack.App(namespace, app, "v1")
	deployment.APIVersion, deployment.Kind = "apps/v1", "Deployment"
	deployment.Spec.Replicas = ptr.To[int32](2) // Git declares a count, which Tranche changes on the target
	rollout := stack.CanaryRollout(namespace, app, host, 4*time.Second, 3*time.Second)
	rollout.APIVersion, rollout.Kind = trancheapi.GroupVersion.String(), "Rollout"
	rollout.Spec.ScaleDownDelay = &metav1.Duration{Duration: 2 * time.Second} // the target is scaled to zero while Argo CD watches
	files := func() map[string][]byte {
		d, err := yaml.Marshal(deployment)
		require.NoError(t, err)
		r, err := yaml.Marshal(rollout)
		require.NoError(t, err)
		return map[string][]byte{"catalog/deployment.yaml": d, "catalog/rollout.yaml": r}
	}
	_, err = git.Commit(ctx, "shop", "the catalog", files())
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = c.Delete(context.Background(), rollout)
		_ = c.Delete(context.Background(), deployment)
	})

	argo, err := harness.StartArgoCD(ctx, c, harness.ArgoCDOptions{Kubeconfig: s.Kubeconfig, Settings: documentedSettings(t), LogDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(argo.Stop)
	application := documentedApplication(url, app)
	require.NoError(t, c.Create(ctx, application))

	_, err = stack.WaitForPhase(ctx, c, namespace, app, 2*time.Minute, trancheapi.PhaseInitialized)
	require.NoError(t, err, "Argo CD synced the Rollout and Tranche initialized it")
	require.NoError(t, stack.WaitServed(ctx, s.Traefik.WebURL(), host, 30*time.Second))
	load := stack.StartLoad(ctx, s.Traefik.WebURL(), host, requestsPerSecond)
	require.Eventually(t, func() bool {
		sync, _ := applicationStatus(ctx, t, application)
		return sync.Status == "Synced" && rolloutHealth(ctx, t, argo, app) == "Healthy"
	}, time.Minute, 200*time.Millisecond, "the Application Synced and the Rollout Healthy in Argo CD; the controller said:\n%s",
		argo.LogTail("argocd-application-controller"))

	// The release: a commit with v2. Argo CD's word on the Rollout, and on the Application,
	// every 100 ms until the rollout ends.
	deployment.Spec.Template.Spec.Containers[0].Image = stack.Image("v2")
	commit, err := git.Commit(ctx, "shop", "catalog v2", files())
	require.NoError(t, err)
	var mu sync.Mutex
	var healths []string
	var outOfSync []string
	watching, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		syncedAtCommit := false
		for watching.Err() == nil {
			sync, _ := applicationStatus(watching, t, application)
			health := rolloutHealth(watching, t, argo, app)
			mu.Lock()
			if health != "" && (len(healths) == 0 || healths[len(healths)-1] != health) {
				healths = append(healths, health)
			}
			if sync.Revision == commit && sync.Status == "Synced" {
				syncedAtCommit = true
			} else if syncedAtCommit && sync.Status == "OutOfSync" {
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
	assert.Empty(t, outOfSync, "the Application went OutOfSync after Argo CD synced the commit")
	assert.Zero(t, load.Counts().Failed, "clients saw failures")
	mu.Unlock()

	// The actions, through Argo CD's API as the UI's buttons send them: pause and resume,
	// abort and retry, and promote-full, each offered only when it applies.
	deployment.Spec.Template.Spec.Containers[0].Image = stack.Image("v3")
	_, err = git.Commit(ctx, "shop", "catalog v3", files())
	require.NoError(t, err)
	inPhase := func(phase trancheapi.Phase, health string) {
		t.Helper()
		_, err := waitFor(app, time.Minute, func(ro *trancheapi.Rollout) bool { return ro.Status.Phase == phase })
		require.NoError(t, err, "the Rollout %s", phase)
		require.Eventually(t, func() bool { return rolloutHealth(ctx, t, argo, app) == health }, 30*time.Second, 100*time.Millisecond,
			"Argo CD's health of the %s Rollout, %s; it says %q", phase, health, rolloutHealth(ctx, t, argo, app))
	}
	inPhase(trancheapi.PhaseProgressing, "Progressing")
	for _, step := range []struct {
		action string
		phase  trancheapi.Phase
		health string
	}{
		{"pause", trancheapi.PhasePaused, "Suspended"},
		{"resume", trancheapi.PhaseProgressing, "Progressing"},
		{"abort", trancheapi.PhaseAborted, "Degraded"},
		{"retry", trancheapi.PhaseProgressing, "Progressing"},
		{"promote-full", trancheapi.PhaseSucceeded, "Healthy"},
	} {
		require.Contains(t, enabledActions(ctx, t, argo, app), step.action, "Argo CD offers %s", step.action)
		runAction(ctx, t, argo, app, step.action)
		inPhase(step.phase, step.health)
	}
	assert.NotContains(t, enabledActions(ctx, t, argo, app), "abort", "no abort once promoted")
	sync, _ := applicationStatus(ctx, t, application)
	assert.Equal(t, "Synced", sync.Status, "the requests, annotations, leave the Application Synced")
}

// argoResource names the Rollout for Argo CD's resource API.
func argoResource(app string) url.Values {
	return url.Values{"namespace": {namespace}, "resourceName": {app}, "group": {trancheapi.GroupVersion.Group},
		"version": {trancheapi.GroupVersion.Version}, "kind": {"Rollout"}}
}

// enabledActions are the actions Argo CD offers on the Rollout now, as the UI lists them.
func enabledActions(ctx context.Context, t *testing.T, argo *harness.ArgoCD, app string) []string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		fmt.Sprintf("http://%s/api/v1/applications/%s/resource/actions?%s", argo.APIAddress(), app, argoResource(app).Encode()), nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var list struct {
		Actions []struct {
			Name     string
			Disabled bool
		}
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&list))
	var enabled []string
	for _, a := range list.Actions {
		if !a.Disabled {
			enabled = append(enabled, a.Name)
		}
	}
	return enabled
}

// runAction runs one of the Rollout's actions through Argo CD's API, as the UI's button does.
func runAction(ctx context.Context, t *testing.T, argo *harness.ArgoCD, app, action string) {
	t.Helper()
	r := argoResource(app)
	body, err := json.Marshal(map[string]string{
		"name": app, "action": action, "namespace": namespace, "resourceName": app,
		"group": r.Get("group"), "version": r.Get("version"), "kind": "Rollout",
	})
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		fmt.Sprintf("http://%s/api/v1/applications/%s/resource/actions/v2", argo.APIAddress(), app), bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "Argo CD ran %s: %s", action, answer)
}

// documentedSettings is argocd-cm's data as docs/argocd.md tells users to merge it:
// config/argocd/argocd-cm.yaml.
func documentedSettings(t *testing.T) map[string]string {
	t.Helper()
	root, err := harness.ModuleRoot()
	require.NoError(t, err)
	data, err := os.ReadFile(filepath.Join(root, "config", "argocd", "argocd-cm.yaml"))
	require.NoError(t, err)
	cm := &corev1.ConfigMap{}
	require.NoError(t, yaml.Unmarshal(data, cm))
	require.NotEmpty(t, cm.Data)
	return cm.Data
}

// documentedApplication is the Application of the app's folder, with the ignoreDifferences
// and sync options docs/argocd.md gives, syncing automatically and healing itself.
func documentedApplication(url, app string) *unstructured.Unstructured {
	a := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"namespace": harness.ArgoCDNamespace, "name": app},
		"spec": map[string]any{
			"project":     "default",
			"source":      map[string]any{"repoURL": url, "path": app, "targetRevision": "main"},
			"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": namespace},
			"ignoreDifferences": []any{map[string]any{
				"group": "apps", "kind": "Deployment", "name": app, "jsonPointers": []any{"/spec/replicas"},
			}},
			"syncPolicy": map[string]any{
				"automated":   map[string]any{"selfHeal": true},
				"syncOptions": []any{"RespectIgnoreDifferences=true"},
			},
		},
	}}
	a.SetGroupVersionKind(schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "Application"})
	return a
}

// appSync is an Application's status.sync.
type appSync struct{ Status, Revision string }

// applicationStatus reads the Application's sync status and health.
func applicationStatus(ctx context.Context, t *testing.T, a *unstructured.Unstructured) (appSync, string) {
	got := &unstructured.Unstructured{}
	got.SetGroupVersionKind(a.GroupVersionKind())
	if s.ControlPlane.Client.Get(ctx, client.ObjectKeyFromObject(a), got) != nil {
		return appSync{}, ""
	}
	var sync appSync
	sync.Status, _, _ = unstructured.NestedString(got.Object, "status", "sync", "status")
	sync.Revision, _, _ = unstructured.NestedString(got.Object, "status", "sync", "revision")
	health, _, _ := unstructured.NestedString(got.Object, "status", "health", "status")
	return sync, health
}

// rolloutHealth is Argo CD's health of the Rollout, from the Application's resource tree as
// its API serves it to the UI; "" when it says none.
func rolloutHealth(ctx context.Context, t *testing.T, argo *harness.ArgoCD, app string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/api/v1/applications/%s/resource-tree", argo.APIAddress(), app), nil)
	if err != nil {
		return ""
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var tree struct {
		Nodes []struct {
			Group, Kind, Name string
			Health            *struct{ Status string }
		}
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&tree) != nil {
		return ""
	}
	for _, n := range tree.Nodes {
		if n.Group == trancheapi.GroupVersion.Group && n.Kind == "Rollout" && n.Name == app && n.Health != nil {
			return n.Health.Status
		}
	}
	return ""
}
