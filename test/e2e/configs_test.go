//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/stack"
)

// TestAConfigMapChangeIsRolledOutAndABadOneRolledBack releases by editing the ConfigMap the
// app's pods read, not the pod template: the demo app answers with the version its ConfigMap
// names and fails the share of requests it says. Each change is rolled out through Traefik,
// and what the clients are answered shows which configuration each version runs on.
func TestAConfigMapChangeIsRolledOutAndABadOneRolledBack(t *testing.T) {
	const app, host = "quote", "quote.e2e.test"
	ctx := context.Background()
	c := s.ControlPlane.Client
	config := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: app + "-config"},
		Data:       map[string]string{"version": "c1", "error-rate": "0"},
	}
	require.NoError(t, c.Create(ctx, config))
	t.Cleanup(func() { _ = c.Delete(context.Background(), config) })
	deployment := stack.App(namespace, app, "v1", "--version=$(QUOTE_VERSION)", "--error-rate=$(QUOTE_ERROR_RATE)")
	fromConfig := func(key string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: config.Name}, Key: key,
		}}
	}
	deployment.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{
		{Name: "QUOTE_VERSION", ValueFrom: fromConfig("version")},
		{Name: "QUOTE_ERROR_RATE", ValueFrom: fromConfig("error-rate")},
	}
	load := deployApp(t, stack.CanaryRollout(namespace, app, host, 6*time.Second, 3*time.Second), deployment, host)
	configure := func(version, errorRate string) func(context.Context) error {
		return func(ctx context.Context) error {
			cm := &corev1.ConfigMap{}
			if err := c.Get(ctx, client.ObjectKeyFromObject(config), cm); err != nil {
				return err
			}
			cm.Data = map[string]string{"version": version, "error-rate": errorRate}
			return c.Update(ctx, cm)
		}
	}

	good, ro := releaseBy(t, app, load, configure("c2", "0"))
	require.Equal(t, trancheapi.PhaseSucceeded, ro.Status.Phase, ro.Status.Message)
	whole := assertPromotedStepByStep(t, load, good, "c2")
	assert.Positive(t, whole.ByVersion["c1"], "the primary answered on the old configuration while the canary ran")

	bad, ro := releaseBy(t, app, load, configure("c3", "0.3"))
	require.Equal(t, trancheapi.PhaseFailed, ro.Status.Phase, ro.Status.Message)
	whole = stack.Between(bad[0], bad[len(bad)-1]).Clients
	assert.Positive(t, whole.ByVersion["c3"], "the canary ran on the new configuration")
	assert.Positive(t, whole.Failed, "the bad configuration failed requests")
	after := stack.Between(bad[len(bad)-3], bad[len(bad)-1]).Clients
	assert.Equal(t, map[string]int{"c2": after.Sent}, after.ByVersion, "after the rollback, the primary still runs on c2")
	copied := &corev1.ConfigMap{}
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: config.Name + trancheapi.PrimarySuffix}, copied))
	assert.Equal(t, map[string]string{"version": "c2", "error-rate": "0"}, copied.Data, "the rollback kept the primary's copy")
}
