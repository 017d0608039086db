//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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
	started := descendants(t, cmd.Process.Pid)
	var programs []string
	for _, name := range started {
		programs = append(programs, name)
	}
	for _, program := range []string{"etcd", "kube-apiserver", "traefik", "prometheus", "tranche", "demoapp"} {
		assert.Contains(t, programs, program, "the demo runs %s", program)
	}

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
	for pid, name := range started {
		if _, _, alive := readStat(pid); alive {
			t.Errorf("the demo left %s (pid %d) running", name, pid)
		}
	}
}

// descendants lists the running processes below pid, by pid, with their program's name.
func descendants(t *testing.T, pid int) map[int]string {
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	parents, names := map[int]int{}, map[int]string{}
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if name, ppid, ok := readStat(child); ok {
			parents[child], names[child] = ppid, name
		}
	}
	found := map[int]string{}
	for child := range parents {
		for p := parents[child]; p > 1; p = parents[p] {
			if p == pid {
				found[child] = names[child]
				break
			}
		}
	}
	return found
}

// readStat reads a process's name and parent from /proc; ok is false once it has exited
// (also when it is a zombie, which has exited but not been waited for).
func readStat(pid int) (name string, ppid int, ok bool) {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return "", 0, false
	}
	// pid (name) state ppid ...; the name may hold spaces and parentheses.
	open, end := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
	fields := strings.Fields(string(stat[end+1:]))
	if open < 0 || len(fields) < 2 || fields[0] == "Z" {
		return "", 0, false
	}
	ppid, err = strconv.Atoi(fields[1])
	return string(stat[open+1 : end]), ppid, err == nil
}
