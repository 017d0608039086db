package v1alpha1

// EffectiveSteps returns spec.steps, or when there are none the default steps for the
// Rollout's provider. The default depends on the provider, which an OpenAPI default cannot
// express: blue/green cannot send 5% of traffic.
func (s *RolloutSpec) EffectiveSteps() []Step {
	if len(s.Steps) > 0 {
		return s.Steps
	}
	if s.Provider.Kubernetes != nil {
		return []Step{{Weight: ptrTo[int32](0)}, {Weight: ptrTo[int32](100)}}
	}
	return []Step{{Weight: ptrTo[int32](5)}, {Weight: ptrTo[int32](50)}, {Weight: ptrTo[int32](100)}}
}

func ptrTo[T any](v T) *T { return &v }
