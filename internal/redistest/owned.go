package redistest

import (
	"os/exec"
	"runtime"
)

// startOwned starts cmd so that it cannot outlive this process, and reaps
// it on a goroutine of its own, which calls exited once it has. t.Cleanup
// and a deferred Close stop the servers of a run that ends normally; a run
// that does not (an interrupted benchmark or load test, a test binary's
// -timeout panic, a SIGTERM) runs neither. So, where the system allows it
// (dieWithParent), the kernel kills the process when the thread that
// started it exits, and that thread is kept, locked to the goroutine that
// waits for the process, until the process has been reaped: it exits
// before then only with this process.
func startOwned(cmd *exec.Cmd, exited func()) error {
	dieWithParent(cmd)
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
		exited()
	}()
	return <-started
}
