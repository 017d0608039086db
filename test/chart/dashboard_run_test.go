package chart

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/kube"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/harness"
)

// The chart's dashboard for a team, run as its Deployment says (the plugin from the manager's
// image, the Deployment's args, its ServiceAccount's credentials, which the chart grants
// nothing), serves a person who signs in with their own token the Rollouts their RBAC lets
// them read: the API server refuses the dashboard nothing and sees no request made as it.
func TestTheChartsDashboardActsAsWhoeverSignsIn(t *testing.T) {
	ctx := context.Background()
	apps := cp.Namespace(t)
	const release, namespace = "dash", "tranche-dash"
	install := action.NewInstall(configuration(t, namespace))
	install.ReleaseName, install.Namespace, install.CreateNamespace = release, namespace, true
	install.WaitStrategy, install.Timeout = kube.HookOnlyStrategy, time.Minute // its pods have no kubelet here: the test runs it
	chrt, err := loader.Load(chartDir)
	require.NoError(t, err)
	_, err = install.RunWithContext(ctx, chrt, map[string]any{
		"replicas": int64(0), "namespaces": []any{apps}, "dashboard": map[string]any{"enabled": true},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = action.NewUninstall(configuration(t, namespace)).Run(release) })

	var deployments appsv1.DeploymentList
	require.NoError(t, cp.Client.List(ctx, &deployments, client.InNamespace(namespace),
		client.MatchingLabels{"app.kubernetes.io/component": "dashboard"}))
	require.Len(t, deployments.Items, 1, "the chart's dashboard Deployment")
	pod := deployments.Items[0].Spec.Template.Spec
	args := pod.Containers[0].Args
	address, err := harness.FreeAddress()
	require.NoError(t, err)
	for i, arg := range args {
		if strings.HasPrefix(arg, "--serve=") {
			args[i] = "--serve=" + address // its own port, on 127.0.0.1
		}
	}
	clientset, err := kubernetes.NewForConfig(cp.Config)
	require.NoError(t, err)
	tokenOf := func(ns, account string) string {
		t.Helper()
		token, err := clientset.CoreV1().ServiceAccounts(ns).CreateToken(ctx, account,
			&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
		require.NoError(t, err)
		return token.Status.Token
	}
	dashboardUser := "system:serviceaccount:" + namespace + ":" + pod.ServiceAccountName
	logs := &harness.Output{}
	dashboard := exec.Command(imageBinary(t, "kubectl-tranche"), args...)
	dashboard.Env = append(os.Environ(), "KUBECONFIG="+tokenKubeconfig(t, tokenOf(namespace, pod.ServiceAccountName)))
	dashboard.Stdout, dashboard.Stderr = logs, logs
	require.NoError(t, dashboard.Start())
	t.Cleanup(func() { _ = dashboard.Process.Kill(); _ = dashboard.Wait() })

	// A person who may read the Rollouts of the apps' namespace, and one Rollout there.
	reader := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: apps, Name: "reader"}}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: apps, Name: "reader"}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{trancheapi.GroupVersion.Group}, Resources: []string{"rollouts"}, Verbs: []string{"get", "list", "watch"},
	}}}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: apps, Name: "reader"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "reader"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: apps, Name: "reader"}}}
	shop := rollout(apps, "shop", "Deployment", trancheapi.Provider{Kubernetes: &trancheapi.KubernetesProvider{}})
	shop.Spec.Steps = []trancheapi.Step{{Weight: ptr.To[int32](100)}}
	shop.Spec.Analysis = nil
	for _, obj := range []client.Object{reader, role, binding, shop} {
		require.NoError(t, cp.Client.Create(ctx, obj))
	}

	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	browser := &http.Client{Jar: jar}
	base := "http://" + address + "/"
	require.Eventually(t, func() bool {
		resp, err := browser.Get(base + "signin")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	}, 20*time.Second, 100*time.Millisecond, "the dashboard serves its sign-in page: %s", logs)
	resp, err := browser.PostForm(base+"signin", url.Values{"token": {tokenOf(apps, "reader")}})
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "signed in: %s", page)
	assert.Contains(t, string(page), `<meta name="tranche-user" content="system:serviceaccount:`+apps+`:reader">`)
	var rows []struct{ Namespace, Name string }
	require.Eventually(t, func() bool {
		resp, err := browser.Get(base + "api/rollouts")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&rows) == nil && len(rows) > 0
	}, 20*time.Second, 100*time.Millisecond, "the reader's list: %s", logs)
	assert.Equal(t, []struct{ Namespace, Name string }{{apps, "shop"}}, rows)

	events, err := cp.Audit("")
	require.NoError(t, err)
	for _, e := range events {
		if e.User.Username == dashboardUser && e.ObjectRef.Resource != "" {
			assert.Failf(t, "a request as the dashboard itself", "%s", e)
		}
		if strings.HasPrefix(e.User.Username, "system:serviceaccount:"+apps+":reader") {
			assert.NotEqual(t, "forbid", e.Annotations["authorization.k8s.io/decision"], "refused the reader: %s", e)
		}
	}
}
