//go:build e2e

package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDemoLeavesNothingRunningAfterCtrlC interrupts `make demo` in the middle of a release
// and checks that every process it started has gone: the control plane, Traefik,
// Prometheus, the manager and the demo app's processes.
func TestDemoLeavesNothingRunningAfterCtrlC(t *testing.T) {
	demo := filepath.Join(t.TempDir(), "demo")
	build := exec.Command("go", "build", "-o", demo, "../demo")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())
	before := stackProcesses(t)

	cmd := exec.Command(demo, "--manager="+os.Getenv("TRANCHE_MANAGER"), "--demoapp="+os.Getenv("DEMOAPP"), "--out="+t.TempDir())
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill() }()
	lines := bufio.NewScanner(out)
	released := false
	for !released && lines.Scan() {
		released = strings.Contains(lines.Text(), "Releasing v2")
	}
	require.True(t, released, "the demo never released v2")
	time.Sleep(3 * time.Second) // the canary takes traffic
	assert.Greater(t, len(stackProcesses(t)), len(before), "the demo's processes run")

	// A terminal sends SIGINT to the whole process group; signal the demo alone, the harder
	// case: it must stop its children itself.
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	go func() {
		for lines.Scan() { // keep reading, so that the demo never blocks on a full pipe
		}
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		var exit *exec.ExitError
		if err != nil {
			require.ErrorAs(t, err, &exit)
		}
	case <-time.After(time.Minute):
		t.Fatal("the demo did not exit within a minute of SIGINT")
	}
	assert.ElementsMatch(t, before, stackProcesses(t), "processes the demo left running")
}

// stackProcesses lists the running processes of the programs the stack starts, as
// "<pid> <program>".
func stackProcesses(t *testing.T) []string {
	programs := map[string]bool{}
	for _, p := range []string{os.Getenv("TRANCHE_MANAGER"), os.Getenv("DEMOAPP"), os.Getenv("TRAEFIK_BINARY"),
		filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "etcd"), filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kube-apiserver")} {
		if resolved, err := filepath.EvalSymlinks(p); err == nil {
			programs[resolved] = true
		}
	}
	if path, err := exec.LookPath("prometheus"); err == nil {
		if resolved, err := filepath.EvalSymlinks(path); err == nil {
			programs[resolved] = true
		}
	}
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var found []string
	for _, e := range entries {
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err == nil && programs[exe] && !isZombie(e.Name()) {
			found = append(found, fmt.Sprintf("%s %s", e.Name(), filepath.Base(exe)))
		}
	}
	return found
}

func isZombie(pid string) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return true
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] == "Z"
}
