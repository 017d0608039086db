package harness

import (
	"os/exec"
	"syscall"
)

// DieWithParent has the kernel kill a server when the program that started it dies, also
// from a signal or a panic that skips every cleanup, so that no server outlives its tests
// (or the demo).
func DieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
