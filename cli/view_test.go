package cli_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// TestListAndGetShowWhatTheControllerSays: list and get read the Rollout the real controller
// initialized and then rolls out, and show its phase, step, weight and revisions as the
// controller wrote them.
func TestListAndGetShowWhatTheControllerSays(t *testing.T) {
	t.Parallel()
	key := deploy(t, step(5, time.Hour, false), step(100, 0, false))
	ro := getRollout(t, key)
	require.Equal(t, trancheapi.PhaseInitialized, ro.Status.Phase)
	require.Equal(t, targetRevision(t, key), ro.Status.StableRevision, "the controller made the target's revision stable")

	out, err := kubectl(t, key.Namespace, "list")
	require.NoError(t, err, out)
	assert.Equal(t, []string{"app", "Initialized", "-", "0%", ro.Status.StableRevision, "-", "-"}, row(t, out, "app")[:7])

	release(t, key, "app:2")
	ro = waitFor(t, key, "the first step", func(ro *trancheapi.Rollout) bool {
		return ro.Status.Phase == trancheapi.PhaseProgressing && ro.Status.CanaryWeight == 5
	})
	canary := targetRevision(t, key)
	require.Equal(t, canary, ro.Status.CanaryRevision)

	out, err = kubectl(t, key.Namespace, "list")
	require.NoError(t, err, out)
	assert.Equal(t, []string{"app", "Progressing", "1/2", "5%", ro.Status.StableRevision, canary, "-"}, row(t, out, "app")[:7])

	// The message can change between two reads (until the routes read back it says what they
	// still say): get must show the one the status has when it ran, read again after it.
	for range 10 {
		out, err = kubectl(t, key.Namespace, "get", key.Name)
		require.NoError(t, err, out)
		if ro = getRollout(t, key); strings.Contains(out, "Message:    "+ro.Status.Message+"\n") {
			break
		}
	}
	for _, want := range []string{
		"Phase:      Progressing\n",
		"Message:    " + ro.Status.Message + "\n",
		fmt.Sprintf("Revisions:  stable %s, canary %s\n", ro.Status.StableRevision, canary),
		"Traffic:    primary 95%, canary 5%\n",
	} {
		assert.Contains(t, out, want)
	}
	assert.Regexp(t, `(?m)^Steps:\s+▶ 5%( \(\S+ left\))?  · 100%$`, out, "at the first of two steps")
	assert.Regexp(t, `(?m)^  \S+ ago\s+Normal\s+RolloutStarted\s+Rolling out revision `+canary, out, "the controller's event")
	assert.Regexp(t, `(?m)^  Ready\s+False\s+Progressing\s`, out, "the controller's conditions")

	out, err = kubectl(t, key.Namespace, "get", key.Name, "-o", "yaml")
	require.NoError(t, err, out)
	assert.Contains(t, out, "canaryWeight: 5\n")
	assert.Contains(t, out, "kind: Rollout\n")
}

// row is the fields of the table line whose first column is name, failing the test when
// there is none.
func row(t *testing.T, table, name string) []string {
	t.Helper()
	for _, line := range strings.Split(table, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == name {
			return f
		}
	}
	require.Failf(t, "no row", "no row for %s in:\n%s", name, table)
	return nil
}

func getRollout(t *testing.T, key types.NamespacedName) *trancheapi.Rollout {
	t.Helper()
	ro := &trancheapi.Rollout{}
	require.NoError(t, cp.Client.Get(context.Background(), key, ro))
	return ro
}

// targetRevision is the revision of the Rollout's target as the controller names it.
func targetRevision(t *testing.T, key types.NamespacedName) string {
	t.Helper()
	d := &appsv1.Deployment{}
	require.NoError(t, cp.Client.Get(context.Background(), key, d))
	return trancheapi.TemplateRevision(d.Spec.Template)
}

// rowPattern matches a list row of the Rollout name in phase, at step and weight.
func rowPattern(name string, phase trancheapi.Phase, step, weight string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^` + name + `\s+` + string(phase) + `\s+` + regexp.QuoteMeta(step) + `\s+` + weight + `%\s`)
}

// TestAGroupIsOneView: list --group lists a group's members alone, in the order they are
// released, and get shows a member's group.
func TestAGroupIsOneView(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := cp.Namespace(t)
	for _, m := range []struct {
		name  string
		group *trancheapi.Group
	}{
		{"shopfront", &trancheapi.Group{Name: "checkout", After: []trancheapi.GroupOrder{{Rollout: "pay"}}}},
		{"pay", &trancheapi.Group{Name: "checkout"}},
		{"search", nil},
	} {
		ro := &trancheapi.Rollout{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: m.name},
			Spec: trancheapi.RolloutSpec{
				TargetRef: trancheapi.TargetRef{Kind: "Deployment", Name: m.name},
				Service:   trancheapi.ServiceSpec{Port: 80},
				Provider:  trancheapi.Provider{GatewayAPI: &trancheapi.GatewayAPIProvider{ParentRefs: []trancheapi.ParentReference{{Name: "public"}}}},
				Group:     m.group,
			},
		}
		require.NoError(t, cp.Client.Create(ctx, ro))
	}

	out, err := kubectl(t, ns, "list", "--group", "checkout")
	require.NoError(t, err, out)
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		names = append(names, strings.Fields(line)[1])
	}
	assert.Equal(t, []string{"pay", "shopfront"}, names, "the members, pay first:\n%s", out)

	out, err = kubectl(t, ns, "get", "shopfront")
	require.NoError(t, err, out)
	assert.Contains(t, out, "Group:      checkout, released as one\n")
	assert.Regexp(t, `(?m)^  pay\s.*\s-$`, out)
	assert.Regexp(t, `(?m)^  shopfront \(this\)\s.*\spay$`, out)
	assert.NotContains(t, out, "search")

	_, err = kubectl(t, ns, "list", "--group", "checkout", "-A")
	assert.ErrorContains(t, err, "drop --all-namespaces")
}
