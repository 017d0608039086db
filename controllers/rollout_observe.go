package controllers

import (
	"context"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// observation is everything a reconcile decides from, read once at its start.
type observation struct {
	references references
}

// observe reads the world the Rollout depends on.
func (r *RolloutReconciler) observe(ctx context.Context, ro *trancheapi.Rollout) (observation, error) {
	refs, err := readReferences(ctx, r.Client, ro)
	if err != nil {
		return observation{}, err
	}
	return observation{references: refs}, nil
}
