package hooks

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// deadlineCtx is a context that carries a deadline without a timer and
// without an allocation: it is drawn from a pool for one command and
// returned when the hook chain below Timeouts returns. The package
// documentation ("Deadlines") states its semantics; in short:
//
//   - The deadline is fixed the first time something asks for it
//     (Deadline), as now + the command's timeout: go-redis asks when it
//     sets the first socket deadline of the command; the Limiter asks
//     when it has to wait. Deadline returns the earlier of it and the
//     parent's deadline.
//   - Err reports the parent's error, else context.DeadlineExceeded once
//     the fixed deadline has passed.
//   - Done returns a closed channel once the fixed deadline has passed,
//     else the parent's Done channel; a channel obtained earlier does not
//     close at the deadline.
//   - Value asks the parent.
type deadlineCtx struct {
	parent   context.Context
	timeout  time.Duration
	parentDl time.Time // zero when the parent has no deadline
	fixed    atomic.Int64
	// blocking: the command (or one of the batch) is a blocking one (see
	// waitDeadline).
	blocking bool
}

var deadlineCtxPool = sync.Pool{New: func() any { return new(deadlineCtx) }}

// closedDone is the Done channel of an expired deadlineCtx.
var closedDone = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

func newDeadlineCtx(parent context.Context, timeout time.Duration, blocking bool) *deadlineCtx {
	c := deadlineCtxPool.Get().(*deadlineCtx)
	c.parent, c.timeout, c.blocking = parent, timeout, blocking
	if dl, ok := parent.Deadline(); ok {
		c.parentDl = dl
	}
	return c
}

func (c *deadlineCtx) release() {
	*c = deadlineCtx{}
	deadlineCtxPool.Put(c)
}

// monoEpoch is the origin of the deadlines a deadlineCtx keeps: as
// nanoseconds since it, read with time.Since, they live on the monotonic
// clock alone, as the deadline of context.WithTimeout does (a step of the
// wall clock moves neither), and reading that clock is the cheaper half of
// time.Now.
var monoEpoch = time.Now()

// monoNow is the monotonic time since monoEpoch; never 0 past its first
// nanosecond, so 0 can mean "not fixed".
func monoNow() int64 { return int64(time.Since(monoEpoch)) }

// ownDeadline returns the command's own deadline (monoNow's clock),
// fixing it on the first call.
func (c *deadlineCtx) ownDeadline() int64 {
	if n := c.fixed.Load(); n != 0 {
		return n
	}
	n := max(monoNow()+int64(c.timeout), 1)
	if c.fixed.CompareAndSwap(0, n) {
		return n
	}
	return c.fixed.Load()
}

// expired reports whether the own deadline is fixed and has passed.
func (c *deadlineCtx) expired() bool {
	n := c.fixed.Load()
	return n != 0 && monoNow() >= n
}

// Deadline returns the earlier of the command's deadline and the parent's.
// The command's deadline is a time.Time with a monotonic reading, so that
// time.Until on it (go-redis setting socket deadlines, the Limiter timing
// a wait) reads the monotonic clock only.
func (c *deadlineCtx) Deadline() (time.Time, bool) {
	own := monoEpoch.Add(time.Duration(c.ownDeadline()))
	if !c.parentDl.IsZero() && !own.Before(c.parentDl) {
		return c.parentDl, true
	}
	return own, true
}

// Done returns a closed channel once the command's deadline has passed,
// else the parent's Done channel.
func (c *deadlineCtx) Done() <-chan struct{} {
	if c.expired() {
		return closedDone
	}
	return c.parent.Done()
}

// Err returns the parent's error, else context.DeadlineExceeded once the
// command's deadline has passed.
func (c *deadlineCtx) Err() error {
	if err := c.parent.Err(); err != nil {
		return err
	}
	if c.expired() {
		return context.DeadlineExceeded
	}
	return nil
}

// Value returns the parent's value for key. For callerCtxKey it returns
// the parent's value, or the parent itself when it has none: the caller's
// context is the one the outermost deadline context was derived from.
func (c *deadlineCtx) Value(key any) any {
	v := c.parent.Value(key)
	if _, ok := key.(callerCtxKey); ok && v == nil {
		return c.parent
	}
	return v
}

// callerCtxKey is the key under which a context Timeouts made holds the
// context Timeouts was given: the caller's. The Breaker asks for it to tell
// the caller's own deadline from the command's class deadline.
type callerCtxKey struct{}

// callerContext returns the context ctx was derived from by Timeouts, or ctx
// itself when Timeouts did not derive it.
func callerContext(ctx context.Context) context.Context {
	if p, ok := ctx.Value(callerCtxKey{}).(context.Context); ok {
		return p
	}
	return ctx
}

// String describes the context, as the standard library's contexts do.
func (c *deadlineCtx) String() string {
	if n := c.fixed.Load(); n != 0 {
		return fmt.Sprintf("%v.WithDeadline(%s)", c.parent, monoEpoch.Add(time.Duration(n)).Round(0))
	}
	return fmt.Sprintf("%v.WithTimeout(%s, from first use)", c.parent, c.timeout)
}

// waitDeadline returns what bounds a wait before a command is sent (the
// Limiter's wait for a permit, Retry's backoff after an attempt that was
// not sent): ctx.Deadline(), except for a blocking
// command under Timeouts, whose own deadline it does not fix. That
// deadline is the wait the command asks the server for plus the margin,
// and must count from when go-redis sends the command: time spent queued
// must not eat the margin, or the server's answer at the end of its wait
// races the deadline.
func waitDeadline(ctx context.Context) (time.Time, bool) {
	c, ok := ctx.(*deadlineCtx)
	if !ok || !c.blocking || c.fixed.Load() != 0 {
		return ctx.Deadline()
	}
	own := time.Now().Add(c.timeout)
	if !c.parentDl.IsZero() && c.parentDl.Before(own) {
		return c.parentDl, true
	}
	return own, true
}
