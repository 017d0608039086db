package harness

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill a server when the test binary dies, also from a signal
// or a panic that skips every cleanup, so that no Prometheus outlives its tests.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
