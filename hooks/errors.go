package hooks

import "errors"

// ErrLimited is returned when the Limiter could not admit a command: the
// wait for a permit exceeded LimiterOptions.MaxWait, or MaxWaiting callers
// were already queued. The command was never sent, so it is safe to retry.
// The returned error wraps ErrLimited with what was exhausted; test it with
// errors.Is.
var ErrLimited = errors.New("hooks: limiter: no permit")

// ErrCircuitOpen is returned at once, with no network I/O, while the
// Breaker for a node is open (or half-open with its probes taken). The
// command was never sent. The returned error wraps ErrCircuitOpen and names
// the node; test it with errors.Is.
var ErrCircuitOpen = errors.New("hooks: circuit open")
