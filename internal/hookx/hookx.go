// Package hookx gives the module's other packages the few parts of package
// hooks that its users need not see. Package hooks sets each variable in its
// init (the way grpc's internal package works), so they stay out of its API
// and no import cycle arises.
package hookx

import "time"

// DefaultTimeouts returns the deadlines that the zero Read, Write and
// Default fields of hooks.TimeoutOptions stand for.
var DefaultTimeouts func() (read, write, def time.Duration)

// LimiterNewTimerPerWait makes l, a *hooks.Limiter that has admitted no
// command yet, start a new timer for each wait for a permit instead of
// leaving the waits' ends to one expiry timer per node: the standard way,
// which make bench's limiter-std scenario measures beside the Limiter's
// own.
var LimiterNewTimerPerWait func(l any)
