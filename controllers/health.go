package controllers

import "github.com/argoproj/argo-cd/gitops-engine/v3/pkg/health"

// workloadHealth is a workload's health in Argo CD's words (Healthy, Progressing, Degraded,
// ...), with its explanation (see healthOf).
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
