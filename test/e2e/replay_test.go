//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/cli"
	"github.com/tranche-dev/tranche/cli/lint"
)

// checkReplay judges the two rollouts app has just been through again, on what the stack's
// Prometheus recorded of them: a good release (v2) promoted and a bad one (v3) rolled back.
// Its own analysis agrees with what happened; a proposed bound on the p99 latency that no
// release through Traefik meets (its first bucket is 100 ms) would have rolled the good
// release back at its second analysis run.
func checkReplay(t *testing.T, app string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := s.ControlPlane.Client
	key := client.ObjectKey{Namespace: namespace, Name: app}
	opts := cli.ReplayOptions{Rollout: key, Prometheus: s.Prometheus.URL(), Now: time.Now()}

	own, err := cli.Replay(ctx, c, opts)
	require.NoError(t, err)
	require.Len(t, own.Judgements, 2, "the history holds both releases")
	bad, good := own.Judgements[0], own.Judgements[1]
	require.Equal(t, trancheapi.OutcomeFailed, bad.Record.Outcome)
	require.Equal(t, trancheapi.OutcomeSucceeded, good.Record.Outcome)
	assert.True(t, good.Promoted(), "the analysis that promoted v2 promotes it again: %+v", good.RollBack)
	if assert.NotNil(t, bad.RollBack, "the analysis that rolled v3 back rolls it back again") {
		assert.Equal(t, int32(0), bad.RollBack.Step)
		assert.False(t, bad.RollBack.At.After(bad.Record.EndedAt.Time), "no later than the controller did")
		assert.Contains(t, bad.RollBack.Reason, "success-rate")
	}
	assert.Zero(t, good.NoData+bad.NoData, "Prometheus holds every run's data")

	live := &trancheapi.Rollout{}
	require.NoError(t, c.Get(ctx, key, live))
	proposed := &trancheapi.Rollout{ // as a file in Git has it
		TypeMeta:   metav1.TypeMeta{APIVersion: trancheapi.GroupVersion.String(), Kind: "Rollout"},
		ObjectMeta: metav1.ObjectMeta{Name: live.Name, Namespace: live.Namespace},
		Spec:       *live.Spec.DeepCopy(),
	}
	for i, m := range proposed.Spec.Analysis.Metrics {
		if m.Builtin == trancheapi.BuiltinRequestDuration {
			proposed.Spec.Analysis.Metrics[i].Max = ptr.To(1.0)
		}
	}
	data, err := yaml.Marshal(proposed)
	require.NoError(t, err)
	docs, err := lint.Read("proposed.yaml", bytes.NewReader(data))
	require.NoError(t, err)
	opts.Proposed = docs

	replayed, err := cli.Replay(ctx, c, opts)
	require.NoError(t, err)
	require.True(t, replayed.Proposed)
	require.Len(t, replayed.Judgements, 2)
	good = replayed.Judgements[1]
	if assert.NotNil(t, good.RollBack, "a p99 bound of 1 ms rolls the good release back") {
		interval := live.Spec.EffectiveInterval()
		assert.Equal(t, good.Record.Steps[0].StartedAt.Add(2*interval), good.RollBack.At, "at its second run, the failure limit being 2")
		assert.Contains(t, good.RollBack.Reason, "2 failed analysis runs: latency-p99 = ")
	}
	var out bytes.Buffer
	require.NoError(t, cli.RenderReplay(&out, replayed, opts.Now))
	t.Logf("replay with the proposed bound:\n%s", out.String())
	assert.Contains(t, out.String(), "1 of 2 would have ended otherwise")
	assert.Contains(t, out.String(), good.Record.Revision+" would have been rolled back: 2 failed analysis runs")

	// lint --backtest, on the same file, says the same.
	dir := t.TempDir()
	file := filepath.Join(dir, "proposed.yaml")
	require.NoError(t, os.WriteFile(file, data, 0o600))
	kubeconfig, err := s.ControlPlane.Kubeconfig(dir)
	require.NoError(t, err)
	var lintOut bytes.Buffer
	cmd := cli.NewCommand(genericiooptions.IOStreams{In: &bytes.Buffer{}, Out: &lintOut, ErrOut: &lintOut})
	cmd.SetArgs([]string{"lint", "-f", file, "--prometheus", s.Prometheus.URL(), "--backtest", "--kubeconfig", kubeconfig})
	require.NoError(t, cmd.ExecuteContext(ctx), lintOut.String())
	assert.Contains(t, lintOut.String(), "1 object(s) read, no errors")
	assert.Contains(t, lintOut.String(), "1 of 2 would have ended otherwise")
}
