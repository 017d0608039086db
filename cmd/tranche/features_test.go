package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/component-base/featuregate"
)

func TestClientFeaturesFromEnv(t *testing.T) {
	gate := func() featuregate.MutableFeatureGate {
		g := featuregate.NewFeatureGate()
		require.NoError(t, g.Add(map[featuregate.Feature]featuregate.FeatureSpec{
			"WatchListClient":         {Default: true, PreRelease: featuregate.Beta},
			"InformerResourceVersion": {Default: false, PreRelease: featuregate.Alpha},
		}))
		return g
	}

	g := gate()
	require.NoError(t, clientFeaturesFromEnv([]string{"HOME=/root", "KUBE_FEATURE_WatchListClient=false", "KUBE_FEATURE_InformerResourceVersion=true"}, g))
	assert.False(t, g.Enabled("WatchListClient"))
	assert.True(t, g.Enabled("InformerResourceVersion"))

	g = gate()
	require.NoError(t, clientFeaturesFromEnv([]string{"KUBE_FEATURE_NoSuchFeature=false"}, g), "a feature the program does not know is left alone")
	assert.True(t, g.Enabled("WatchListClient"))

	err := clientFeaturesFromEnv([]string{"KUBE_FEATURE_WatchListClient=off"}, gate())
	require.Error(t, err)
	assert.Equal(t, `KUBE_FEATURE_WatchListClient="off": the value must be true or false`, err.Error())
}
