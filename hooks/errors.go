package hooks

import (
	"errors"
	"net"
)

// ErrLimited is returned when the Limiter could not admit a command: the
// wait for a permit exceeded LimiterOptions.MaxWait, or the queue was full
// (MaxWaiting, or the adaptive limit). The command was never sent. Retry
// tries it again after a MaxWait, not after a full queue: that refusal is
// the load shedding the bound asks for, and comes back at once, so a caller
// that loops should pause before calling again (as a client does after an
// HTTP 503). The returned error wraps ErrLimited with what was exhausted;
// test it with errors.Is.
var ErrLimited = errors.New("hooks: limiter: no permit")

// ErrCircuitOpen is returned at once, with no network I/O, while the
// Breaker for a node is open (or half-open with its probes taken). The
// command was never sent. The returned error wraps ErrCircuitOpen and names
// the node; test it with errors.Is.
var ErrCircuitOpen = errors.New("hooks: circuit open")

// newRetryError returns re, or, when the error of its last attempt is (or
// hides, for a *maybeAppliedError) a net.Error, re wrapped so that the error
// Retry returns is a net.Error too, as go-redis's own would have been.
// earlier, if not nil, is the network error of an earlier attempt that may
// have applied the call: when the last attempt's error is not a network
// error (an open circuit stopped the retries), the wrapper answers as
// earlier does, since go-redis alone would have returned it.
func newRetryError(re *RetryError, earlier net.Error) error {
	for _, o := range []outcome{outcomeNotSent, outcomeRejected, outcomeMaybeApplied} {
		if o != re.outcome && errors.Is(re.Err, o.sentinel()) {
			re.otherClass = true
		}
	}
	cause := re.Err
	var m *maybeAppliedError
	if errors.As(cause, &m) {
		cause = m.cause
	}
	var ne net.Error
	if !errors.As(cause, &ne) {
		if earlier == nil || re.outcome != outcomeMaybeApplied {
			return re
		}
		return &retryNetError{re: re, net: earlier, cause: earlier}
	}
	return &retryNetError{re: re, net: ne, cause: cause}
}

// retryNetError is a *RetryError whose last attempt failed with a
// net.Error: an i/o timeout, a reset, a refused dial. It is a net.Error
// itself, Timeout and Temporary answering as that error does, so code that
// asserts err.(net.Error) on go-redis's errors keeps working; errors.As
// finds the *RetryError, and errors.Is and errors.As reach the network
// error (also when a *maybeAppliedError of a cluster node hid it from
// go-redis).
//
// A *RetryError whose cause is not a network error (a pool timeout,
// ErrLimited, an error reply) stays a plain *RetryError, with no Timeout
// method, so it does not pass for one.
type retryNetError struct {
	re    *RetryError
	net   net.Error
	cause error
}

var _ net.Error = (*retryNetError)(nil)

func (e *retryNetError) Error() string { return e.re.Error() }

// Unwrap returns the *RetryError and, when a *maybeAppliedError hid it or it
// came from an earlier attempt, the network error.
func (e *retryNetError) Unwrap() []error {
	if e.cause == e.re.Err {
		return []error{e.re}
	}
	return []error{e.re, e.cause}
}

// Timeout answers as the network error does.
func (e *retryNetError) Timeout() bool { return e.net.Timeout() }

// Temporary answers as the network error does.
func (e *retryNetError) Temporary() bool {
	return e.net.Temporary() //nolint:staticcheck // net.Error requires it
}

// oneClass is what a *RetryError unwraps to when its last attempt's error
// matches the sentinel of another outcome than the RetryError's own: it
// answers errors.Is and errors.As as that error does, except for
// ErrNotSent, ErrRejected and ErrMaybeApplied, so that the RetryError
// matches exactly one of them.
type oneClass struct{ err error }

func (e oneClass) Error() string { return e.err.Error() }

func (e oneClass) Is(target error) bool {
	switch target {
	case ErrNotSent, ErrRejected, ErrMaybeApplied:
		return false
	}
	return errors.Is(e.err, target)
}

func (e oneClass) As(target any) bool { return errors.As(e.err, target) }
