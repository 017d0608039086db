package harness_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/tranche-dev/tranche/test/harness"
)

func TestCanaryWeightReadsTheRoutingObject(t *testing.T) {
	backend := func(name string, weight ...int64) map[string]any {
		ref := map[string]any{"name": name, "port": int64(80)}
		if len(weight) > 0 {
			ref["weight"] = weight[0]
		}
		return ref
	}
	route := func(rules ...[]any) *unstructured.Unstructured {
		var rs []any
		for _, refs := range rules {
			rs = append(rs, map[string]any{"backendRefs": refs})
		}
		u := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"rules": rs}}}
		u.SetGroupVersionKind(harness.HTTPRoute)
		return u
	}
	virtualService := func(routes ...any) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"http": routes}}}
		u.SetGroupVersionKind(harness.VirtualService)
		return u
	}
	destinations := func(name string, primary, canary int64) map[string]any {
		return map[string]any{"name": name, "route": []any{
			map[string]any{"destination": map[string]any{"host": "podinfo-primary"}, "weight": primary},
			map[string]any{"destination": map[string]any{"host": "podinfo-canary"}, "weight": canary},
		}}
	}

	for _, tc := range []struct {
		name   string
		obj    *unstructured.Unstructured
		weight int32
		ok     bool
	}{
		{"an HTTPRoute's split", route([]any{backend("podinfo-primary", 95), backend("podinfo-canary", 5)}), 5, true},
		{"an HTTPRoute without weights splits evenly", route([]any{backend("podinfo-primary"), backend("podinfo-canary")}), 50, true},
		{"an HTTPRoute over several rules", route([]any{backend("podinfo-canary", 100)}, []any{backend("podinfo-primary", 100)}), 50, true},
		{"an HTTPRoute all on the primary", route([]any{backend("podinfo-primary", 100), backend("podinfo-canary", 0)}), 0, true},
		{"an HTTPRoute to neither", route([]any{backend("elsewhere", 100)}), 0, false},
		{"a VirtualService's tranche route", virtualService(destinations("user", 0, 100), destinations("tranche", 50, 50)), 50, true},
		{"a VirtualService without one", virtualService(destinations("user", 0, 100)), 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			weight, ok := harness.CanaryWeight(tc.obj)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.weight, weight)
		})
	}
}
