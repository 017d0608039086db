package lint_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tranche-dev/tranche/api/v1alpha1/validationcases"
	"github.com/tranche-dev/tranche/cli/lint"
)

// The offline schemas refuse every invalid object the API server refuses, saying the same:
// the cases are the API server validation tests' own.
func TestSchemasRefuseWhatTheAPIServerRefuses(t *testing.T) {
	schemas, err := lint.LoadSchemas()
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(validationcases.Invalid), 25)
	for _, tc := range validationcases.Invalid {
		t.Run(tc.Name, func(t *testing.T) {
			obj, err := tc.Object()
			require.NoError(t, err)
			obj.SetNamespace("default") // as kubectl apply sets it
			_, errs := schemas.Validate(context.Background(), obj)
			require.NotEmpty(t, errs, "an invalid %s passed", obj.GetKind())
			for _, want := range tc.Want {
				assert.Contains(t, errs.ToAggregate().Error(), want)
			}
		})
	}
}

func TestSchemasAcceptTheValidObjects(t *testing.T) {
	schemas, err := lint.LoadSchemas()
	require.NoError(t, err)
	for _, doc := range []string{validationcases.ValidRollout, validationcases.ValidTemplate, validationcases.ValidProvider} {
		obj, err := validationcases.Patched(doc, "{}")
		require.NoError(t, err)
		obj.SetNamespace("default")
		_, errs := schemas.Validate(context.Background(), obj)
		assert.Empty(t, errs, obj.GetKind())
	}
}
