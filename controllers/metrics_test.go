package controllers

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// TestDeletedRolloutLeavesNoSeries: once a Rollout that rolled out (phases, weights, checks,
// a duration, webhook calls) is deleted, the manager's registry has no series of it left, of
// any metric.
func TestDeletedRolloutLeavesNoSeries(t *testing.T) {
	t.Parallel()
	hooks := newHookServer(t)
	ro := canaryRollout(cp.Namespace(t))
	ro.Spec.Analysis.Webhooks = []trancheapi.Webhook{hookOf(hooks, "audit", trancheapi.WebhookEvent, "/audit")}
	e := startScenario(t, prom, exporter, ro)
	e.release(goodImage2)
	e.waitForPhase(trancheapi.PhaseSucceeded, time.Minute)
	// The webhook calls of the rollout are counted once they are made.
	require.Eventually(t, func() bool { return slicesContain(hooks.eventReasons(), "Promoted") }, 10*time.Second, 20*time.Millisecond)

	families := map[string]bool{}
	for _, s := range seriesOf(t, e.ns, ro.Name) {
		families[s.family] = true
	}
	for _, family := range []string{"tranche_rollout_info", "tranche_rollout_phase", "tranche_rollout_canary_weight",
		"tranche_rollout_duration_seconds", "tranche_analysis_checks_total", "tranche_analysis_value", "tranche_step_duration_seconds",
		"tranche_webhook_calls_total"} {
		assert.True(t, families[family], "the rollout made no %s series to forget", family)
	}

	require.NoError(t, cp.Client.Delete(context.Background(), e.ro))
	require.Eventually(t, func() bool {
		return apierrors.IsNotFound(cp.Client.Get(context.Background(), client.ObjectKeyFromObject(e.ro), &trancheapi.Rollout{}))
	}, 10*time.Second, 50*time.Millisecond, "the finalizer lets the Rollout go")
	assert.Empty(t, seriesOf(t, e.ns, ro.Name), "series of the deleted Rollout")
}

// series is one series of the registry, by its family and labels.
type series struct {
	family string
	labels string
}

func (s series) String() string { return s.family + s.labels }

// seriesOf is every series in the manager's registry with the labels namespace=ns and
// name=name, sorted.
func seriesOf(t *testing.T, ns, name string) []series {
	t.Helper()
	gathered, err := metrics.Registry.Gather()
	require.NoError(t, err)
	var found []series
	for _, family := range gathered {
		for _, m := range family.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["namespace"] == ns && labels["name"] == name {
				found = append(found, series{family: family.GetName(), labels: fmt.Sprint(labels)})
			}
		}
	}
	sort.Slice(found, func(i, j int) bool { return found[i].String() < found[j].String() })
	return found
}

// seriesIn is seriesOf in one family.
func seriesIn(t *testing.T, family, ns, name string) []series {
	t.Helper()
	var in []series
	for _, s := range seriesOf(t, ns, name) {
		if s.family == family {
			in = append(in, s)
		}
	}
	return in
}
