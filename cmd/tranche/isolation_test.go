package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/harness"
)

// credentialedTemplate makes a MetricTemplate in ns whose Prometheus needs the Secret it
// names, and the Secret.
func credentialedTemplate(t *testing.T, ns, address string) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, cp.Client.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "prometheus-credentials"},
		StringData: map[string]string{"token": "planted-token"},
	}))
	require.NoError(t, cp.Client.Create(ctx, &trancheapi.MetricTemplate{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "errors"},
		Spec: trancheapi.MetricTemplateSpec{Query: "vector(0)", Prometheus: &trancheapi.PrometheusSource{
			Address: address, SecretRef: &trancheapi.LocalObjectReference{Name: "prometheus-credentials"},
		}},
	}))
}

// analysed is podinfo's blue/green Rollout in ns with an analysis on the MetricTemplate
// errors of templateNS.
func analysed(t *testing.T, ns, templateNS string) *trancheapi.Rollout {
	t.Helper()
	require.NoError(t, cp.Client.Create(context.Background(), harness.Deployment(ns, "podinfo", "podinfo:6.0.0")))
	ro := blueGreen(ns, 2*time.Second)
	ro.Spec.Analysis = &trancheapi.Analysis{Interval: &metav1.Duration{Duration: time.Second}, Metrics: []trancheapi.Metric{
		{Name: "errors", TemplateRef: &trancheapi.NamespacedObjectReference{Namespace: templateNS, Name: "errors"}, Max: ptr.To(1.0)},
	}}
	return ro
}

// waitForStalled waits until the Rollout is Stalled for the reason, and returns the message.
func waitForStalled(t *testing.T, ro *trancheapi.Rollout, reason string) string {
	t.Helper()
	var message string
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		got := &trancheapi.Rollout{}
		require.NoError(c, cp.Client.Get(context.Background(), client.ObjectKeyFromObject(ro), got))
		cond := apimeta.FindStatusCondition(got.Status.Conditions, trancheapi.ConditionStalled)
		require.NotNil(c, cond)
		require.Equal(c, reason, cond.Reason, cond.Message)
		message = cond.Message
	}, 30*time.Second, 100*time.Millisecond)
	return message
}

// secretReads is the manager's reads of the Secret prometheus-credentials of ns.
func secretReads(t *testing.T, ns string) int {
	t.Helper()
	events, err := cp.Audit("tranche/")
	require.NoError(t, err)
	n := 0
	for _, e := range events {
		if e.ObjectRef.Resource == "secrets" && e.ObjectRef.Namespace == ns && e.ObjectRef.Name == "prometheus-credentials" {
			n++
		}
	}
	return n
}

// With --no-cross-namespace-refs, a Rollout that refers to another team's MetricTemplate is
// Stalled with a message naming the flag, and the manager never reads that template's
// Secret; the same Rollout's reference to its own team's template has the Secret read.
// --allowed-webhook-hosts stalls a Rollout whose webhook or Prometheus names another host.
func TestIsolationFlags(t *testing.T) {
	ctx := context.Background()
	team, other, third := cp.Namespace(t), cp.Namespace(t), cp.Namespace(t)
	startManager(t, "--leader-elect=true", "--leader-election-namespace="+team, "--namespaces="+team+","+other+","+third,
		"--no-cross-namespace-refs", "--allowed-webhook-hosts=127.0.0.1,*.example.com")

	credentialedTemplate(t, other, "http://127.0.0.1:1")
	ro := analysed(t, team, other)
	require.NoError(t, cp.Client.Create(ctx, ro))
	message := waitForStalled(t, ro, trancheapi.ReasonReferenceRefused)
	assert.Contains(t, message, `spec.analysis.metrics[0].templateRef refers to errors in namespace "`+other+`", and this controller runs with --no-cross-namespace-refs`)

	// The same Rollout with its own team's template: resolved, released, and its analysis
	// reads the template's Secret. The other team's never was.
	credentialedTemplate(t, team, "http://127.0.0.1:1")
	require.NoError(t, cp.Client.Get(ctx, client.ObjectKeyFromObject(ro), ro))
	ro.Spec.Analysis.Metrics[0].TemplateRef.Namespace = ""
	require.NoError(t, cp.Client.Update(ctx, ro))
	waitForReady(t, ro, metav1.ConditionTrue)
	require.NoError(t, harness.SetImage(ctx, cp.Client, team, "podinfo", "podinfo:6.1.0"))
	require.Eventually(t, func() bool { return secretReads(t, team) > 0 }, 30*time.Second, 100*time.Millisecond,
		"the analysis never read its own template's Secret: the audit would not see a read")
	assert.Zero(t, secretReads(t, other), "the manager read the other team's Secret")

	// A Prometheus on a host the list does not have.
	require.NoError(t, cp.Client.Create(ctx, &trancheapi.MetricTemplate{
		ObjectMeta: metav1.ObjectMeta{Namespace: third, Name: "errors"},
		Spec:       trancheapi.MetricTemplateSpec{Query: "vector(0)", Prometheus: &trancheapi.PrometheusSource{Address: "http://prometheus.elsewhere.net:9090"}},
	}))
	elsewhere := analysed(t, third, "")
	require.NoError(t, cp.Client.Create(ctx, elsewhere))
	message = waitForStalled(t, elsewhere, trancheapi.ReasonReferenceRefused)
	assert.Contains(t, message, "its Prometheus: the host prometheus.elsewhere.net is not among the hosts this controller may call (--allowed-webhook-hosts=127.0.0.1,*.example.com)")

	// A webhook on such a host.
	require.NoError(t, cp.Client.Get(ctx, client.ObjectKeyFromObject(elsewhere), elsewhere))
	elsewhere.Spec.Analysis.Metrics = nil
	elsewhere.Spec.Analysis.Webhooks = []trancheapi.Webhook{{Name: "smoke", Type: trancheapi.WebhookPreRollout, URL: "http://169.254.169.254/latest/meta-data"}}
	require.NoError(t, cp.Client.Update(ctx, elsewhere))
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		got := &trancheapi.Rollout{}
		require.NoError(c, cp.Client.Get(ctx, client.ObjectKeyFromObject(elsewhere), got))
		cond := apimeta.FindStatusCondition(got.Status.Conditions, trancheapi.ConditionStalled)
		require.NotNil(c, cond)
		require.Contains(c, cond.Message, "webhook smoke: the host address 169.254.169.254 is not among the hosts")
	}, 30*time.Second, 100*time.Millisecond)
}

// With --namespaces, a reference into a namespace the manager does not watch stalls the
// Rollout with a message saying so, rather than failing every reconcile on the cache.
func TestAReferenceIntoAnUnwatchedNamespaceStalls(t *testing.T) {
	ctx := context.Background()
	ns, unwatched := cp.Namespace(t), cp.Namespace(t)
	startManager(t, "--leader-elect=true", "--leader-election-namespace="+ns, "--namespaces="+ns)
	credentialedTemplate(t, unwatched, "http://127.0.0.1:1")
	ro := analysed(t, ns, unwatched)
	require.NoError(t, cp.Client.Create(ctx, ro))
	message := waitForStalled(t, ro, trancheapi.ReasonReferenceRefused)
	assert.Contains(t, message, `refers to errors in namespace "`+unwatched+`", which this controller does not watch (--namespaces=`+ns+`)`)
}
