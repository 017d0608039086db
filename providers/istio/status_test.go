package istio

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/traffic"
)

func TestIstiodsWordCountsOnlyForTheCurrentGeneration(t *testing.T) {
	for _, tc := range []struct {
		name, status string
		want         traffic.Acceptance
	}{
		{"istiod writes no status (the default)", ``,
			traffic.Acceptance{State: traffic.Unreported}},
		{"every proxy has generation 7", `{observedGeneration: "7", conditions: [{type: Reconciled, status: "True"}]}`,
			traffic.Acceptance{State: traffic.Accepted}},
		{"the generation as a number", `{observedGeneration: 7, conditions: [{type: Reconciled, status: "True"}]}`,
			traffic.Acceptance{State: traffic.Accepted}},
		{"generation 7 still on its way to the proxies",
			`{observedGeneration: "7", conditions: [{type: PassedAnalysis, status: "True"}, {type: Reconciled, status: "False", reason: stillPropagating, message: 61/122 complete}]}`,
			traffic.Acceptance{State: traffic.Pending, Parent: "istiod", Reason: "stillPropagating", Message: "61/122 complete"}},
		{"a word on generation 6 is no word on 7", `{observedGeneration: "6", conditions: [{type: Reconciled, status: "True"}]}`,
			traffic.Acceptance{State: traffic.Unreported}},
		{"analysis only", `{observedGeneration: "7", conditions: [{type: PassedAnalysis, status: "False"}]}`,
			traffic.Acceptance{State: traffic.Unreported}},
		{"a generation that is not a number", `{observedGeneration: seven, conditions: [{type: Reconciled, status: "True"}]}`,
			traffic.Acceptance{State: traffic.Unreported}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vs := providers.NewUnstructured(VirtualService, "shop", "podinfo")
			vs.SetGeneration(7)
			if tc.status != "" {
				var status map[string]any
				require.NoError(t, yaml.Unmarshal([]byte(tc.status), &status))
				require.NoError(t, unstructured.SetNestedField(vs.Object, status, "status"))
			}
			assert.Equal(t, tc.want, acceptanceOf(vs))
		})
	}
}
