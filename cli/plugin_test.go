package cli_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestKubectlFindsThePlugin builds kubectl-tranche into a folder on the PATH and runs it as
// kubectl would have a user run it.
func TestKubectlFindsThePlugin(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("no kubectl on the PATH: the plugin was not tried through it")
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "kubectl-tranche"), "../cmd/kubectl-tranche")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())

	cmd := exec.Command(kubectl, "tranche", "version")
	cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Regexp(t, `^kubectl-tranche \S+ \(go1\.\d+`, string(out))
}
