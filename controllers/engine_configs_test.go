package controllers

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/harness"
)

// TestAConfigMapChangeIsRolledOut changes only the data of a ConfigMap the target's pods
// read: a canary starts, promotion gives the primary's copy the new data, an abort leaves it
// the old, and a ConfigMap opted out of tracking starts nothing.
func TestAConfigMapChangeIsRolledOut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ro := canaryRollout(cp.Namespace(t))
	ns := ro.Namespace
	settings := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "settings"}, Data: map[string]string{"greeting": "hello"}}
	flags := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "flags",
		Annotations: map[string]string{trancheapi.AnnotationConfigTracking: trancheapi.ConfigTrackingDisabled}}, Data: map[string]string{"beta": "off"}}
	require.NoError(t, cp.Client.Create(ctx, settings))
	require.NoError(t, cp.Client.Create(ctx, flags))
	target := harness.Deployment(ns, "podinfo", goodImage)
	target.Spec.Template.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{
		{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}},
		{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "flags"}}},
	}
	e := startScenarioWith(t, prom.URL(), exporter, ro, target)

	primary := e.deployment("podinfo-primary")
	assert.Equal(t, []string{"settings-primary", "flags"}, envFromNames(primary.Spec.Template.Spec),
		"the primary runs on its copy of the tracked ConfigMap and shares the opted-out one")
	assert.Equal(t, "hello", e.primaryConfig("settings").Data["greeting"])
	assert.True(t, metav1.IsControlledBy(e.primaryConfig("settings"), e.get()), "the copy goes with the Rollout")
	first := e.get().Status.StableRevision

	// New data alone is a new revision, rolled out and promoted to the copy.
	setData(t, ns, "settings", "greeting", "bonjour")
	got := e.waitForPhase(trancheapi.PhaseProgressing, 20*time.Second)
	assert.NotEqual(t, first, got.Status.CanaryRevision)
	got = e.waitForPhase(trancheapi.PhaseSucceeded, time.Minute)
	assert.Equal(t, got.Status.CanaryRevision, got.Status.StableRevision)
	assert.Equal(t, "bonjour", e.primaryConfig("settings").Data["greeting"], "promotion updates the copy")
	assert.Equal(t, got.Status.StableRevision, e.deployment("podinfo-primary").Spec.Template.Annotations[trancheapi.AnnotationRevision],
		"the primary's pods restart with the new data")

	// Aborted: the copy keeps the promoted data.
	setData(t, ns, "settings", "greeting", "broken")
	e.waitForPhase(trancheapi.PhaseProgressing, 20*time.Second)
	e.annotate(trancheapi.AnnotationAbort, "abort-1")
	e.waitForPhase(trancheapi.PhaseAborted, 20*time.Second)
	e.assertPrimaryOnly(goodImage)
	assert.Equal(t, "bonjour", e.primaryConfig("settings").Data["greeting"], "a rollback keeps the copy")

	// Back to the promoted data: the stable revision again, nothing to roll out. The
	// opted-out ConfigMap changes nothing either.
	setData(t, ns, "settings", "greeting", "bonjour")
	setData(t, ns, "flags", "beta", "on")
	require.Eventually(t, func() bool {
		st := e.get().Status
		return st.Target.Revision == got.Status.StableRevision
	}, 10*time.Second, 50*time.Millisecond, "the revision of the promoted data is the stable one")
	_, said := e.reconcileNow()
	assert.Empty(t, said, "nothing to roll out")
	assert.Equal(t, trancheapi.PhaseAborted, e.get().Status.Phase)
}

func envFromNames(spec corev1.PodSpec) []string {
	var names []string
	for _, from := range spec.Containers[0].EnvFrom {
		names = append(names, from.ConfigMapRef.Name)
	}
	return names
}

func (e *engineEnv) primaryConfig(name string) *corev1.ConfigMap {
	e.t.Helper()
	cm := &corev1.ConfigMap{}
	require.NoError(e.t, cp.Client.Get(context.Background(), types.NamespacedName{Namespace: e.ns, Name: name + trancheapi.PrimarySuffix}, cm))
	return cm
}

func setData(t *testing.T, ns, name, key, value string) {
	t.Helper()
	cm := &corev1.ConfigMap{}
	require.NoError(t, cp.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, cm))
	patch := client.MergeFrom(cm.DeepCopy())
	cm.Data[key] = value
	require.NoError(t, cp.Client.Patch(context.Background(), cm, patch))
}

// TestAConfigMapTwoRolloutsTrackIsRefusedByTheSecond: the primary's copy has one owner, so
// the second Rollout whose target uses the same ConfigMap stalls, saying whose copy it is
// and what to do, and its target keeps serving as it is.
func TestAConfigMapTwoRolloutsTrackIsRefusedByTheSecond(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ro := canaryRollout(cp.Namespace(t))
	ns := ro.Namespace
	require.NoError(t, cp.Client.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shared"}, Data: map[string]string{"a": "1"}}))
	usingShared := func(name string) *appsv1.Deployment {
		d := harness.Deployment(ns, name, goodImage)
		d.Spec.Template.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{
			{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "shared"}}},
		}
		return d
	}
	startScenarioWith(t, prom.URL(), exporter, ro, usingShared("podinfo"))

	second := canaryRollout(ns)
	second.Name, second.Spec.TargetRef.Name = "cart", "cart"
	require.NoError(t, cp.Client.Create(ctx, usingShared("cart")))
	require.NoError(t, cp.Client.Create(ctx, second))
	stalled := waitForCondition(t, second, trancheapi.ConditionStalled, metav1.ConditionTrue, trancheapi.ReasonInvalidSpec)
	assert.Contains(t, stalled.Message, `ConfigMap "shared-primary" is the primary's copy for the Rollout "podinfo"`)
	assert.Contains(t, stalled.Message, trancheapi.AnnotationConfigTracking)
	waitForEvent(t, second, trancheapi.ReasonInvalidSpec)
	err := cp.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "cart-primary"}, &appsv1.Deployment{})
	assert.True(t, apierrors.IsNotFound(err), "no primary is made on a copy that is not the Rollout's: %v", err)
}
