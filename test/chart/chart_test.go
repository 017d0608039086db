package chart

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/kube"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/tranche-dev/tranche/providers/conformance"
	"github.com/tranche-dev/tranche/test/harness"
)

var update = flag.Bool("update", false, "rewrite the golden renderings in testdata/")

var cp *harness.ControlPlane

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "tranche-chart-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// Every provider's kinds, for the manager to route through; no Tranche CRDs: the chart
	// installs them.
	crds := conformance.MustCRDFiles(harness.GatewayAPICRDs())
	crds = append(crds, conformance.MustCRDs(harness.TraefikCRDs())...)
	crds = append(crds, conformance.MustCRDs(harness.IstioCRDs())...)
	crds = append(crds, conformance.MustCRDs(harness.SMICRDs(dir))...)
	return harness.Main(m, &cp, harness.Options{
		CRDDirectories: crds, WithoutTrancheCRDs: true, AcceptRoutes: true, Workloads: &harness.WorkloadOptions{},
		Audit: true, AuditPolicy: harness.AuditEveryRequest,
	}, func(context.Context, *harness.ControlPlane) error { return apiextensionsv1.AddToScheme(cp.Scheme) })
}

const releaseNamespace = "tranche-system"

// renderKubeVersion is the Kubernetes the client-only renders are for: the tests' own.
const renderKubeVersion = "v1.37.2"

var (
	chartDir  = filepath.Join("..", "..", "charts", "tranche")
	configDir = filepath.Join("..", "..", "config")
)

// everything is a set of values that turns every optional part on.
var everything = map[string]any{
	"replicas":                    int64(2),
	"image":                       map[string]any{"digest": "sha256:" + strings.Repeat("ab", 32)},
	"namespaces":                  []any{"shop", "payments"},
	"shardSelector":               "tranche.dev/shard=a",
	"allowedWebhookHosts":         []any{"hooks.slack.com", "*.corp.example"},
	"copySecrets":                 false,
	"podDisruptionBudget":         map[string]any{"enabled": true},
	"metrics":                     map[string]any{"serviceMonitor": map[string]any{"enabled": true, "labels": map[string]any{"release": "prometheus"}}},
	"defaultNotificationProvider": "tranche-system/slack",
	"clusterName":                 "prod-eu",
	"leaderElection":              map[string]any{"namespace": "tranche-leases"},
	"grafanaDashboard":            map[string]any{"enabled": true, "namespace": "monitoring", "folder": "Delivery"},
}

func TestTheChartLints(t *testing.T) {
	for name, values := range map[string]map[string]any{"defaults": nil, "everything": everything} {
		lint := action.NewLint()
		lint.Strict = true
		lint.Namespace = releaseNamespace
		kubeVersion, err := common.ParseKubeVersion(renderKubeVersion)
		require.NoError(t, err)
		lint.KubeVersion = kubeVersion
		result := lint.Run([]string{chartDir}, values)
		assert.Empty(t, result.Errors, "%s: %v", name, result.Messages)
		for _, m := range result.Messages {
			t.Logf("%s: %s", name, m)
		}
	}
}

// The chart's objects, rendered with its defaults and with every option on, are the golden
// files in testdata (go test -update rewrites them).
func TestTheChartRendersAsGolden(t *testing.T) {
	for name, values := range map[string]map[string]any{"defaults": nil, "everything": everything} {
		rendered, err := render(values)
		require.NoError(t, err, name)
		golden := filepath.Join("testdata", name+".yaml")
		if *update {
			require.NoError(t, os.WriteFile(golden, []byte(rendered), 0o644))
		}
		want, err := os.ReadFile(golden)
		require.NoError(t, err)
		assert.Equal(t, string(want), rendered, "%s: the chart renders other objects than %s (go test -update rewrites it)", name, golden)
		t.Logf("%s: %d objects", name, len(objects(t, rendered)))
	}
}

// The chart installs the CRDs config/ has, grants the rules controller-gen writes there from
// the code, and nothing with a wildcard, and ships the Grafana dashboard config/ has.
func TestTheChartMatchesConfig(t *testing.T) {
	bases, err := filepath.Glob(filepath.Join(configDir, "crd", "bases", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, bases)
	for _, base := range bases {
		want, err := os.ReadFile(base)
		require.NoError(t, err)
		got, err := os.ReadFile(filepath.Join(chartDir, "crds", filepath.Base(base)))
		require.NoError(t, err, "the chart has no copy of %s: make manifests copies it", base)
		assert.Equal(t, string(want), string(got), "the chart's copy of %s differs: make manifests copies it", base)
	}

	copying := maps.Clone(everything)
	copying["copySecrets"] = true // as config/ does; TestWithoutSecretCopiesSecretsAreOnlyRead has the other
	rendered, err := render(copying)
	require.NoError(t, err)
	roles := map[string][]rbacv1.PolicyRule{}
	var dashboard string
	for _, obj := range objects(t, rendered) {
		if obj.GetKind() == "ConfigMap" && obj.GetLabels()["grafana_dashboard"] == "1" {
			dashboard, _, _ = unstructured.NestedString(obj.Object, "data", "tranche.json")
		}
		if kind := obj.GetKind(); kind == "ClusterRole" || kind == "Role" {
			rules, _, err := unstructured.NestedSlice(obj.Object, "rules")
			require.NoError(t, err)
			roles[kind] = policyRules(t, rules)
		}
	}
	for kind, file := range map[string]string{"ClusterRole": "role.yaml", "Role": "leader_election_role.yaml"} {
		data, err := os.ReadFile(filepath.Join(configDir, "rbac", file))
		require.NoError(t, err)
		var role rbacv1.ClusterRole
		require.NoError(t, yaml.Unmarshal(data, &role))
		assert.Equal(t, role.Rules, roles[kind], "the chart's %s grants other rules than config/rbac/%s", kind, file)
		for _, rule := range roles[kind] {
			for _, field := range [][]string{rule.APIGroups, rule.Resources, rule.Verbs} {
				assert.NotContains(t, field, "*", "%s: a wildcard in %+v", kind, rule)
			}
		}
	}
	want, err := os.ReadFile(filepath.Join(configDir, "grafana", "tranche.json"))
	require.NoError(t, err)
	assert.JSONEq(t, string(want), dashboard, "the chart's dashboard ConfigMap holds another dashboard than config/grafana/tranche.json: make manifests copies it")
}

// With copySecrets false, the ClusterRole lets the manager read Secrets and no more, and the
// rest of its rules are config/'s.
func TestWithoutSecretCopiesSecretsAreOnlyRead(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(configDir, "rbac", "role.yaml"))
	require.NoError(t, err)
	var want rbacv1.ClusterRole
	require.NoError(t, yaml.Unmarshal(data, &want))
	for i, rule := range want.Rules {
		if slices.Contains(rule.Resources, "secrets") {
			want.Rules[i].Verbs = []string{"get"}
		}
	}
	rendered, err := render(map[string]any{"copySecrets": false})
	require.NoError(t, err)
	for _, obj := range objects(t, rendered) {
		if obj.GetKind() == "ClusterRole" {
			rules, _, err := unstructured.NestedSlice(obj.Object, "rules")
			require.NoError(t, err)
			assert.Equal(t, want.Rules, policyRules(t, rules))
		}
		if obj.GetKind() == "Deployment" {
			containers, _, err := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "containers")
			require.NoError(t, err)
			require.NotEmpty(t, containers)
			args, _, err := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
			require.NoError(t, err)
			assert.Contains(t, args, "--copy-secrets=false")
		}
	}
}

// A namespaced install has a Role and its binding in each namespace the manager watches, with
// config/'s rules but for cluster-scoped resources, the Lease's Role, no ClusterRole, and a
// manager told to make no cluster-scoped request.
func TestANamespacedInstallHasRolesAlone(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(configDir, "rbac", "role.yaml"))
	require.NoError(t, err)
	var config rbacv1.ClusterRole
	require.NoError(t, yaml.Unmarshal(data, &config))
	var want []rbacv1.PolicyRule
	for _, rule := range config.Rules {
		rule.Resources = slices.DeleteFunc(slices.Clone(rule.Resources), func(r string) bool { return r == "gatewayclasses" })
		if len(rule.Resources) > 0 {
			want = append(want, rule)
		}
	}
	rendered, err := render(map[string]any{"rbac": map[string]any{"namespaced": true}, "namespaces": []any{"shop", "payments"}})
	require.NoError(t, err)
	roles := map[string]int{}
	for _, obj := range objects(t, rendered) {
		switch obj.GetKind() {
		case "ClusterRole", "ClusterRoleBinding":
			t.Errorf("a namespaced install has a %s", obj.GetKind())
		case "Role":
			roles[obj.GetNamespace()]++
			if obj.GetName() == "tranche" {
				rules, _, err := unstructured.NestedSlice(obj.Object, "rules")
				require.NoError(t, err)
				assert.Equal(t, want, policyRules(t, rules), "the Role of %s", obj.GetNamespace())
			}
		case "RoleBinding":
			roles[obj.GetNamespace()+" binding"]++
		case "Deployment":
			containers, _, err := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "containers")
			require.NoError(t, err)
			args, _, err := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
			require.NoError(t, err)
			assert.Subset(t, args, []string{"--namespaced", "--namespaces=shop,payments"})
		}
	}
	assert.Equal(t, map[string]int{"shop": 1, "shop binding": 1, "payments": 1, "payments binding": 1, releaseNamespace: 1, releaseNamespace + " binding": 1}, roles,
		"a Role in each watched namespace, and the Lease's")
}

// Values the manager could not run with are refused before anything is written, with a
// message that names the value.
func TestBadValuesAreRefused(t *testing.T) {
	tests := []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"a negative replica count", map[string]any{"replicas": int64(-1)}, "/replicas"},
		{"no image repository", map[string]any{"image": map[string]any{"repository": ""}}, "/image/repository"},
		{"a digest that is a tag", map[string]any{"image": map[string]any{"digest": "latest"}}, "/image/digest"},
		{"a log level the manager lacks", map[string]any{"logLevel": "verbose"}, "/logLevel"},
		{"a Prometheus that is not a URL", map[string]any{"prometheusAddress": "prometheus:9090"}, "/prometheusAddress"},
		{"a lease that is not a duration", map[string]any{"leaderElection": map[string]any{"leaseDuration": "15"}}, "/leaderElection/leaseDuration"},
		{"a value of no name the chart knows", map[string]any{"replica": int64(2)}, "replica"},
		{"two managers without leader election", map[string]any{"replicas": int64(2), "leaderElection": map[string]any{"enabled": false}}, "replicas > 1 needs leaderElection.enabled"},
		{"namespaced RBAC without namespaces", map[string]any{"rbac": map[string]any{"namespaced": true}}, "rbac.namespaced needs namespaces"},
		{"a ServiceMonitor without its Service", map[string]any{"metrics": map[string]any{"service": map[string]any{"enabled": false}, "serviceMonitor": map[string]any{"enabled": true}}}, "metrics.serviceMonitor.enabled needs metrics.service.enabled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := render(tt.values)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			t.Log(err)
		})
	}
}

// Installed into a real API server (the pods are kwok's), upgraded with other values, and
// uninstalled: the CRDs stay, as Helm leaves them, and the rest goes.
func TestInstallUpgradeUninstall(t *testing.T) {
	ctx := context.Background()
	cfg := configuration(t, releaseNamespace)
	chrt, err := loader.Load(chartDir)
	require.NoError(t, err)

	install := action.NewInstall(cfg)
	install.ReleaseName, install.Namespace, install.CreateNamespace = "tranche", releaseNamespace, true
	install.WaitStrategy, install.Timeout = kube.StatusWatcherStrategy, time.Minute
	_, err = install.RunWithContext(ctx, chrt, nil)
	require.NoError(t, err)
	crds := []string{"rollouts.tranche.dev", "metrictemplates.tranche.dev", "notificationproviders.tranche.dev"}
	for _, name := range crds {
		require.NoError(t, cp.Client.Get(ctx, client.ObjectKey{Name: name}, &apiextensionsv1.CustomResourceDefinition{}), "CRD %s", name)
	}
	manager := &appsv1.Deployment{}
	require.NoError(t, cp.Client.Get(ctx, client.ObjectKey{Namespace: releaseNamespace, Name: "tranche"}, manager))
	assert.Equal(t, int32(1), manager.Status.ReadyReplicas, "the install waited for the manager to be ready")
	assert.Contains(t, manager.Spec.Template.Spec.Containers[0].Args, "--log-level=info")

	upgrade := action.NewUpgrade(cfg)
	upgrade.Namespace = releaseNamespace
	upgrade.WaitStrategy, upgrade.Timeout = kube.StatusWatcherStrategy, time.Minute
	_, err = upgrade.RunWithContext(ctx, "tranche", chrt, map[string]any{"replicas": int64(2), "logLevel": "debug"})
	require.NoError(t, err)
	require.NoError(t, cp.Client.Get(ctx, client.ObjectKey{Namespace: releaseNamespace, Name: "tranche"}, manager))
	assert.Equal(t, int32(2), manager.Status.ReadyReplicas)
	assert.Contains(t, manager.Spec.Template.Spec.Containers[0].Args, "--log-level=debug")

	uninstall := action.NewUninstall(cfg)
	uninstall.WaitStrategy, uninstall.Timeout = kube.StatusWatcherStrategy, time.Minute
	_, err = uninstall.Run("tranche")
	require.NoError(t, err)
	err = cp.Client.Get(ctx, client.ObjectKey{Namespace: releaseNamespace, Name: "tranche"}, &appsv1.Deployment{})
	assert.True(t, apierrors.IsNotFound(err), "the manager is gone: %v", err)
	err = cp.Client.Get(ctx, client.ObjectKey{Name: "tranche"}, &rbacv1.ClusterRole{})
	assert.True(t, apierrors.IsNotFound(err), "its ClusterRole is gone: %v", err)
	for _, name := range crds {
		assert.NoError(t, cp.Client.Get(ctx, client.ObjectKey{Name: name}, &apiextensionsv1.CustomResourceDefinition{}), "CRD %s stays", name)
	}
}

// render renders the chart with values as a client-only dry run of an install.
func render(values map[string]any) (string, error) {
	chrt, err := loader.Load(chartDir)
	if err != nil {
		return "", err
	}
	install := action.NewInstall(action.NewConfiguration())
	install.ReleaseName, install.Namespace = "tranche", releaseNamespace
	install.DryRunStrategy, install.Replace = action.DryRunClient, true
	// A client-only render assumes an old Kubernetes; the chart needs a newer one.
	if install.KubeVersion, err = common.ParseKubeVersion(renderKubeVersion); err != nil {
		return "", err
	}
	rel, err := install.RunWithContext(context.Background(), chrt, values)
	if err != nil {
		return "", err
	}
	return rel.(*releasev1.Release).Manifest, nil
}

// configuration is Helm's, on the test API server, keeping its releases in namespace.
func configuration(t *testing.T, namespace string) *action.Configuration {
	t.Helper()
	kubeconfig, err := cp.Kubeconfig(t.TempDir())
	require.NoError(t, err)
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &kubeconfig
	flags.Namespace = &namespace
	cfg := action.NewConfiguration()
	require.NoError(t, cfg.Init(flags, namespace, "secret"))
	return cfg
}

func objects(t *testing.T, manifest string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, doc := range strings.Split(manifest, "\n---") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		obj := &unstructured.Unstructured{}
		require.NoError(t, yaml.Unmarshal([]byte(doc), &obj.Object))
		if obj.Object != nil {
			out = append(out, obj)
		}
	}
	return out
}

func policyRules(t *testing.T, rules []any) []rbacv1.PolicyRule {
	t.Helper()
	data, err := yaml.Marshal(rules)
	require.NoError(t, err)
	var out []rbacv1.PolicyRule
	require.NoError(t, yaml.Unmarshal(bytes.TrimSpace(data), &out))
	return out
}
