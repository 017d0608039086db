//go:build !linux

package harness

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// ownGroup leaves cmd in the tests' process group where DieWithParent cannot tie the
// program's life to theirs: there, the terminal's Ctrl-C must reach the program too.
func ownGroup(*exec.Cmd) {}

// signalGroup sends sig to p alone. A program that has exited is not an error.
func signalGroup(p *os.Process, sig syscall.Signal) error {
	var err error
	if sig == syscall.SIGKILL {
		err = p.Kill()
	} else {
		err = p.Signal(sig)
	}
	if errors.Is(err, os.ErrProcessDone) {
		return nil
	}
	return err
}
