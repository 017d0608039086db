package harness

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"syscall"
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

	cmd    *exec.Cmd
	exited chan struct{}
}

// Start starts the manager and waits until it reports ready.
func (m *Manager) Start() error {
	probe, err := FreeAddress()
	if err != nil {
		return err
	}
	binary, err := filepath.Abs(m.Binary)
	if err != nil {
		return err
	}
	cmd := exec.Command(binary, append([]string{"--health-probe-bind-address=" + probe}, m.Args...)...)
	cmd.Env = EnvironFor(m.Kubeconfig)
	cmd.Stdout, cmd.Stderr = m.Log, m.Log
	DieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the manager %s (run `make build`): %w", binary, err)
	}
	m.cmd, m.exited = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(m.exited) }()

	client := &http.Client{Timeout: time.Second}
	deadline := time.After(30 * time.Second)
	for {
		if resp, err := client.Get("http://" + probe + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-m.exited:
			return errors.New("the manager exited before it was ready")
		case <-deadline:
			return errors.New("the manager was not ready within 30s")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Kill kills the manager at once, with no chance to clean up, and waits until it is gone.
func (m *Manager) Kill() error {
	if m.cmd == nil {
		return nil
	}
	err := m.cmd.Process.Kill()
	<-m.exited
	m.cmd = nil
	return err
}

// Stop asks the manager to stop (SIGTERM) and waits up to 15 s before killing it.
func (m *Manager) Stop() error {
	if m.cmd == nil {
		return nil
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
		m.cmd = nil
		return nil
	case <-time.After(15 * time.Second):
		_ = m.Kill()
		return errors.New("the manager did not stop within 15s of SIGTERM")
	}
}
