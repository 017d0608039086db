package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"time"
)

// Manager runs the manager binary as a process of its own, as a cluster runs it, so that a
// test can kill it as a node failure would and start it again.
type Manager struct {
	// Binary is the manager's path (`make build` puts it at bin/tranche).
	Binary string
	// Kubeconfig says which API server the manager talks to.
	Kubeconfig string
	// Args are the flags, besides the probe address the Manager chooses.
	Args []string
	// Log gets the output of every run, one after the other.
	Log io.Writer

	proc Process
}

// Start starts the manager, also again after Kill, and waits until it reports ready.
func (m *Manager) Start() error {
	probe, err := FreeAddress()
	if err != nil {
		return err
	}
	binary, err := filepath.Abs(m.Binary)
	if err != nil {
		return err
	}
	m.proc.Name, m.proc.Path, m.proc.Env, m.proc.Output = "the manager", binary, EnvironFor(m.Kubeconfig), m.Log
	m.proc.Args = append([]string{"--health-probe-bind-address=" + probe}, m.Args...)
	m.proc.Ready = func(ctx context.Context) error { return GetOK(ctx, "http://"+probe+"/readyz") }
	m.proc.Grace = 15 * time.Second
	err = m.proc.Start(context.Background())
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: run `make build`", err)
	}
	return err
}

// Pid is the running manager's process ID, 0 when it is not running.
func (m *Manager) Pid() int { return m.proc.Pid() }

// Kill kills the manager at once, with no chance to clean up, and waits until it is gone.
func (m *Manager) Kill() error {
	return m.proc.Kill()
}

// Stop asks the manager to stop (SIGTERM) and waits up to 15 s before killing it.
func (m *Manager) Stop() error {
	return m.proc.Stop()
}
