package argocd

import (
	"github.com/argoproj/argo-cd/gitops-engine/v3/pkg/health"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// HealthOverride gives gitops-engine a Rollout's health from health.lua, as Argo CD does with
// a resource customization; other kinds keep gitops-engine's own health.
type HealthOverride struct{}

var _ health.HealthOverride = HealthOverride{}

// GetResourceHealth implements health.HealthOverride.
func (HealthOverride) GetResourceHealth(obj *unstructured.Unstructured) (*health.HealthStatus, error) {
	if gvk := obj.GroupVersionKind(); gvk.Group != "tranche.dev" || gvk.Kind != "Rollout" {
		return nil, nil
	}
	h, err := RolloutHealth(obj.Object)
	if err != nil {
		return nil, err
	}
	return &health.HealthStatus{Status: health.HealthStatusCode(h.Status), Message: h.Message}, nil
}
