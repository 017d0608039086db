package controllers

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	eventsv1 "k8s.io/api/events/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/harness"
)

func TestRolloutWaitsForItsTarget(t *testing.T) {
	ctx := context.Background()
	ns := cp.Namespace(t)
	ro := newRollout(ns, "podinfo")
	require.NoError(t, cp.Client.Create(ctx, ro))

	ready := waitForCondition(t, ro, trancheapi.ConditionReady, metav1.ConditionFalse)
	assert.Equal(t, trancheapi.ReasonTargetNotFound, ready.Reason)
	assert.Contains(t, ready.Message, `Deployment "podinfo" not found in namespace "`+ns+`"`)
	stalled := waitForCondition(t, ro, trancheapi.ConditionStalled, metav1.ConditionTrue)
	assert.Equal(t, trancheapi.ReasonTargetNotFound, stalled.Reason)
	waitForEvent(t, ro, trancheapi.ReasonTargetNotFound)

	require.NoError(t, cp.Client.Create(ctx, newDeployment(ns, "podinfo")))
	ready = waitForCondition(t, ro, trancheapi.ConditionReady, metav1.ConditionTrue)
	assert.Equal(t, string(trancheapi.PhaseInitialized), ready.Reason)
	assert.Contains(t, ready.Message, "serves all traffic")
	require.NoError(t, cp.Client.Get(ctx, client.ObjectKeyFromObject(ro), ro))
	assert.Nil(t, apimeta.FindStatusCondition(ro.Status.Conditions, trancheapi.ConditionStalled), "Stalled is cleared")
	assert.Equal(t, ro.Generation, ro.Status.ObservedGeneration)
}

func TestRolloutWaitsForTemplatesAndNotificationProviders(t *testing.T) {
	ctx := context.Background()
	ns := cp.Namespace(t)
	require.NoError(t, cp.Client.Create(ctx, newDeployment(ns, "podinfo")))
	ro := newRollout(ns, "podinfo")
	ro.Spec.Analysis = &trancheapi.Analysis{Metrics: []trancheapi.Metric{
		{Name: "latency", TemplateRef: &trancheapi.NamespacedObjectReference{Name: "latency", Namespace: ns}, Max: ptr.To(500.0)},
		{Name: "errors", TemplateRef: &trancheapi.NamespacedObjectReference{Name: "errors"}, Max: ptr.To(1.0)},
	}}
	ro.Spec.Notify = []trancheapi.NotificationRef{{ProviderRef: trancheapi.NamespacedObjectReference{Name: "slack"}}}
	require.NoError(t, cp.Client.Create(ctx, &trancheapi.MetricTemplate{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "latency"},
		Spec:       trancheapi.MetricTemplateSpec{Query: "histogram_quantile(0.99, rate(latency_bucket[1m]))"},
	}))
	require.NoError(t, cp.Client.Create(ctx, ro))

	ready := waitForCondition(t, ro, trancheapi.ConditionReady, metav1.ConditionFalse, trancheapi.ReasonTemplateNotFound)
	assert.Contains(t, ready.Message, `MetricTemplate "`+ns+`/errors" (spec.analysis.metrics[1].templateRef) not found`)

	require.NoError(t, cp.Client.Create(ctx, &trancheapi.MetricTemplate{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "errors"},
		Spec:       trancheapi.MetricTemplateSpec{Query: "sum(rate(errors_total[1m]))"},
	}))
	ready = waitForCondition(t, ro, trancheapi.ConditionReady, metav1.ConditionFalse, trancheapi.ReasonProviderNotFound)
	assert.Contains(t, ready.Message, `NotificationProvider "`+ns+`/slack" (spec.notify[0].providerRef) not found`)

	require.NoError(t, cp.Client.Create(ctx, &trancheapi.NotificationProvider{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "slack"},
		Spec: trancheapi.NotificationProviderSpec{
			Type: trancheapi.NotificationSlack, SecretRef: trancheapi.LocalObjectReference{Name: "slack"},
		},
	}))
	waitForCondition(t, ro, trancheapi.ConditionReady, metav1.ConditionTrue)
}

func TestATemplateThatDoesNotRenderStallsTheRollout(t *testing.T) {
	ctx := context.Background()
	ns := cp.Namespace(t)
	require.NoError(t, cp.Client.Create(ctx, newDeployment(ns, "podinfo")))
	tmpl := &trancheapi.MetricTemplate{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "errors"},
		// A Threshold metric's totalQuery is not used: only its query must render.
		Spec: trancheapi.MetricTemplateSpec{Query: `sum(rate(errors_total{pod=~"{{ .Pod }}"}[1m]))`, TotalQuery: `{{ .Window`},
	}
	require.NoError(t, cp.Client.Create(ctx, tmpl))
	ro := newRollout(ns, "podinfo")
	ro.Spec.Analysis = &trancheapi.Analysis{Metrics: []trancheapi.Metric{
		{Name: "errors", TemplateRef: &trancheapi.NamespacedObjectReference{Name: "errors"}, Max: ptr.To(1.0)},
	}}
	require.NoError(t, cp.Client.Create(ctx, ro))

	stalled := waitForCondition(t, ro, trancheapi.ConditionStalled, metav1.ConditionTrue, trancheapi.ReasonTemplateInvalid)
	assert.Contains(t, stalled.Message, `MetricTemplate "`+ns+`/errors" (spec.analysis.metrics[0].templateRef): spec.query does not render`)
	assert.Contains(t, stalled.Message, "Pod", "the parse error names the variable there is none of")
	waitForEvent(t, ro, trancheapi.ReasonTemplateInvalid)

	require.NoError(t, cp.Client.Get(ctx, client.ObjectKeyFromObject(tmpl), tmpl))
	tmpl.Spec.Query = `sum(rate(errors_total{namespace="{{ .Namespace }}"}[1m]))`
	require.NoError(t, cp.Client.Update(ctx, tmpl))
	waitForCondition(t, ro, trancheapi.ConditionReady, metav1.ConditionTrue)
}

func TestRolloutNoticesItsTargetDeleted(t *testing.T) {
	ctx := context.Background()
	ns := cp.Namespace(t)
	target := newDeployment(ns, "podinfo")
	require.NoError(t, cp.Client.Create(ctx, target))
	ro := newRollout(ns, "podinfo")
	require.NoError(t, cp.Client.Create(ctx, ro))
	waitForCondition(t, ro, trancheapi.ConditionReady, metav1.ConditionTrue)

	require.NoError(t, cp.Client.Delete(ctx, target))
	waitForCondition(t, ro, trancheapi.ConditionReady, metav1.ConditionFalse, trancheapi.ReasonTargetNotFound)
}

func newRollout(ns, target string) *trancheapi.Rollout {
	return &trancheapi.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: target},
		Spec: trancheapi.RolloutSpec{
			TargetRef: trancheapi.TargetRef{Kind: "Deployment", Name: target},
			Service:   trancheapi.ServiceSpec{Port: 80},
			Provider:  trancheapi.Provider{Kubernetes: &trancheapi.KubernetesProvider{}},
		},
	}
}

func newDeployment(ns, name string) *appsv1.Deployment {
	return harness.Deployment(ns, name, "podinfo:6.0.0")
}

// waitForCondition waits until the Rollout has the condition with the status (and reason,
// when given) and returns it.
func waitForCondition(t *testing.T, ro *trancheapi.Rollout, kind string, status metav1.ConditionStatus, reason ...string) metav1.Condition {
	t.Helper()
	var found metav1.Condition
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		got := &trancheapi.Rollout{}
		require.NoError(c, cp.Client.Get(context.Background(), client.ObjectKeyFromObject(ro), got))
		cond := apimeta.FindStatusCondition(got.Status.Conditions, kind)
		require.NotNil(c, cond, "condition %s not set", kind)
		require.Equal(c, status, cond.Status, "%s: %s", cond.Reason, cond.Message)
		if len(reason) > 0 {
			require.Equal(c, reason[0], cond.Reason, cond.Message)
		}
		found = *cond
	}, 20*time.Second, 50*time.Millisecond)
	return found
}

// waitForEvent waits until an event with the reason is recorded about the object.
func waitForEvent(t *testing.T, obj client.Object, reason string) {
	t.Helper()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		var list eventsv1.EventList
		require.NoError(c, cp.Client.List(context.Background(), &list, client.InNamespace(obj.GetNamespace())))
		for _, e := range list.Items {
			if e.Regarding.Name == obj.GetName() && e.Reason == reason {
				return
			}
		}
		assert.Fail(c, "no event", "reason %s about %s", reason, obj.GetName())
	}, 20*time.Second, 100*time.Millisecond)
}

// A step the API accepts but the provider cannot route (Gateway API matches one cookie per
// match) stalls the rollout with the provider's message, and traffic stays on the primary.
func TestAStepTheProviderCannotRouteStalls(t *testing.T) {
	ctx := context.Background()
	ns := cp.Namespace(t)
	require.NoError(t, cp.Client.Create(ctx, newDeployment(ns, "podinfo")))
	ro := newRollout(ns, "podinfo")
	ro.Spec.Provider = trancheapi.Provider{GatewayAPI: &trancheapi.GatewayAPIProvider{ParentRefs: []trancheapi.ParentReference{{Name: "public"}}}}
	ro.Spec.Steps = []trancheapi.Step{
		{Match: []trancheapi.HTTPMatch{{Cookies: []trancheapi.StringMatch{{Name: "a", Value: "1"}, {Name: "b", Value: "2"}}}}},
		{Weight: ptr.To[int32](100)},
	}
	require.NoError(t, cp.Client.Create(ctx, ro))
	waitForCondition(t, ro, trancheapi.ConditionReady, metav1.ConditionTrue)

	require.NoError(t, retryUpdate(client.ObjectKey{Namespace: ns, Name: "podinfo"}, func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers[0].Image = "podinfo:6.0.1"
	}))
	stalled := waitForCondition(t, ro, trancheapi.ConditionStalled, metav1.ConditionTrue, trancheapi.ReasonInvalidSpec)
	assert.Contains(t, stalled.Message, "the gatewayAPI provider matches at most one cookie per match")
	waitForEvent(t, ro, trancheapi.ReasonInvalidSpec)
	weight, ok := harness.RoutedCanaryWeight(ctx, cp.Client, ns, ro.Name)
	assert.True(t, ok)
	assert.Zero(t, weight, "traffic stays on the primary")
}
