package cli_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tranche-dev/tranche/api/v1alpha1/validationcases"
)

func TestLintCommandFailsOnAnInvalidFileAndPassesAValidOne(t *testing.T) {
	dir := t.TempDir()
	valid, invalid := filepath.Join(dir, "valid.yaml"), filepath.Join(dir, "invalid.yaml")
	require.NoError(t, os.WriteFile(valid, []byte(validationcases.ValidRollout), 0o600))
	tc := validationcases.Invalid[0]
	obj, err := tc.Object()
	require.NoError(t, err)
	data, err := obj.MarshalJSON()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(invalid, data, 0o600))

	out, err := kubectl(t, "default", "lint", "-f", valid)
	require.NoError(t, err, out)
	assert.Contains(t, out, "1 object(s) read, no errors")

	out, err = kubectl(t, "default", "lint", "-f", valid, "-f", invalid)
	assert.ErrorContains(t, err, "1 error(s) in 2 object(s) read")
	for _, want := range tc.Want {
		assert.Contains(t, out, want)
	}
}
