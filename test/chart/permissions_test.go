package chart

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/kube"
	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/harness"
)

// The manager from the image, run as the chart's ServiceAccount with a token from the
// TokenRequest API and the chart's RBAC alone, does everything its permissions are for (see
// exercise), leader election on: the API server refuses it nothing, and it uses every verb the
// chart grants it. So too without copies of Secrets, where the chart grants less, and in a
// namespaced install, where it has Roles alone and makes no cluster-scoped request.
func TestTheManagerNeedsNoMoreThanTheChartGrants(t *testing.T) {
	binary := imageManager(t)
	for _, tc := range []struct {
		name, release string
		values        map[string]any
		args          []string
		namespaced    bool
	}{
		{name: "defaults", release: "perms", values: map[string]any{}},
		{name: "copySecrets false", release: "perms-shared", values: map[string]any{"copySecrets": false}, args: []string{"--copy-secrets=false"}},
		{name: "namespaced", release: "perms-ns", values: map[string]any{"rbac": map[string]any{"namespaced": true}}, args: []string{"--namespaced"}, namespaced: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			managerNeedsNoMoreThanTheChartGrants(t, binary, tc.release, tc.values, tc.args, tc.namespaced)
		})
	}
}

func managerNeedsNoMoreThanTheChartGrants(t *testing.T, binary, release string, values map[string]any, args []string, namespaced bool) {
	ctx := context.Background()
	namespace := "tranche-" + release
	install := action.NewInstall(configuration(t, namespace))
	install.ReleaseName, install.Namespace, install.CreateNamespace = release, namespace, true
	install.WaitStrategy, install.Timeout = kube.StatusWatcherStrategy, time.Minute
	chrt, err := loader.Load(chartDir)
	require.NoError(t, err)
	values["replicas"] = int64(0) // the manager runs here, as the test's
	apps := cp.Namespace(t)
	if namespaced {
		values["namespaces"] = []any{apps}
		args = append(args, "--namespaces="+apps)
	}
	_, err = install.RunWithContext(ctx, chrt, values)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = action.NewUninstall(configuration(t, namespace)).Run(release) })

	clientset, err := kubernetes.NewForConfig(cp.Config)
	require.NoError(t, err)
	token, err := clientset.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, release+"-tranche",
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	require.NoError(t, err)
	logs := &harness.Output{}
	manager := exec.Command(binary, append([]string{"--leader-elect=true", "--leader-election-namespace=" + namespace,
		"--metrics-bind-address=0", "--health-probe-bind-address=127.0.0.1:0", "--log-level=debug"}, args...)...)
	// client-go's informers stream their first list in a watch where the API server can;
	// with that off they list, as they do on API servers that cannot, and the list
	// permissions are seen used.
	manager.Env = append(os.Environ(), "KUBECONFIG="+tokenKubeconfig(t, token.Status.Token), "KUBE_FEATURE_WatchListClient=false")
	manager.Stdout, manager.Stderr = logs, logs
	require.NoError(t, manager.Start())
	t.Cleanup(func() { _ = manager.Process.Kill(); _ = manager.Wait() })

	exercise(t, apps)

	lease := &coordinationv1.Lease{}
	require.NoError(t, cp.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "tranche.dev"}, lease), "the manager's Lease")
	assert.NotEmpty(t, ptr.Deref(lease.Spec.HolderIdentity, ""), "the manager leads")
	said := logs.String()
	require.NotEmpty(t, said)
	for _, line := range strings.Split(said, "\n") {
		// RBAC's refusal, not the 403 of a namespace being deleted (the previous case's).
		assert.NotContains(t, line, `is forbidden: User "`, "the chart's RBAC refused the manager something")
	}
	requests := requestsOf(t, "system:serviceaccount:"+namespace+":"+release+"-tranche")
	for _, r := range requests {
		assert.NotEqual(t, "forbid", r.Annotations["authorization.k8s.io/decision"], "refused by RBAC: %s", r)
	}
	roles := []client.ObjectKey{{Name: release + "-tranche"}, {Namespace: namespace, Name: release + "-tranche-leader-election"}}
	if namespaced {
		roles[0].Namespace = apps
		for _, r := range requests {
			assert.NotEmpty(t, r.ObjectRef.Namespace, "a cluster-scoped request: %s", r)
		}
		assert.True(t, apierrors.IsNotFound(cp.Client.Get(ctx, roles[0], &rbacv1.ClusterRole{})), "a namespaced install has no ClusterRole")
	}
	granted := grantedTo(t, roles...)
	used := map[permission]bool{}
	for _, r := range requests {
		used[permissionOf(r)] = true
	}
	var unused []string
	for _, p := range granted {
		if !used[p] && notSeenHere[p] == "" {
			unused = append(unused, p.String())
		}
	}
	assert.Empty(t, unused, "the chart grants what the manager never asked for")
}

// providersOf is a provider of each kind, by the name of the app that rolls out through it,
// with what each needs of the user's made in ns.
func providersOf(t *testing.T, ns string) map[string]trancheapi.Provider {
	t.Helper()
	ingress := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: "web.example.test", IngressRuleValue: networkingv1.IngressRuleValue{
			HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
				Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix),
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 8080}}},
			}}},
		}}}},
	}
	require.NoError(t, cp.Client.Create(context.Background(), ingress))
	return map[string]trancheapi.Provider{
		"shop":     {GatewayAPI: &trancheapi.GatewayAPIProvider{ParentRefs: []trancheapi.ParentReference{{Name: "public"}}}},
		"orders":   {Istio: &trancheapi.IstioProvider{}},
		"ledger":   {Linkerd: &trancheapi.LinkerdProvider{}},
		"billing":  {SMI: &trancheapi.SMIProvider{}},
		"web":      {NGINX: &trancheapi.NGINXProvider{IngressRef: trancheapi.LocalObjectReference{Name: ingress.Name}}},
		"search":   {Traefik: &trancheapi.TraefikProvider{}},
		"checkout": {Kubernetes: &trancheapi.KubernetesProvider{}},
	}
}

func waitForPhases(t *testing.T, rollouts []*trancheapi.Rollout, phase trancheapi.Phase) {
	t.Helper()
	var behind []string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		behind = behind[:0]
		for _, ro := range rollouts {
			got := &trancheapi.Rollout{}
			if err := cp.Client.Get(context.Background(), client.ObjectKeyFromObject(ro), got); err != nil || got.Status.Phase != phase {
				behind = append(behind, fmt.Sprintf("%s (%s: %s)", ro.Name, got.Status.Phase, got.Status.Message))
			}
		}
		if len(behind) == 0 {
			return
		}
	}
	t.Fatalf("not %s after a minute: %s", phase, strings.Join(behind, "; "))
}

// tokenKubeconfig writes a kubeconfig that reaches the test API server with token alone.
func tokenKubeconfig(t *testing.T, token string) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["test"] = &clientcmdapi.Cluster{Server: cp.Config.Host, CertificateAuthorityData: cp.Config.CAData}
	cfg.AuthInfos["manager"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["manager"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "manager", Namespace: corev1.NamespaceDefault}
	cfg.CurrentContext = "manager"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(*cfg, path))
	return path
}

// imageManager builds the manager's image as make image does and returns the manager's
// binary from its layer.
func imageManager(t *testing.T) string { return imageBinary(t, "tranche") }

// imageBinary returns a program of the manager's image (tranche, kubectl-tranche), from one
// build of the image as make image does for every test that asks.
func imageBinary(t *testing.T, name string) string {
	t.Helper()
	builtImage.once.Do(func() {
		dir, err := os.MkdirTemp("", "tranche-chart-image-")
		if err != nil {
			builtImage.err = err
			return
		}
		defer os.RemoveAll(dir)
		cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "run", "./hack/image", "-layout", filepath.Join(dir, "oci"))
		cmd.Dir = filepath.Join("..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			builtImage.err = fmt.Errorf("building the image: %w: %s", err, out)
			return
		}
		builtImage.files, builtImage.err = layerFiles(filepath.Join(dir, "oci"))
	})
	require.NoError(t, builtImage.err)
	file, ok := builtImage.files[name]
	require.True(t, ok, "the image's layer has no %s", name)
	binary := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(binary, file.Data, 0o755))
	return binary
}

// builtImage is the image's files, built once.
var builtImage struct {
	once  sync.Once
	files map[string]harness.LayerFile
	err   error
}

// layerFiles reads the files of the one layer of the one image in an OCI layout.
func layerFiles(path string) (map[string]harness.LayerFile, error) {
	index, err := layout.ImageIndexFromPath(path)
	if err != nil {
		return nil, err
	}
	manifest, err := index.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(manifest.Manifests) != 1 {
		return nil, fmt.Errorf("%d images in the layout, not one", len(manifest.Manifests))
	}
	img, err := index.Image(manifest.Manifests[0].Digest)
	if err != nil {
		return nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	if len(layers) != 1 {
		return nil, fmt.Errorf("%d layers in the image, not one", len(layers))
	}
	return harness.LayerFiles(layers[0])
}
