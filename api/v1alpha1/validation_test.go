package v1alpha1_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tranche-dev/tranche/api/v1alpha1/validationcases"
	"github.com/tranche-dev/tranche/test/harness"
)

var cp *harness.ControlPlane

func TestMain(m *testing.M) { os.Exit(harness.Main(m, &cp, harness.Options{})) }

// strict is how kubectl apply sends objects: unknown fields are errors, not silently dropped.
var strict = client.FieldValidation("Strict")

func TestSamplesAreAccepted(t *testing.T) {
	ns := cp.Namespace(t)
	root, err := harness.ModuleRoot()
	require.NoError(t, err)
	files, err := filepath.Glob(filepath.Join(root, "config", "samples", "tranche_*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)

	kinds := map[string]int{}
	for _, file := range files {
		objs, err := harness.ReadManifestFile(file)
		require.NoError(t, err)
		for _, obj := range objs {
			obj.SetNamespace(ns)
			err := cp.Client.Create(context.Background(), obj, strict)
			assert.NoError(t, err, "%s: %s %s", filepath.Base(file), obj.GetKind(), obj.GetName())
			kinds[obj.GetKind()]++
		}
	}
	assert.GreaterOrEqual(t, kinds["Rollout"], 7, "a sample Rollout for every provider")
	assert.GreaterOrEqual(t, kinds["MetricTemplate"], 1)
	assert.GreaterOrEqual(t, kinds["NotificationProvider"], 1)
}

func TestValidObjectsAreAccepted(t *testing.T) {
	ns := cp.Namespace(t)
	for _, doc := range []string{validationcases.ValidRollout, validationcases.ValidTemplate, validationcases.ValidProvider} {
		obj, err := validationcases.Patched(doc, "{}")
		require.NoError(t, err)
		obj.SetNamespace(ns)
		require.NoError(t, cp.Client.Create(context.Background(), obj, strict))
	}
}

func TestInvalidObjectsAreRejected(t *testing.T) {
	ns := cp.Namespace(t)
	require.GreaterOrEqual(t, len(validationcases.Invalid), 25)
	for _, tc := range validationcases.Invalid {
		t.Run(tc.Name, func(t *testing.T) {
			obj, err := tc.Object()
			require.NoError(t, err)
			obj.SetNamespace(ns)
			err = cp.Client.Create(context.Background(), obj, strict)
			require.Error(t, err, "the API server accepted an invalid %s", obj.GetKind())
			for _, want := range tc.Want {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}
