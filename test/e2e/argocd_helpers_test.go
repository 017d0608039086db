//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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

// The Argo CD tests' helpers: the shared Argo CD, an app kept in Git for it, its Application
// as docs/argocd.md gives it, and what Argo CD's API and status say.

// argoApp is an app kept in Git for Argo CD: the repository "shop" on a Git server of its own,
// and the demo app's Deployment at v1 (declaring replicas: 2, which Tranche changes on the
// target) and its Rollout, with the apiVersion and kind a file in Git has.
type argoApp struct {
	name       string
	git        *harness.GitServer
	url        string
	deployment *appsv1.Deployment
	rollout    *trancheapi.Rollout
}

func newArgoApp(ctx context.Context, t *testing.T, app, host string, hold time.Duration) *argoApp {
	t.Helper()
	git, err := harness.StartGitServer(ctx)
	require.NoError(t, err)
	url, err := git.Create(ctx, "shop")
	require.NoError(t, err)
	a := &argoApp{name: app, git: git, url: url, deployment: stack.App(namespace, app, "v1"),
		rollout: stack.CanaryRollout(namespace, app, host, hold, 3*time.Second)}
	a.deployment.APIVersion, a.deployment.Kind = "apps/v1", "Deployment"
	a.deployment.Spec.Replicas = ptr.To[int32](2)
	a.rollout.APIVersion, a.rollout.Kind = trancheapi.GroupVersion.String(), "Rollout"
	return a
}

// files are the app's folder in the repository: the Deployment and the Rollout as they are
// now, and the other objects by file name, each in a file of its own.
func (a *argoApp) files(t *testing.T, others map[string]any) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	objects := map[string]any{"deployment.yaml": a.deployment, "rollout.yaml": a.rollout}
	maps.Copy(objects, others)
	for file, obj := range objects {
		data, err := yaml.Marshal(obj)
		require.NoError(t, err)
		out[a.name+"/"+file] = data
	}
	return out
}

// argoCD is the Argo CD the Argo CD tests share, configured as docs/argocd.md tells users:
// started by the first test that asks (its CRDs installed first) and stopped with the stack.
var argoCD struct {
	once sync.Once
	cd   *harness.ArgoCD
	err  error
}

func sharedArgoCD(t *testing.T) *harness.ArgoCD {
	t.Helper()
	argoCD.once.Do(func() {
		crds, err := harness.ArgoCDCRDs()
		if err != nil {
			argoCD.err = err
			return
		}
		if _, err := envtest.InstallCRDs(s.ControlPlane.Config, envtest.CRDInstallOptions{Paths: []string{crds}}); err != nil {
			argoCD.err = err
			return
		}
		argoCD.cd, argoCD.err = harness.StartArgoCD(context.Background(), s.ControlPlane.Client,
			harness.ArgoCDOptions{Kubeconfig: s.Kubeconfig, Settings: documentedSettings(t), LogDir: logDir})
	})
	require.NoError(t, argoCD.err, "starting Argo CD (make e2e builds it first)")
	return argoCD.cd
}

// stopArgoCD stops the shared Argo CD, if a test started it.
func stopArgoCD() {
	if argoCD.cd != nil {
		argoCD.cd.Stop()
	}
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
				"syncOptions": []any{"RespectIgnoreDifferences=true", "PrunePropagationPolicy=background"},
			},
		},
	}}
	a.SetGroupVersionKind(schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "Application"})
	return a
}

// watchReplicas looks at a Deployment's replicas every 50 ms until the test's context ends;
// the function it returns lists the counts it saw, each change once.
func watchReplicas(ctx context.Context, key client.ObjectKey) func() []int32 {
	var mu sync.Mutex
	var seen []int32
	go func() {
		for ctx.Err() == nil {
			d := &appsv1.Deployment{}
			if s.ControlPlane.Client.Get(ctx, key, d) == nil && d.Spec.Replicas != nil {
				mu.Lock()
				if len(seen) == 0 || seen[len(seen)-1] != *d.Spec.Replicas {
					seen = append(seen, *d.Spec.Replicas)
				}
				mu.Unlock()
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	return func() []int32 {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

// push commits files to the repository "shop" and tells Argo CD, as a Git webhook would: it
// compares the Application with Git at once rather than at its next look.
func push(ctx context.Context, t *testing.T, git *harness.GitServer, argo *harness.ArgoCD, application, message string, files map[string][]byte) string {
	t.Helper()
	commit, err := git.Commit(ctx, "shop", message, files)
	require.NoError(t, err)
	require.NoError(t, argo.Refresh(ctx, application))
	return commit
}

// stopManaging deletes the Application, without its resources, so that the Argo CD the tests
// share no longer syncs them: the test's own cleanup deletes them after.
func stopManaging(t *testing.T, a *unstructured.Unstructured) {
	c := s.ControlPlane.Client
	if err := c.Delete(context.Background(), a); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("deleting the Application %s: %v", a.GetName(), err)
		return
	}
	assert.Eventually(t, func() bool {
		return apierrors.IsNotFound(c.Get(context.Background(), client.ObjectKeyFromObject(a), a.DeepCopy()))
	}, 30*time.Second, 100*time.Millisecond, "the Application %s goes", a.GetName())
}

// waitSyncedAt waits until Argo CD has synced the Application to a commit: its last sync
// operation, of that revision, succeeded.
func waitSyncedAt(ctx context.Context, t *testing.T, argo *harness.ArgoCD, a *unstructured.Unstructured, commit string) {
	t.Helper()
	waitSyncEnded(ctx, t, argo, a, commit, "Succeeded")
}

// waitSyncEnded waits until the Application's last sync operation is of the commit and ended
// in the phase.
func waitSyncEnded(ctx context.Context, t *testing.T, argo *harness.ArgoCD, a *unstructured.Unstructured, commit, phase string) {
	t.Helper()
	var got lastSync
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if got = applicationState(ctx, a).LastSync; got.Revision == commit && got.Phase == phase {
			return
		}
	}
	require.Failf(t, "Argo CD's sync did not end as expected", "the sync of commit %s ended %s; the last sync was of %s, %s (%s); the controller said:\n%s",
		commit, phase, got.Revision, got.Phase, got.Message, argo.LogTail("argocd-application-controller"))
}

// appState is what an Application's status says: its sync status and revision, and its last
// sync operation.
type appState struct {
	Sync, Revision string
	LastSync       lastSync
}

// lastSync is an Application's status.operationState: its last sync operation.
type lastSync struct{ Phase, Message, Revision string }

// applicationState reads the Application's status; empty when it cannot be read.
func applicationState(ctx context.Context, a *unstructured.Unstructured) appState {
	got := &unstructured.Unstructured{}
	got.SetGroupVersionKind(a.GroupVersionKind())
	if s.ControlPlane.Client.Get(ctx, client.ObjectKeyFromObject(a), got) != nil {
		return appState{}
	}
	field := func(path ...string) string {
		v, _, _ := unstructured.NestedString(got.Object, append([]string{"status"}, path...)...)
		return v
	}
	return appState{
		Sync: field("sync", "status"), Revision: field("sync", "revision"),
		LastSync: lastSync{Phase: field("operationState", "phase"), Message: field("operationState", "message"),
			Revision: field("operationState", "syncResult", "revision")},
	}
}

// rolloutHealth is Argo CD's health of the Rollout, from the Application's resource tree as
// its API serves it to the UI; "" when it says none.
func rolloutHealth(ctx context.Context, argo *harness.ArgoCD, app string) string {
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

// argoEvents are the messages of the events Argo CD wrote about an Application.
func argoEvents(ctx context.Context, t *testing.T, app string) []string {
	t.Helper()
	var events corev1.EventList
	require.NoError(t, s.ControlPlane.Client.List(ctx, &events, client.InNamespace(harness.ArgoCDNamespace),
		client.MatchingFields{"involvedObject.name": app, "involvedObject.kind": "Application"}))
	messages := make([]string, 0, len(events.Items))
	for _, e := range events.Items {
		messages = append(messages, e.Message)
	}
	return messages
}
