package controllers

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/harness"
)

func TestRevisionFollowsThePodTemplate(t *testing.T) {
	a := harness.Deployment("shop", "podinfo", "podinfo:1")
	b := harness.Deployment("shop", "podinfo", "podinfo:1")
	b.Spec.Replicas = ptr.To[int32](7) // not part of the template
	assert.Equal(t, trancheapi.TemplateRevision(a.Spec.Template), trancheapi.TemplateRevision(b.Spec.Template))
	assert.Len(t, trancheapi.TemplateRevision(a.Spec.Template), 10)

	c := harness.Deployment("shop", "podinfo", "podinfo:2")
	assert.NotEqual(t, trancheapi.TemplateRevision(a.Spec.Template), trancheapi.TemplateRevision(c.Spec.Template))
	d := harness.Deployment("shop", "podinfo", "podinfo:1")
	d.Spec.Template.Annotations = map[string]string{"restartedAt": "now"}
	assert.NotEqual(t, trancheapi.TemplateRevision(a.Spec.Template), trancheapi.TemplateRevision(d.Spec.Template), "a restart is a new revision")
}

func TestDesiredPrimary(t *testing.T) {
	ro := &trancheapi.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}}
	target := harness.Deployment("shop", "podinfo", "podinfo:1")
	target.Spec.Template.Labels["tier"] = "frontend"

	obj, err := desiredPrimary(ro, target, 3, nil)
	require.NoError(t, err)
	primary := obj.(*appsv1.Deployment)
	assert.Equal(t, "podinfo-primary", primary.Name)
	assert.Equal(t, int32(3), *primary.Spec.Replicas)
	assert.Equal(t, map[string]string{"app": "podinfo-primary"}, primary.Spec.Selector.MatchLabels)
	assert.Equal(t, map[string]string{"app": "podinfo-primary", "tier": "frontend"}, primary.Spec.Template.Labels,
		"the selector labels are renamed so the canary Service never selects the primary's pods; others kept")
	assert.Equal(t, trancheapi.TemplateRevision(target.Spec.Template), primary.Annotations[trancheapi.AnnotationRevision])
	assert.Equal(t, "podinfo", target.Spec.Template.Labels["app"], "the target is not changed")
	assert.Equal(t, "web", primary.Labels[trancheapi.LabelRollout])

	target.Spec.Selector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpExists}}
	_, err = desiredPrimary(ro, target, 3, nil)
	require.ErrorContains(t, err, "must select its pods with matchLabels only")
}

func TestADaemonSetsPrimaryIsADaemonSetThatRunsEverywhere(t *testing.T) {
	ro := &trancheapi.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "agent"}}
	target := harness.DaemonSet("shop", "agent", "agent:1")
	target.Spec.Template.Spec.NodeSelector = map[string]string{"kubernetes.io/os": "linux"}
	target.Spec.MinReadySeconds = 5
	scale(target, 0)
	require.True(t, parked(target))

	obj, err := desiredPrimary(ro, target, 0, nil)
	require.NoError(t, err)
	primary, ok := obj.(*appsv1.DaemonSet)
	require.True(t, ok, "the primary of a DaemonSet is a DaemonSet, not a %T", obj)
	assert.Equal(t, "agent-primary", primary.Name)
	assert.Equal(t, map[string]string{"kubernetes.io/os": "linux"}, primary.Spec.Template.Spec.NodeSelector,
		"the primary runs where the owner said, never parked")
	assert.Equal(t, map[string]string{"app": "agent-primary"}, primary.Spec.Selector.MatchLabels)
	assert.Equal(t, int32(5), primary.Spec.MinReadySeconds)
	assert.Contains(t, target.Spec.Template.Spec.NodeSelector, trancheapi.NodeSelectorParked, "the target is not changed")
	assert.Equal(t, trancheapi.TemplateRevision(target.Spec.Template), primary.Annotations[trancheapi.AnnotationRevision])
}

func TestParkingADaemonSetIsNotANewRevision(t *testing.T) {
	for name, selector := range map[string]map[string]string{"no nodeSelector": nil, "the owner's nodeSelector": {"disk": "ssd"}} {
		t.Run(name, func(t *testing.T) {
			ds := harness.DaemonSet("shop", "agent", "agent:1")
			ds.Spec.Template.Spec.NodeSelector = selector
			before := trancheapi.TemplateRevision(ds.Spec.Template)
			scale(ds, 0)
			assert.True(t, parked(ds))
			assert.Equal(t, int32(0), replicasOf(ds), "a parked DaemonSet runs nothing, whatever its status says yet")
			assert.Equal(t, before, trancheapi.TemplateRevision(ds.Spec.Template))
			scale(ds, 3)
			assert.False(t, parked(ds))
			assert.Equal(t, selector, ds.Spec.Template.Spec.NodeSelector, "running again gives the owner's selector back as it was")
		})
	}
}

func TestThePrimarysSelectorsSelectThePrimarysPods(t *testing.T) {
	ro := &trancheapi.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}}
	target := harness.Deployment("shop", "podinfo", "podinfo:1")
	own := func() *metav1.LabelSelector {
		return &metav1.LabelSelector{
			MatchLabels: map[string]string{"app": "podinfo", "zone": "eu"},
			MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"podinfo", "cache"}},
				{Key: "app", Operator: metav1.LabelSelectorOpExists},
			},
		}
	}
	other := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "database"}}
	target.Spec.Template.Spec.Affinity = &corev1.Affinity{
		PodAntiAffinity: &corev1.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution:  []corev1.PodAffinityTerm{{LabelSelector: own(), TopologyKey: "kubernetes.io/hostname"}},
			PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 1, PodAffinityTerm: corev1.PodAffinityTerm{LabelSelector: own()}}},
		},
		PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{LabelSelector: other.DeepCopy()}}},
	}
	target.Spec.Template.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, LabelSelector: own()}}

	obj, err := desiredPrimary(ro, target, 1, nil)
	require.NoError(t, err)
	primary := obj.(*appsv1.Deployment)
	want := &metav1.LabelSelector{
		MatchLabels: map[string]string{"app": "podinfo-primary", "zone": "eu"},
		MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"podinfo-primary", "cache"}},
			{Key: "app", Operator: metav1.LabelSelectorOpExists},
		},
	}
	spec := primary.Spec.Template.Spec
	assert.Equal(t, want, spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].LabelSelector)
	assert.Equal(t, want, spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.LabelSelector)
	assert.Equal(t, want, spec.TopologySpreadConstraints[0].LabelSelector)
	assert.Equal(t, other, spec.Affinity.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].LabelSelector, "a selector of other pods is kept")
	assert.Equal(t, own(), target.Spec.Template.Spec.TopologySpreadConstraints[0].LabelSelector, "the target is not changed")
}

func TestWorkloadReadiness(t *testing.T) {
	ready := func(d *appsv1.Deployment) *appsv1.Deployment {
		n := *d.Spec.Replicas
		d.Generation, d.Status = 1, appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n}
		return d
	}
	base := func(replicas int32) *appsv1.Deployment {
		d := harness.Deployment("shop", "podinfo", "podinfo:1")
		d.Spec.Replicas = ptr.To(replicas)
		return d
	}
	stale := ready(base(2))
	stale.Generation = 2 // the Deployment controller has not seen the last change yet
	unavailable := ready(base(2))
	unavailable.Status.AvailableReplicas, unavailable.Status.ReadyReplicas = 1, 1

	for name, tc := range map[string]struct {
		d    *appsv1.Deployment
		want bool
	}{
		"every replica ready":     {ready(base(2)), true},
		"scaled to zero":          {ready(base(0)), false},
		"change not yet observed": {stale, false},
		"one replica not ready":   {unavailable, false},
		"no status at all":        {base(2), false},
	} {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, workloadOf(tc.d, false).Ready)
		})
	}
}

func TestDaemonSetReadiness(t *testing.T) {
	ready := func(nodes int32) *appsv1.DaemonSet {
		ds := harness.DaemonSet("shop", "agent", "agent:1")
		ds.Generation, ds.Status = 1, appsv1.DaemonSetStatus{ObservedGeneration: 1, DesiredNumberScheduled: nodes,
			CurrentNumberScheduled: nodes, UpdatedNumberScheduled: nodes, NumberReady: nodes, NumberAvailable: nodes}
		return ds
	}
	parkedOne := ready(3)
	scale(parkedOne, 0)
	rolling := ready(3)
	rolling.Status.UpdatedNumberScheduled = 2
	notReady := ready(3)
	notReady.Status.NumberReady, notReady.Status.NumberAvailable = 2, 2

	for name, tc := range map[string]struct {
		ds       *appsv1.DaemonSet
		replicas int32
		want     bool
	}{
		"on every node and ready": {ready(3), 3, true},
		"no node to run on":       {ready(0), 0, false},
		"parked":                  {parkedOne, 0, false},
		"one node not updated":    {rolling, 3, false},
		"one pod not ready":       {notReady, 3, false},
	} {
		t.Run(name, func(t *testing.T) {
			w := workloadOf(tc.ds, false)
			assert.Equal(t, tc.replicas, w.Replicas)
			assert.Equal(t, tc.want, w.Ready)
		})
	}
}

func TestDeclaredReplicas(t *testing.T) {
	target := func(replicas *int32, scaledTo string) *appsv1.Deployment {
		d := harness.Deployment("shop", "podinfo", "podinfo:1")
		d.Spec.Replicas = replicas
		if scaledTo != "" {
			d.Annotations = map[string]string{trancheapi.AnnotationScaledTo: scaledTo}
		}
		return d
	}
	cases := []struct {
		name     string
		target   *appsv1.Deployment
		recorded int32
		want     int32
	}{
		{"a new target's count is its owner's", target(ptr.To[int32](3), ""), 0, 3},
		{"no count is the API server's default", target(nil, ""), 0, 1},
		{"the count Tranche set is not the owner's", target(ptr.To[int32](0), "0"), 3, 3},
		{"a canary scaled up by Tranche keeps the recorded count", target(ptr.To[int32](3), "3"), 4, 4},
		{"a count set over Tranche's is the owner's", target(ptr.To[int32](5), "0"), 3, 5},
		{"zero is never the owner's", target(ptr.To[int32](0), "3"), 3, 3},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, declaredReplicas(tc.target, tc.recorded), tc.name)
	}
}
