package harness_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/tranche-dev/tranche/test/harness"
)

// Argo CD, built from its source, syncs what a Git repository served here holds: an
// Application over a folder of manifests goes Synced and Healthy, and a commit that changes a
// manifest is synced by the automated policy.
func TestArgoCDSyncsFromGit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	crds, err := harness.ArgoCDCRDs()
	require.NoError(t, err, "make test builds Argo CD first")
	_, err = envtest.InstallCRDs(cp.Config, envtest.CRDInstallOptions{Paths: []string{crds}})
	require.NoError(t, err)

	git, err := harness.StartGitServer(ctx)
	require.NoError(t, err)
	url, err := git.Create(ctx, "apps")
	require.NoError(t, err)
	ns := cp.Namespace(t)
	manifest := func(value string) []byte {
		return []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: " + ns + "\ndata:\n  greeting: " + value + "\n")
	}
	_, err = git.Commit(ctx, "apps", "the app", map[string][]byte{"app/settings.yaml": manifest("hello")})
	require.NoError(t, err)

	kubeconfig, err := cp.Kubeconfig(t.TempDir())
	require.NoError(t, err)
	argo, err := harness.StartArgoCD(ctx, cp.Client, harness.ArgoCDOptions{Kubeconfig: kubeconfig, LogDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(argo.Stop)

	app := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"namespace": harness.ArgoCDNamespace, "name": "app"},
		"spec": map[string]any{
			"project":     "default",
			"source":      map[string]any{"repoURL": url, "path": "app", "targetRevision": "main"},
			"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": ns},
			"syncPolicy":  map[string]any{"automated": map[string]any{"selfHeal": true}},
		},
	}}
	app.SetGroupVersionKind(schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "Application"})
	require.NoError(t, cp.Client.Create(ctx, app))

	greeting := func() string {
		cm := &corev1.ConfigMap{}
		if err := cp.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "settings"}, cm); err != nil {
			return ""
		}
		return cm.Data["greeting"]
	}
	appStatus := func() (sync, health string) {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(app.GroupVersionKind())
		if cp.Client.Get(ctx, client.ObjectKeyFromObject(app), got) != nil {
			return "", ""
		}
		sync, _, _ = unstructured.NestedString(got.Object, "status", "sync", "status")
		health, _, _ = unstructured.NestedString(got.Object, "status", "health", "status")
		return sync, health
	}
	require.Eventually(t, func() bool {
		sync, health := appStatus()
		return greeting() == "hello" && sync == "Synced" && health == "Healthy"
	}, 2*time.Minute, 200*time.Millisecond, "the Application never synced; Argo CD's controller said:\n%s", argo.LogTail("argocd-application-controller"))

	_, err = git.Commit(ctx, "apps", "a new greeting", map[string][]byte{"app/settings.yaml": manifest("bonjour")})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return greeting() == "bonjour" }, 2*time.Minute, 200*time.Millisecond,
		"the commit was never synced")
	assert.Eventually(t, func() bool { sync, _ := appStatus(); return sync == "Synced" }, 30*time.Second, 200*time.Millisecond,
		"the Application says it is synced to the new commit")
}
