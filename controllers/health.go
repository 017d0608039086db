package controllers

import (
	"github.com/argoproj/argo-cd/gitops-engine/v3/pkg/health"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// workloadHealth is a workload's health in Argo CD's words (Healthy, Progressing, Degraded,
// ...), with its explanation.
type workloadHealth struct {
	status  health.HealthStatusCode
	message string
}

func (h workloadHealth) String() string {
	if h.message == "" {
		return string(h.status)
	}
	return string(h.status) + " (" + h.message + ")"
}

// deploymentHealth judges a Deployment with gitops-engine's health package, the code Argo CD
// runs, so that Tranche and Argo CD never disagree about whether a workload is healthy.
func deploymentHealth(d *appsv1.Deployment) workloadHealth {
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(d)
	if err != nil {
		return workloadHealth{status: health.HealthStatusUnknown, message: err.Error()}
	}
	obj := &unstructured.Unstructured{Object: content}
	obj.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("Deployment"))
	h, err := health.GetResourceHealth(obj, nil)
	switch {
	case err != nil:
		return workloadHealth{status: health.HealthStatusUnknown, message: err.Error()}
	case h == nil:
		return workloadHealth{status: health.HealthStatusUnknown}
	}
	return workloadHealth{status: h.Status, message: h.Message}
}
