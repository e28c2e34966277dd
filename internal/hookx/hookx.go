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

// LimiterPastPool is l.SetLimits(lim) for l, a *hooks.Limiter, and lim, a
// hooks.LimiterLimits, without the check that MaxInFlight fits the pool of
// the clients l is attached to: a Limiter whose permits never run out, so
// that commands queue in go-redis's pool behind the same hooks, which make
// bench's overload scenario measures beside the Limiter's own queue.
var LimiterPastPool func(l any, lim any) error
