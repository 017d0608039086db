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
// kubectl would have a user run it: the kubectl built beside the control plane (make test
// passes it as KUBECTL), else the one on the PATH.
func TestKubectlFindsThePlugin(t *testing.T) {
	kubectl := os.Getenv("KUBECTL")
	if kubectl == "" {
		var err error
		kubectl, err = exec.LookPath("kubectl")
		require.NoError(t, err, "no kubectl: run `make envtest-assets` (it builds one into bin/k8s/), or set KUBECTL")
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "kubectl-tranche"), "../cmd/kubectl-tranche")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())

	script, err := os.ReadFile("../hack/kubectl_complete-tranche")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(bin, "kubectl_complete-tranche"), script, 0o755))
	path := "PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH")

	cmd := exec.Command(kubectl, "tranche", "version")
	cmd.Env = append(os.Environ(), path)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Regexp(t, `^kubectl-tranche \S+ \(go1\.\d+`, string(out))

	// kubectl completes `kubectl tranche pro` through the completion script.
	cmd = exec.Command(kubectl, "__complete", "tranche", "pro")
	cmd.Env = append(os.Environ(), path)
	out, err = cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Contains(t, string(out), "promote")
}
