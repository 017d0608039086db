package providers_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/tranche-dev/tranche/providers"
)

func virtualService(spec map[string]any) providers.Field {
	vs := providers.NewUnstructured(schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1", Kind: "VirtualService"}, "shop", "podinfo")
	vs.Object["spec"] = spec
	return providers.Fields(vs)
}

func TestFieldsReadTheirTypes(t *testing.T) {
	spec := virtualService(map[string]any{
		"hosts": []any{"podinfo"},
		"http": []any{
			map[string]any{"name": "tranche", "route": []any{map[string]any{"weight": int64(95)}, map[string]any{"weight": float64(5)}}},
			map[string]any{"name": "mirror", "mirrorPercentage": map[string]any{"value": 12.5}},
		},
		"gone": nil,
	}).Get("spec")

	http, found, err := spec.Get("http").AsList()
	require.NoError(t, err)
	require.True(t, found)
	require.Len(t, http, 2)
	assert.Equal(t, "spec.http[1]", http[1].Path())
	name, found, err := http[0].Get("name").AsString()
	assert.Equal(t, "tranche", name)
	assert.True(t, found)
	assert.NoError(t, err)
	route, _, err := http[0].Get("route").AsList()
	require.NoError(t, err)
	for i, want := range []int64{95, 5} {
		w, _, err := route[i].Get("weight").AsInt()
		assert.NoError(t, err)
		assert.Equal(t, want, w, "a whole number, written as an integer or not")
	}
	percent, _, err := http[1].Get("mirrorPercentage", "value").AsFloat()
	assert.NoError(t, err)
	assert.Equal(t, 12.5, percent)

	for _, missing := range []providers.Field{spec.Get("gateways"), spec.Get("gone"), spec.Get("tcp", "route", "weight")} {
		_, found, err := missing.AsMap()
		assert.False(t, found, missing.Path())
		assert.NoError(t, err, missing.Path())
		assert.False(t, missing.Found(), missing.Path())
		assert.Nil(t, missing.Value(), missing.Path())
	}
}

func TestAFieldOfTheWrongTypeIsAnError(t *testing.T) {
	spec := virtualService(map[string]any{
		"hosts": "podinfo",
		"http": []any{
			map[string]any{"name": "user"},
			"maintenance",
			map[string]any{"name": "tranche", "route": "podinfo-primary", "weight": 2.5, "mirror": true},
		},
	}).Get("spec")
	http, _, err := spec.Get("http").AsList()
	require.NoError(t, err)
	for _, tc := range []struct {
		read func() error
		want string
	}{
		{func() error { _, _, err := spec.Get("hosts").AsList(); return err }, "VirtualService shop/podinfo: spec.hosts is a string, not a list"},
		{func() error { _, _, err := http[1].Get("name").AsString(); return err }, "VirtualService shop/podinfo: spec.http[1] is a string, not an object"},
		{func() error { _, _, err := http[2].Get("route").AsList(); return err }, "VirtualService shop/podinfo: spec.http[2].route is a string, not a list"},
		{func() error { _, _, err := http[2].Get("weight").AsInt(); return err }, "VirtualService shop/podinfo: spec.http[2].weight is a fraction, not a whole number"},
		{func() error { _, _, err := http[2].Get("mirror").AsFloat(); return err }, "VirtualService shop/podinfo: spec.http[2].mirror is a boolean, not a number"},
		{func() error { _, _, err := http[0].Get("name").AsInt(); return err }, "VirtualService shop/podinfo: spec.http[0].name is a string, not a whole number"},
		// Below a field of the wrong type, the error is that field's.
		{func() error { _, _, err := spec.Get("hosts", "primary", "name").AsString(); return err }, "VirtualService shop/podinfo: spec.hosts is a string, not an object"},
		{func() error { _, _, err := http[2].Get("route", "destination").AsMap(); return err }, "VirtualService shop/podinfo: spec.http[2].route is a string, not an object"},
	} {
		assert.EqualError(t, tc.read(), tc.want)
	}
	assert.False(t, http[1].Get("name").Found())
}

func TestMalformedAndUnreadableMarkTheError(t *testing.T) {
	_, _, err := virtualService(map[string]any{"http": "x"}).Get("spec", "http").AsList()
	require.Error(t, err)
	assert.ErrorIs(t, providers.Malformed(err), providers.ErrMalformed)
	assert.ErrorContains(t, providers.Malformed(err), "spec.http is a string, not a list")
	assert.ErrorIs(t, providers.Unreadable(err), providers.ErrUnreadable)
	assert.NoError(t, providers.Malformed(nil))
	assert.NoError(t, providers.Unreadable(nil))
}
