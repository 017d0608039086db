package providers

import (
	"context"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers/traffic"
)

// NoStatus is embedded by the Routers of data planes that write down nothing of the routing
// objects they read: their splits count once they read back.
type NoStatus struct{}

// Acceptance is always Unreported.
func (NoStatus) Acceptance(context.Context, *trancheapi.Rollout) (traffic.Acceptance, error) {
	return traffic.Acceptance{State: traffic.Unreported}, nil
}
