package config

import (
	"cmp"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// SECURITY.md's table of the manager's rules says what the ClusterRole grants, resource by
// resource, no more and no less: a rule added for a new feature must be said there too.
func TestSecurityMDListsEveryRule(t *testing.T) {
	granted := map[string][]string{} // "group resource": sorted verbs
	for _, r := range rules(t)[filepath.Join("rbac", "role.yaml")] {
		for _, group := range r.APIGroups {
			for _, resource := range r.Resources {
				key := cmp.Or(group, "core") + " " + resource
				granted[key] = slices.Sorted(slices.Values(append(granted[key], r.Verbs...)))
			}
		}
	}
	require.NotEmpty(t, granted)

	doc, err := os.ReadFile(filepath.Join("..", "SECURITY.md"))
	require.NoError(t, err)
	said := map[string][]string{}
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || strings.TrimSpace(cells[1]) == "resources" || strings.HasPrefix(strings.TrimSpace(cells[1]), "---") {
			continue
		}
		group, resources, ok := strings.Cut(strings.TrimSpace(cells[1]), " ")
		if !ok {
			continue
		}
		var verbs []string
		for _, v := range strings.Split(cells[2], ",") {
			verbs = append(verbs, strings.TrimSpace(v))
		}
		for _, resource := range strings.Split(resources, ",") {
			said[group+" "+strings.TrimSpace(resource)] = slices.Sorted(slices.Values(verbs))
		}
	}
	assert.Equal(t, granted, said, "SECURITY.md's table against config/rbac/role.yaml")
}
