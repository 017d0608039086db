package registry_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/api/v1alpha1/validationcases"
	"github.com/tranche-dev/tranche/cli/lint"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/registry"
)

// providerBlocks are a minimal valid block of each provider, as YAML.
var providerBlocks = map[string]string{
	"gatewayAPI": `{gatewayAPI: {parentRefs: [{name: gw}]}}`,
	"istio":      `{istio: {}}`,
	"linkerd":    `{linkerd: {}}`,
	"smi":        `{smi: {}}`,
	"nginx":      `{nginx: {ingressRef: {name: shop}}}`,
	"traefik":    `{traefik: {}}`,
	"kubernetes": `{kubernetes: {}}`,
}

// TestTheAPIRefusesWhatAProviderCannotDo asks every provider for every kind of step, for
// session affinity and for a built-in metric: the API server's rules (checked here offline,
// with the CRD's own schema) accept the ask exactly when the provider's Features say it can
// do it.
func TestTheAPIRefusesWhatAProviderCannotDo(t *testing.T) {
	schemas, err := lint.LoadSchemas()
	require.NoError(t, err)
	asks := map[string]string{
		"a 5% step":         `steps: [{weight: 5}, {weight: 100}], analysis: null`,
		"an A/B step":       `steps: [{match: [{headers: [{name: x-canary, value: always}]}]}, {weight: 100}], analysis: null`,
		"a mirror step":     `steps: [{mirror: 50}, {weight: 100}], analysis: null`,
		"session affinity":  `steps: [{weight: 0}, {weight: 100}], analysis: null, sessionAffinity: {}`,
		"a built-in metric": `steps: [{weight: 0}, {weight: 100}], analysis: {metrics: [{name: success, builtin: request-success-rate, min: 99}]}`,
		"verified traffic":  `steps: [{weight: 0}, {weight: 100}], analysis: {verifyTraffic: {}}`,
		"a gRPC service":    `steps: [{weight: 0}, {weight: 100}], analysis: null, service: {port: 80, protocol: GRPC}`,
		"a TCP service":     `steps: [{weight: 0}, {weight: 100}], analysis: null, service: {port: 80, protocol: TCP}`,
	}
	for _, name := range apiProviders {
		features := registry.Default()[name](nil).Features()
		can := map[string]bool{
			"a 5% step": features.AnyWeight, "an A/B step": features.Match != "", "a mirror step": features.Mirror,
			"session affinity": features.Sticky, "a built-in metric": features.Metrics != "",
			"a gRPC service": features.GRPC != "", "a TCP service": features.TCP != "",
			"verified traffic": hasQuery(providers.BuiltinQueries(registry.Default()[name](nil)), trancheapi.BuiltinTrafficShare),
		}
		for askName, ask := range asks {
			t.Run(name+"/"+askName, func(t *testing.T) {
				obj, err := validationcases.Patched(validationcases.ValidRollout, fmt.Sprintf(
					`{spec: {provider: null, %s}}`, ask))
				require.NoError(t, err)
				obj.Object["spec"].(map[string]any)["provider"] = mustYAML(t, providerBlocks[name])
				obj.SetNamespace("default")
				_, errs := schemas.Validate(context.Background(), obj)
				if can[askName] {
					assert.Empty(t, errs, "%s can do %s", name, askName)
				} else {
					assert.NotEmpty(t, errs, "%s cannot do %s, and the API server must say so", name, askName)
				}
			})
		}
	}
}

func mustYAML(t *testing.T, doc string) map[string]any {
	obj, err := validationcases.Patched(`{apiVersion: v1, kind: X, metadata: {name: x}}`, fmt.Sprintf(`{spec: %s}`, doc))
	require.NoError(t, err)
	return obj.Object["spec"].(map[string]any)
}

func hasQuery(q providers.Queries, metric trancheapi.BuiltinMetric) bool {
	_, ok := q[metric]
	return ok
}
