package config

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// rules are every rule of the Roles and ClusterRoles under rbac/, by file.
func rules(t *testing.T) map[string][]rbacv1.PolicyRule {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("rbac", "*.yaml"))
	require.NoError(t, err)
	out := map[string][]rbacv1.PolicyRule{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		var role struct {
			Kind  string              `json:"kind"`
			Rules []rbacv1.PolicyRule `json:"rules"`
		}
		require.NoError(t, yaml.Unmarshal(data, &role), f)
		if role.Kind == "Role" || role.Kind == "ClusterRole" {
			out[f] = role.Rules
		}
	}
	require.NotEmpty(t, out, "no Role or ClusterRole under rbac/")
	return out
}

// The manager's permissions name every verb, resource and group they grant: a wildcard
// would grant whatever the cluster adds later.
func TestRBACHasNoWildcards(t *testing.T) {
	for file, rs := range rules(t) {
		for _, r := range rs {
			for field, values := range map[string][]string{
				"apiGroups": r.APIGroups, "resources": r.Resources, "verbs": r.Verbs,
				"resourceNames": r.ResourceNames, "nonResourceURLs": r.NonResourceURLs,
			} {
				assert.NotContains(t, values, "*", "%s: a wildcard in %s of %+v", file, field, r)
			}
		}
	}
}

// Secrets are read one by one where a MetricTemplate, a NotificationProvider or a target's
// pods name one, and written only as the primary's copies of a target's: never listed or
// watched, which would read every Secret of the cluster, and never deleted.
func TestSecretsAreOnlyGotAndCopied(t *testing.T) {
	for file, rs := range rules(t) {
		for _, r := range rs {
			if slices.Contains(r.Resources, "secrets") {
				assert.Equal(t, []string{"create", "get", "patch"}, r.Verbs, "%s: %+v", file, r)
			}
		}
	}
}
