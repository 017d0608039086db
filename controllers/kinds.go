package controllers

import (
	"context"
	"fmt"

	"github.com/argoproj/argo-cd/gitops-engine/v3/pkg/health"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
)

// Tranche rolls out two kinds of workload, Deployments and DaemonSets (spec.targetRef.kind),
// and the primary is of its target's kind. What differs between the two is here, in a few
// functions over client.Object; the rest of the package does not ask which kind it holds.
//
// A DaemonSet has no replica count: it runs a pod on every node its pod template lets it
// schedule on. Tranche parks an idle DaemonSet target instead of scaling it to zero, with a
// nodeSelector no node matches (trancheapi.NodeSelectorParked), and takes the selector off to
// run the canary on every node again. Its "replicas" are the pods the daemonset controller
// wants it to run.

// newWorkload returns an empty object of the kind.
func newWorkload(kind string) client.Object {
	if kind == trancheapi.KindDaemonSet {
		return &appsv1.DaemonSet{}
	}
	return &appsv1.Deployment{}
}

// workloadKind is the kind of a Deployment or a DaemonSet, whose Kind field a typed read
// leaves empty.
func workloadKind(obj client.Object) string {
	if _, ok := obj.(*appsv1.DaemonSet); ok {
		return trancheapi.KindDaemonSet
	}
	return trancheapi.KindDeployment
}

func podTemplate(obj client.Object) *corev1.PodTemplateSpec {
	switch o := obj.(type) {
	case *appsv1.DaemonSet:
		return &o.Spec.Template
	case *appsv1.Deployment:
		return &o.Spec.Template
	}
	panic(fmt.Sprintf("not a workload: %T", obj))
}

func podSelector(obj client.Object) *metav1.LabelSelector {
	switch o := obj.(type) {
	case *appsv1.DaemonSet:
		return o.Spec.Selector
	case *appsv1.Deployment:
		return o.Spec.Selector
	}
	panic(fmt.Sprintf("not a workload: %T", obj))
}

// replicasOf is the count of pods the workload is asked to run: a Deployment's
// spec.replicas, and for a DaemonSet the nodes the daemonset controller schedules it on (none
// while it is parked, whatever its status says yet).
func replicasOf(obj client.Object) int32 {
	switch o := obj.(type) {
	case *appsv1.DaemonSet:
		if parked(o) {
			return 0
		}
		return o.Status.DesiredNumberScheduled
	case *appsv1.Deployment:
		if o.Spec.Replicas == nil {
			return 1 // the API server's default
		}
		return *o.Spec.Replicas
	}
	panic(fmt.Sprintf("not a workload: %T", obj))
}

// readyReplicas is the count of its pods that are ready.
func readyReplicas(obj client.Object) int32 {
	switch o := obj.(type) {
	case *appsv1.DaemonSet:
		return o.Status.NumberReady
	case *appsv1.Deployment:
		return o.Status.ReadyReplicas
	}
	panic(fmt.Sprintf("not a workload: %T", obj))
}

// scale sets the workload's replicas: a Deployment's count, and for a DaemonSet zero parks
// it and any other count runs it on every node.
func scale(obj client.Object, replicas int32) {
	switch o := obj.(type) {
	case *appsv1.DaemonSet:
		selector := &o.Spec.Template.Spec.NodeSelector
		if replicas == 0 {
			if *selector == nil {
				*selector = map[string]string{}
			}
			(*selector)[trancheapi.NodeSelectorParked] = "true"
			return
		}
		delete(*selector, trancheapi.NodeSelectorParked)
		if len(*selector) == 0 {
			*selector = nil // as the owner wrote it, most likely: no field rather than an empty one
		}
	case *appsv1.Deployment:
		o.Spec.Replicas = &replicas
	}
}

// setAnnotation is metav1.SetMetaDataAnnotation for an object of either kind.
func setAnnotation(obj client.Object, key, value string) {
	annotations := obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[key] = value
	obj.SetAnnotations(annotations)
}

func parked(ds *appsv1.DaemonSet) bool {
	_, ok := ds.Spec.Template.Spec.NodeSelector[trancheapi.NodeSelectorParked]
	return ok
}

// newPrimary is a primary of the target's kind with the given pod template, selector and
// replicas (a DaemonSet's are its nodes').
func newPrimary(target client.Object, meta metav1.ObjectMeta, selector *metav1.LabelSelector, template corev1.PodTemplateSpec, replicas int32) client.Object {
	delete(template.Spec.NodeSelector, trancheapi.NodeSelectorParked)
	if ds, ok := target.(*appsv1.DaemonSet); ok {
		return &appsv1.DaemonSet{ObjectMeta: meta, Spec: appsv1.DaemonSetSpec{
			Selector: selector, Template: template,
			UpdateStrategy: ds.Spec.UpdateStrategy, MinReadySeconds: ds.Spec.MinReadySeconds,
		}}
	}
	return &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{
		Replicas: &replicas, Selector: selector, Template: template,
	}}
}

// updateWorkload is providers.Update for a workload of the kind. It returns the workload as
// last read or written.
func updateWorkload(ctx context.Context, c client.Client, kind string, key client.ObjectKey, mutate func(client.Object) error) (client.Object, error) {
	var last client.Object
	keep := func(obj client.Object) error { last = obj; return mutate(obj) }
	var err error
	if kind == trancheapi.KindDaemonSet {
		_, err = providers.Update(ctx, c, key, func(ds *appsv1.DaemonSet) error { return keep(ds) })
	} else {
		_, err = providers.Update(ctx, c, key, func(d *appsv1.Deployment) error { return keep(d) })
	}
	return last, err
}

// healthOf judges a workload with gitops-engine's health package, the code Argo CD
// runs, so that Tranche and Argo CD never disagree about whether a workload is healthy.
func healthOf(obj client.Object) workloadHealth {
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return workloadHealth{status: health.HealthStatusUnknown, message: err.Error()}
	}
	u := &unstructured.Unstructured{Object: content}
	u.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind(workloadKind(obj)))
	h, err := health.GetResourceHealth(u, nil)
	switch {
	case err != nil:
		return workloadHealth{status: health.HealthStatusUnknown, message: err.Error()}
	case h == nil:
		return workloadHealth{status: health.HealthStatusUnknown}
	}
	return workloadHealth{status: h.Status, message: h.Message}
}
