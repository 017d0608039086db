package registry_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/gatewayapi"
	"github.com/tranche-dev/tranche/providers/kubernetes"
	"github.com/tranche-dev/tranche/providers/nginx"
	"github.com/tranche-dev/tranche/providers/registry"
	"github.com/tranche-dev/tranche/providers/traefik"
)

func TestDefaultKnowsTheProvidersThatExist(t *testing.T) {
	for _, tc := range []struct {
		name     string
		provider trancheapi.Provider
		want     providers.Router
	}{
		{"gatewayAPI", trancheapi.Provider{GatewayAPI: &trancheapi.GatewayAPIProvider{}}, &gatewayapi.Router{}},
		{"kubernetes", trancheapi.Provider{Kubernetes: &trancheapi.KubernetesProvider{}}, &kubernetes.Router{}},
		{"traefik", trancheapi.Provider{Traefik: &trancheapi.TraefikProvider{}}, &traefik.Router{}},
		{"nginx", trancheapi.Provider{NGINX: &trancheapi.NGINXProvider{}}, &nginx.Router{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ro := &trancheapi.Rollout{Spec: trancheapi.RolloutSpec{Provider: tc.provider}}
			router, err := registry.Default().For(nil, ro)
			require.NoError(t, err)
			assert.IsType(t, tc.want, router)
		})
	}
}

func TestDefaultRefusesOtherProviders(t *testing.T) {
	ro := &trancheapi.Rollout{Spec: trancheapi.RolloutSpec{Provider: trancheapi.Provider{Istio: &trancheapi.IstioProvider{}}}}
	_, err := registry.Default().For(nil, ro)
	require.ErrorIs(t, err, providers.ErrUnknownProvider)
	assert.Contains(t, err.Error(), `"istio"`)
	assert.Contains(t, err.Error(), "[gatewayAPI kubernetes linkerd nginx traefik]")
}
