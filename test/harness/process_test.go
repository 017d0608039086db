//go:build linux

package harness

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shell is a Process running script with /bin/sh, ready once the script has created the
// file named by $READY, and with its log in a folder of the test's.
func shell(t *testing.T, script string) *Process {
	t.Helper()
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	return &Process{
		Name: "the test's shell", Path: "/bin/sh", Args: []string{"-c", script},
		Env: append(os.Environ(), "READY="+ready), LogFile: filepath.Join(dir, "sh.log"),
		Ready: func(context.Context) error { _, err := os.Stat(ready); return err },
	}
}

func TestProcessStartsOnceReadyAndStopsOnSIGTERM(t *testing.T) {
	p := shell(t, `trap 'echo stopping; exit 0' TERM; echo starting; touch "$READY"; while :; do sleep 0.05; done`)
	var output bytes.Buffer
	p.Output = &output
	require.NoError(t, p.Start(t.Context()))
	assert.True(t, p.Running())
	assert.ErrorContains(t, p.Start(t.Context()), "already running")

	start := time.Now()
	require.NoError(t, p.Stop())
	assert.Less(t, time.Since(start), 2*time.Second, "stopped by SIGTERM, not killed after the grace period")
	assert.False(t, p.Running())
	// (The shell may also say that its sleep was terminated.)
	assert.Regexp(t, `^starting\n(.*\n)?stopping\n$`, p.LogTail())
	assert.Equal(t, p.LogTail(), output.String())
	log, err := os.ReadFile(p.LogFile)
	require.NoError(t, err)
	assert.Equal(t, "--- ", string(log[:4]))
	assert.Contains(t, string(log), " /bin/sh -c trap 'echo stopping; exit 0' TERM;")
	assert.True(t, strings.HasSuffix(string(log), "\n"+p.LogTail()), "the run's output after its line:\n%s", log)
	assert.NoError(t, p.Stop(), "stopping a stopped process does nothing")
}

func TestProcessStopKillsAProgramThatIgnoresSIGTERM(t *testing.T) {
	p := shell(t, `trap '' TERM; touch "$READY"; while :; do sleep 0.05; done`)
	p.Grace = 200 * time.Millisecond
	require.NoError(t, p.Start(t.Context()))
	assert.ErrorContains(t, p.Stop(), "did not stop within 200ms of SIGTERM")
	assert.False(t, p.Running())
}

func TestProcessKillKillsItsWholeGroupAndStartsAgain(t *testing.T) {
	p := shell(t, `echo run; sleep 30 & echo $! > "$READY.pid"; mv "$READY.pid" "$READY"; wait`)
	require.NoError(t, p.Start(t.Context()))
	ready := strings.TrimPrefix(p.Env[len(p.Env)-1], "READY=")
	data, err := os.ReadFile(ready)
	require.NoError(t, err)
	child, err := strconv.Atoi(strings.TrimSpace(string(data)))
	require.NoError(t, err)

	require.NoError(t, p.Kill())
	assert.False(t, p.Running())
	assert.Eventually(t, func() bool { return gone(child) }, 5*time.Second, 20*time.Millisecond,
		"the program's own child %d outlived Kill", child)

	require.NoError(t, os.Remove(ready))
	require.NoError(t, p.Start(t.Context()), "started again after Kill")
	// The output is copied into the tail as it comes: the second run's line may arrive a
	// moment after the run says it is ready.
	assert.Eventually(t, func() bool { return p.LogTail() == "run\nrun\n" }, 5*time.Second, 10*time.Millisecond,
		"the tail spans the runs: %q", p.LogTail())
	require.NoError(t, p.Kill())
	log, err := os.ReadFile(p.LogFile)
	require.NoError(t, err)
	assert.Equal(t, 2, strings.Count(string(log), "--- "), "a line for each run:\n%s", log)
}

// gone reports whether a process has exited: it is no more, or a zombie waiting for its
// parent.
func gone(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(fields) > 0 && fields[0] == "Z"
}

func TestProcessThatExitsBeforeItIsReady(t *testing.T) {
	p := shell(t, `echo "no configuration"; exit 3`)
	err := p.Start(t.Context())
	assert.ErrorContains(t, err, "the test's shell exited before it was ready:\nno configuration\n")
	assert.False(t, p.Running())
}

func TestProcessNotReadyInTimeIsKilled(t *testing.T) {
	p := shell(t, `echo "waiting for Godot"; while :; do sleep 0.05; done`)
	p.ReadyTimeout = 300 * time.Millisecond
	p.Ready = func(context.Context) error { return errors.New("connection refused") }
	err := p.Start(t.Context())
	assert.ErrorContains(t, err, "the test's shell not ready after 300ms (the last probe: connection refused):\nwaiting for Godot\n")
	assert.False(t, p.Running())
}

func TestProcessStartFailsForAMissingProgram(t *testing.T) {
	p := &Process{Name: "nothing", Path: filepath.Join(t.TempDir(), "missing")}
	err := p.Start(t.Context())
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.ErrorContains(t, err, "harness: starting nothing")
}

func TestProcessStopOnCleanup(t *testing.T) {
	p := shell(t, `touch "$READY"; while :; do sleep 0.05; done`)
	t.Run("a test that starts it", func(t *testing.T) {
		require.NoError(t, p.Start(t.Context()))
		p.StopOnCleanup(t)
	})
	assert.False(t, p.Running(), "stopped when the test that started it ended")
}

func TestLogTailKeepsTheEnd(t *testing.T) {
	var tail logTail
	for i := range 3000 {
		_, _ = tail.Write([]byte(strconv.Itoa(i%10) + "\n"))
	}
	assert.Len(t, tail.String(), tailSize)
	assert.True(t, strings.HasSuffix(tail.String(), "8\n9\n"))
}
