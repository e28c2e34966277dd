package redistest

import (
	"bytes"
	"runtime"
)

// Running reports whether a goroutine of this process is running fn (a
// name as a stack trace prints it, "hooks.(*Breaker).probe"): at the top of
// its stack or below. It tells a test that a background goroutine exists,
// or is gone, at a given moment, where goleak only looks at the end.
func Running(fn string) bool {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return bytes.Contains(buf[:n], []byte(fn+"("))
		}
		buf = make([]byte, 2*len(buf))
	}
}
