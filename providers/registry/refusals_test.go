package registry_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tranche-dev/tranche/api/v1alpha1/validationcases"
	"github.com/tranche-dev/tranche/cli/lint"
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

// TestTheAPIRefusesWhatAProviderCannotDo asks every provider for every step kind: the API
// server's rules (checked here offline, with the CRD's own schema) accept the step exactly
// when the provider's Features say it can take it.
func TestTheAPIRefusesWhatAProviderCannotDo(t *testing.T) {
	schemas, err := lint.LoadSchemas()
	require.NoError(t, err)
	steps := map[string]string{
		"a 5% step":     `[{weight: 5}, {weight: 100}]`,
		"an A/B step":   `[{match: [{headers: [{name: x-canary, value: always}]}]}, {weight: 100}]`,
		"a mirror step": `[{mirror: 50}, {weight: 100}]`,
	}
	for _, name := range apiProviders {
		features := registry.Default()[name](nil).Features()
		can := map[string]bool{"a 5% step": features.AnyWeight, "an A/B step": features.Match != "", "a mirror step": features.Mirror}
		for stepName, step := range steps {
			t.Run(name+"/"+stepName, func(t *testing.T) {
				obj, err := validationcases.Patched(validationcases.ValidRollout, fmt.Sprintf(
					`{spec: {provider: null, analysis: null, steps: %s}}`, step))
				require.NoError(t, err)
				obj.Object["spec"].(map[string]any)["provider"] = mustYAML(t, providerBlocks[name])
				obj.SetNamespace("default")
				_, errs := schemas.Validate(context.Background(), obj)
				if can[stepName] {
					assert.Empty(t, errs, "%s can take %s", name, stepName)
				} else {
					assert.NotEmpty(t, errs, "%s cannot take %s, and the API server must say so", name, stepName)
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
