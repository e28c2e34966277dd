package redistest

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel send cmd's process SIGKILL when the thread
// that started it exits (PR_SET_PDEATHSIG).
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
