package controllers

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/harness"
)

// everyWayToNameConfig is a pod spec naming ConfigMaps and Secrets in every place a pod can.
func everyWayToNameConfig() corev1.PodSpec {
	cm := func(name string) corev1.LocalObjectReference { return corev1.LocalObjectReference{Name: name} }
	container := corev1.Container{
		Name: "app",
		Env: []corev1.EnvVar{
			{Name: "A", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: cm("env-cm"), Key: "a"}}},
			{Name: "B", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: cm("env-secret"), Key: "b"}}},
			{Name: "C", Value: "plain"},
		},
		EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: cm("from-cm")}},
			{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: cm("from-secret")}}},
	}
	return corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init", EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: cm("env-cm")}}}}},
		Containers:     []corev1.Container{container},
		Volumes: []corev1.Volume{
			{Name: "v1", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: cm("vol-cm")}}},
			{Name: "v2", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "vol-secret"}}},
			{Name: "v3", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: cm("proj-cm")}},
				{Secret: &corev1.SecretProjection{LocalObjectReference: cm("proj-secret")}},
			}}}},
			{Name: "v4", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		},
	}
}

func TestConfigRefsFindsEveryPlaceAPodNamesConfig(t *testing.T) {
	spec := everyWayToNameConfig()
	var got []string
	for _, ref := range configRefs(&spec) {
		got = append(got, ref.String())
	}
	assert.Equal(t, []string{"ConfigMap/env-cm", "ConfigMap/from-cm", "ConfigMap/proj-cm", "ConfigMap/vol-cm",
		"Secret/env-secret", "Secret/from-secret", "Secret/proj-secret", "Secret/vol-secret"}, got, "each once, ConfigMaps first")
}

func TestWithPrimaryConfigsRenamesOnlyTrackedConfig(t *testing.T) {
	spec := everyWayToNameConfig()
	tracked := map[configRef]configData{{name: "env-cm"}: {}, {secret: true, name: "vol-secret"}: {}, {name: "proj-cm"}: {}}
	withPrimaryConfigs(&spec, tracked)
	var got []string
	for _, ref := range configRefs(&spec) {
		got = append(got, ref.String())
	}
	assert.Equal(t, []string{"ConfigMap/env-cm-primary", "ConfigMap/from-cm", "ConfigMap/proj-cm-primary", "ConfigMap/vol-cm",
		"Secret/env-secret", "Secret/from-secret", "Secret/proj-secret", "Secret/vol-secret-primary"}, got)
	assert.Equal(t, "env-cm-primary", spec.InitContainers[0].EnvFrom[0].ConfigMapRef.Name, "init containers too")
}

func TestRevisionCoversTrackedData(t *testing.T) {
	template := harness.Deployment("shop", "podinfo", "podinfo:1").Spec.Template
	with := func(value string) map[configRef]configData {
		return map[configRef]configData{{name: "settings"}: {"greeting": []byte(value)}}
	}
	assert.Equal(t, trancheapi.TemplateRevision(template), revisionOf(template, nil), "without tracked config, the template's revision")
	assert.NotEqual(t, revisionOf(template, with("hello")), revisionOf(template, with("bonjour")), "new data, new revision")
	assert.Equal(t, revisionOf(template, with("hello")), revisionOf(template, with("hello")), "the same data, the same revision")
	assert.NotEqual(t, revisionOf(template, nil), revisionOf(template, with("hello")))
	split := map[configRef]configData{{name: "settings"}: {"a": []byte("bc")}}
	joined := map[configRef]configData{{name: "settings"}: {"ab": []byte("c")}}
	assert.NotEqual(t, revisionOf(template, split), revisionOf(template, joined), "keys and values do not run together")
	secret := map[configRef]configData{{secret: true, name: "settings"}: {"greeting": []byte("hello")}}
	assert.NotEqual(t, revisionOf(template, with("hello")), revisionOf(template, secret), "a Secret is not the ConfigMap of its name")
	assert.Len(t, revisionOf(template, with("hello")), 10)
}

// With NoSecretCopies the Secrets a target's pods use are not part of its revision, and not
// read: the primary shares them; ConfigMaps are tracked as ever.
func TestWithoutSecretCopiesOnlyConfigMapsAreTracked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := cp.Namespace(t)
	require.NoError(t, cp.Client.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "from-cm"}, Data: map[string]string{"a": "1"}}))
	require.NoError(t, cp.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "from-secret"}, StringData: map[string]string{"b": "2"}}))
	target := harness.Deployment(ns, "podinfo", goodImage)
	target.Spec.Template.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{
		{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "from-cm"}}},
		{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "from-secret"}}},
	}

	for _, tc := range []struct {
		noSecretCopies bool
		want           []configRef
	}{
		{false, []configRef{{name: "from-cm"}, {secret: true, name: "from-secret"}}},
		{true, []configRef{{name: "from-cm"}}},
	} {
		r := &RolloutReconciler{Client: cp.Client, NoSecretCopies: tc.noSecretCopies}
		tracked, objects, err := r.trackedConfigs(ctx, target)
		require.NoError(t, err)
		assert.Equal(t, tc.want, slices.SortedFunc(maps.Keys(tracked), compareConfigRefs), "NoSecretCopies %v", tc.noSecretCopies)
		assert.Len(t, objects, len(tc.want), "what is copied for the primary")
		spec := target.Spec.Template.Spec.DeepCopy()
		withPrimaryConfigs(spec, tracked)
		assert.Equal(t, "from-cm-primary", spec.Containers[0].EnvFrom[0].ConfigMapRef.Name)
		assert.Equal(t, map[bool]string{false: "from-secret-primary", true: "from-secret"}[tc.noSecretCopies], spec.Containers[0].EnvFrom[1].SecretRef.Name,
			"the primary's pods name the Secret itself without copies")
	}
}
