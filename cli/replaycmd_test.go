package cli_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// The replay of real rollouts on a real Prometheus is tested end to end (test/e2e); here,
// what the command refuses, and why.
func TestReplaySaysWhatItLacks(t *testing.T) {
	key := deployWith(t, cp.Namespace(t), func(spec *trancheapi.RolloutSpec) {
		spec.Analysis = &trancheapi.Analysis{Interval: &metav1.Duration{Duration: 10 * time.Second}, Metrics: []trancheapi.Metric{
			{Name: "success-rate", Builtin: trancheapi.BuiltinRequestSuccessRate, Min: ptr.To(99.0)},
		}}
	})

	_, err := kubectl(t, key.Namespace, "replay", key.Name)
	assert.ErrorContains(t, err, "metric success-rate is built in: name the Prometheus that holds the rollouts' data with --prometheus")

	_, err = kubectl(t, key.Namespace, "replay", key.Name, "--since", "7d", "--from", "2026-12-01T00:00:00Z")
	assert.ErrorContains(t, err, "give --since or --from, not both")
	_, err = kubectl(t, key.Namespace, "replay", key.Name, "--since", "a week")
	assert.ErrorContains(t, err, `"a week" is not a duration: give one such as 7d or 36h`)

	other := filepath.Join(t.TempDir(), "other.yaml")
	require.NoError(t, os.WriteFile(other, []byte(`apiVersion: tranche.dev/v1alpha1
kind: Rollout
metadata: {name: another}
spec:
  targetRef: {kind: Deployment, name: another}
  service: {port: 80}
  provider: {kubernetes: {}}
`), 0o600))
	_, err = kubectl(t, key.Namespace, "replay", key.Name, "-f", other, "--prometheus", "http://127.0.0.1:1")
	assert.ErrorContains(t, err, "the files hold no Rollout app in namespace "+key.Namespace+" to judge with")

	out, err := kubectl(t, key.Namespace, "replay", key.Name, "--prometheus", "http://127.0.0.1:1")
	require.NoError(t, err, out)
	assert.Contains(t, out, "0 past rollout(s) judged with its own analysis", "a Rollout never released has no history")

	out, err = kubectl(t, key.Namespace, "lint", "-f", other, "--backtest")
	assert.ErrorContains(t, err, "--backtest needs --prometheus", out)
}
