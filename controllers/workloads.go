package controllers

import (
	"fmt"
	"strconv"

	"github.com/argoproj/argo-cd/gitops-engine/v3/pkg/health"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/controllers/planner"
	"github.com/tranche-dev/tranche/providers"
)

// primarySelector derives the primary's labels from the target's selector, each value ending
// in trancheapi.PrimarySuffix: the primary's pods must never match the target's selector, or
// the canary Service would send traffic to them. Only matchLabels can be rewritten; a
// selector with matchExpressions is refused.
func primarySelector(target client.Object) (map[string]string, error) {
	sel := podSelector(target)
	if sel == nil || len(sel.MatchLabels) == 0 || len(sel.MatchExpressions) > 0 {
		return nil, fmt.Errorf("the target %s %q must select its pods with matchLabels only", workloadKind(target), target.GetName())
	}
	labels := make(map[string]string, len(sel.MatchLabels))
	for k, v := range sel.MatchLabels {
		labels[k] = v + trancheapi.PrimarySuffix
	}
	return labels, nil
}

// desiredPrimary is the primary for a target, of the target's kind: the target's pod
// template with the primary's labels and the primary's copies of the tracked configuration,
// the given replicas, and the target's revision in an annotation. With tracked configuration
// the revision is on the pod template too, so that new configuration alone rolls the
// primary's pods (an environment variable is read only when a container starts).
func desiredPrimary(ro *trancheapi.Rollout, target client.Object, replicas int32, configs map[configRef]configData) (client.Object, error) {
	labels, err := primarySelector(target)
	if err != nil {
		return nil, err
	}
	template := *podTemplate(target).DeepCopy()
	if template.Labels == nil {
		template.Labels = map[string]string{}
	}
	for k, v := range labels {
		template.Labels[k] = v
	}
	selectPrimaryPods(&template.Spec, podSelector(target).MatchLabels)
	withPrimaryConfigs(&template.Spec, configs)
	// The template says which revision it is, so that the primary's earlier ReplicaSets say
	// which revision each ran (see undo).
	revision := revisionOf(*podTemplate(target), configs)
	metav1.SetMetaDataAnnotation(&template.ObjectMeta, trancheapi.AnnotationRevision, revision)
	if len(configs) > 0 {
		metav1.SetMetaDataAnnotation(&template.ObjectMeta, trancheapi.AnnotationConfigured, "true")
	}
	annotations := providers.Annotations()
	annotations[trancheapi.AnnotationRevision] = revision
	meta := metav1.ObjectMeta{
		Namespace:   ro.Namespace,
		Name:        target.GetName() + trancheapi.PrimarySuffix,
		Labels:      providers.Labels(ro),
		Annotations: annotations,
	}
	return newPrimary(target, meta, &metav1.LabelSelector{MatchLabels: labels}, template, replicas), nil
}

// selectPrimaryPods rewrites the label selectors of a primary's pod spec that select the
// target's pods (pod affinity and anti-affinity terms, topology spread constraints) to select
// the primary's instead: copied as they are, they would spread or pack the primary's pods by
// the canary's, which come and go. A selector requirement is rewritten where it names a key of
// the target's selector with its value; other requirements are the user's and are kept.
func selectPrimaryPods(spec *corev1.PodSpec, targetLabels map[string]string) {
	rewrite := func(sel *metav1.LabelSelector) {
		if sel == nil {
			return
		}
		for k, v := range sel.MatchLabels {
			if targetLabels[k] == v {
				sel.MatchLabels[k] = v + trancheapi.PrimarySuffix
			}
		}
		for i := range sel.MatchExpressions {
			req := &sel.MatchExpressions[i]
			want, ok := targetLabels[req.Key]
			if !ok || (req.Operator != metav1.LabelSelectorOpIn && req.Operator != metav1.LabelSelectorOpNotIn) {
				continue
			}
			for j, v := range req.Values {
				if v == want {
					req.Values[j] = v + trancheapi.PrimarySuffix
				}
			}
		}
	}
	terms := func(required []corev1.PodAffinityTerm, preferred []corev1.WeightedPodAffinityTerm) {
		for i := range required {
			rewrite(required[i].LabelSelector)
		}
		for i := range preferred {
			rewrite(preferred[i].PodAffinityTerm.LabelSelector)
		}
	}
	if a := spec.Affinity; a != nil {
		if a.PodAffinity != nil {
			terms(a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution, a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution)
		}
		if a.PodAntiAffinity != nil {
			terms(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution, a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution)
		}
	}
	for i := range spec.TopologySpreadConstraints {
		rewrite(spec.TopologySpreadConstraints[i].LabelSelector)
	}
}

// workloadOf is what decide needs to know of a workload. The primary's revision is the one
// it was copied from, recorded in an annotation; the target's is its template's hash.
func workloadOf(obj client.Object, primary bool) planner.Workload {
	w := planner.Workload{Replicas: replicasOf(obj), Generation: obj.GetGeneration(), Annotations: obj.GetAnnotations()}
	if primary {
		w.Revision = obj.GetAnnotations()[trancheapi.AnnotationRevision]
	} else {
		w.Revision = trancheapi.TemplateRevision(*podTemplate(obj))
	}
	w.ReadyReplicas = readyReplicas(obj)
	w.Ready = w.Replicas > 0 && healthOf(obj).status == health.HealthStatusHealthy && w.ReadyReplicas >= w.Replicas
	return w
}

// declaredReplicas is the replica count the target's owner gave it: its count now, unless
// that is the count Tranche gave it (the annotation says which), and then the count recorded
// when the owner last gave one. Zero is never taken for the owner's: it is what Tranche
// scales an idle target to, and a primary scaled to zero would take the app down. A
// DaemonSet declares none: it runs on every node.
func declaredReplicas(target client.Object, recorded int32) int32 {
	d, ok := target.(*appsv1.Deployment)
	if !ok {
		return 0
	}
	n := replicasOf(d)
	if n == 0 || d.Annotations[trancheapi.AnnotationScaledTo] == strconv.Itoa(int(n)) {
		return recorded
	}
	return n
}
