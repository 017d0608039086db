package chart

import (
	"maps"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// dashboardObjects renders the chart with values and returns its objects of the dashboard's
// name (tranche-dashboard), by kind.
func dashboardObjects(t *testing.T, values map[string]any) map[string]map[string]any {
	t.Helper()
	rendered, err := render(values)
	require.NoError(t, err)
	out := map[string]map[string]any{}
	for _, obj := range objects(t, rendered) {
		if obj.GetName() == "tranche-dashboard" {
			out[obj.GetKind()] = obj.Object
		}
	}
	return out
}

func dashboardDeployment(t *testing.T, objs map[string]map[string]any) appsv1.Deployment {
	t.Helper()
	var d appsv1.Deployment
	require.Contains(t, objs, "Deployment")
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(objs["Deployment"], &d))
	return d
}

// The dashboard served to a team is off by default; with tokens its ServiceAccount is granted
// nothing and it serves the manager's namespaces from the plugin in the manager's image;
// behind a proxy it listens on 127.0.0.1 for the proxy beside it and may only impersonate.
func TestTheDashboardServedToATeam(t *testing.T) {
	assert.Empty(t, dashboardObjects(t, nil), "no dashboard unless enabled")

	objs := dashboardObjects(t, map[string]any{"namespaces": []any{"shop"}, "dashboard": map[string]any{"enabled": true}})
	assert.ElementsMatch(t, []string{"ServiceAccount", "Deployment", "Service"}, slices.Collect(maps.Keys(objs)), "with tokens, no RBAC of its own")
	d := dashboardDeployment(t, objs)
	c := d.Spec.Template.Spec.Containers[0]
	assert.Equal(t, []string{"/kubectl-tranche"}, c.Command)
	assert.Equal(t, []string{"dashboard", "--serve=:3170", "--auth=token", "--namespaces=shop", "--session-ttl=8h", "--session-idle=1h"}, c.Args)
	assert.Equal(t, "tranche-dashboard", d.Spec.Template.Spec.ServiceAccountName)
	assert.Equal(t, "dashboard", d.Spec.Selector.MatchLabels["app.kubernetes.io/component"], "not the manager's pods")
	var svc corev1.Service
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(objs["Service"], &svc))
	assert.Equal(t, intstr.FromString("dashboard"), svc.Spec.Ports[0].TargetPort)

	objs = dashboardObjects(t, map[string]any{"dashboard": map[string]any{
		"enabled": true, "auth": "proxy", "readOnly": true, "namespaces": []any{"team-a"},
		"service":  map[string]any{"targetPort": "proxy"},
		"sidecars": []any{map[string]any{"name": "oauth2-proxy", "image": "oauth2-proxy:v7", "ports": []any{map[string]any{"name": "proxy", "containerPort": int64(4180)}}}},
	}})
	assert.ElementsMatch(t, []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment", "Service"}, slices.Collect(maps.Keys(objs)))
	rules := policyRules(t, objs["ClusterRole"]["rules"].([]any))
	require.Len(t, rules, 1)
	assert.Equal(t, []string{""}, rules[0].APIGroups)
	assert.Equal(t, []string{"users", "groups", "serviceaccounts"}, rules[0].Resources)
	assert.Equal(t, []string{"impersonate"}, rules[0].Verbs, "it may impersonate, nothing else")
	d = dashboardDeployment(t, objs)
	require.Len(t, d.Spec.Template.Spec.Containers, 2)
	c = d.Spec.Template.Spec.Containers[0]
	assert.Equal(t, []string{"dashboard", "--serve=127.0.0.1:3170", "--auth=proxy", "--user-header=X-Forwarded-User", "--groups-header=X-Forwarded-Groups",
		"--namespaces=team-a", "--read-only", "--session-ttl=8h", "--session-idle=1h"}, c.Args)
	assert.Empty(t, c.Ports, "nothing but the proxy reaches it")
	assert.Equal(t, "oauth2-proxy", d.Spec.Template.Spec.Containers[1].Name)
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(objs["Service"], &svc))
	assert.Equal(t, intstr.FromString("proxy"), svc.Spec.Ports[0].TargetPort)

	objs = dashboardObjects(t, map[string]any{"dashboard": map[string]any{"enabled": true, "tlsSecret": "dashboard-tls"}})
	d = dashboardDeployment(t, objs)
	assert.Subset(t, d.Spec.Template.Spec.Containers[0].Args, []string{"--tls-cert-file=/tls/tls.crt", "--tls-key-file=/tls/tls.key"})
	assert.Equal(t, "dashboard-tls", d.Spec.Template.Spec.Volumes[0].Secret.SecretName)
	assert.Equal(t, corev1.URISchemeHTTPS, d.Spec.Template.Spec.Containers[0].ReadinessProbe.HTTPGet.Scheme)

	for name, tc := range map[string]struct {
		dashboard map[string]any
		want      string
	}{
		"a proxy not there":         {map[string]any{"auth": "proxy", "service": map[string]any{"targetPort": "proxy"}}, "dashboard.auth proxy needs the authenticating proxy in dashboard.sidecars"},
		"a proxy without its port":  {map[string]any{"auth": "proxy", "sidecars": []any{map[string]any{"name": "p"}}}, "needs dashboard.service.targetPort"},
		"TLS behind a proxy":        {map[string]any{"auth": "proxy", "tlsSecret": "x", "service": map[string]any{"targetPort": "proxy"}, "sidecars": []any{map[string]any{"name": "p"}}}, "dashboard.tlsSecret is for auth token"},
		"an unknown way to sign in": {map[string]any{"auth": "basic"}, "/dashboard/auth"},
		"a header that is none":     {map[string]any{"auth": "proxy", "userHeader": "X-User: admin"}, "/dashboard/userHeader"},
	} {
		t.Run(name, func(t *testing.T) {
			tc.dashboard["enabled"] = true
			_, err := render(map[string]any{"dashboard": tc.dashboard})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
