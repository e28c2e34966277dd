//go:build !linux

package redistest

import "os/exec"

// dieWithParent does nothing where the kernel has no parent-death signal:
// there, a server outlives a run that ends without its clean-ups.
func dieWithParent(*exec.Cmd) {}
