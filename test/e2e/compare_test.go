//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/stack"
)

// The Compare judge on real traffic, through Traefik, with Traefik's own counters read from
// Prometheus: both versions fail in bursts at the same moments (a dependency they share), on
// top of 5% of their requests. A canary no worse is promoted; one with twice the errors, in
// and out of the bursts, is rolled back.
func TestTheCompareJudgeThroughTraefik(t *testing.T) {
	const app, host = "tally", "tally.e2e.test"
	bursts := func(errorRate, burstErrorRate float64) []string {
		return []string{fmt.Sprintf("--error-rate=%g", errorRate), "--burst-every=12s", "--burst-length=3s",
			fmt.Sprintf("--burst-error-rate=%g", burstErrorRate)}
	}
	template := stack.TraefikCompareTemplate(namespace, app)
	require.NoError(t, s.ControlPlane.Client.Create(context.Background(), template))
	t.Cleanup(func() { _ = s.ControlPlane.Client.Delete(context.Background(), template) })
	ro := stack.CanaryRollout(namespace, app, host, 20*time.Second, 3*time.Second)
	ro.Spec.Steps = []trancheapi.Step{
		{Weight: ptr.To[int32](50), Hold: &metav1.Duration{Duration: 20 * time.Second}},
		{Weight: ptr.To[int32](100), Hold: &metav1.Duration{Duration: 3 * time.Second}},
	}
	// Bursts weigh the evidence down (the errors vary more than independent ones): where the
	// hold is too short for a verdict, the step holds on while there is none, for at most the
	// progress deadline, and then passes undecided.
	ro.Spec.ProgressDeadline = &metav1.Duration{Duration: 20 * time.Second}
	ro.Spec.Analysis.Metrics = []trancheapi.Metric{{
		Name: "errors", TemplateRef: &trancheapi.NamespacedObjectReference{Name: template.Name}, Judge: trancheapi.JudgeCompare,
		Compare: &trancheapi.CompareSpec{Undecided: trancheapi.UndecidedExtend},
	}}
	load := deployApp(t, ro, stack.App(namespace, app, "v1", bursts(0.05, 0.15)...), host)

	samples, good := release(t, app, load, "v2", bursts(0.05, 0.15)...)
	require.Equal(t, trancheapi.PhaseSucceeded, good.Status.Phase, "a canary as good as the primary: %s\n%s", good.Status.Message, messagesOf(samples))
	// At 100% the primary serves nothing to compare with: the step is not extended.
	for _, smp := range samples {
		if strings.HasPrefix(smp.Message, "Step 2/2") {
			assert.NotContains(t, smp.Message, "the hold is extended", "at 100%%, waiting for a comparison is waiting for nothing")
		}
	}

	started := time.Now()
	samples, bad := release(t, app, load, "v3", bursts(0.10, 0.3)...)
	require.Equal(t, trancheapi.PhaseFailed, bad.Status.Phase, "a canary with twice the errors: %s\n%s", bad.Status.Message, messagesOf(samples))
	assert.Contains(t, bad.Status.Message, "the canary is worse than the primary")
	var rolledBackAt time.Time
	if h := bad.Status.History; len(h) > 0 && h[0].EndedAt != nil {
		rolledBackAt = h[0].EndedAt.Time
	}
	t.Logf("rolled back: %s\n%s", bad.Status.Message, messagesOf(samples))
	if !rolledBackAt.IsZero() {
		fmt.Printf("BENCH e2e_compare_bursts_rollback_seconds=%.1f\n", rolledBackAt.Sub(started).Seconds())
	}
}

// messagesOf lists the status messages the samples saw, each change once.
func messagesOf(samples []stack.Sample) string {
	var out []string
	for _, smp := range samples {
		line := smp.At.Format("15:04:05.000") + " " + smp.Message
		if len(out) == 0 || !strings.HasSuffix(out[len(out)-1], " "+smp.Message) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
