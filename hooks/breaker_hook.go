package hooks

import (
	"context"
	"errors"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
)

// Verdicts handed to gobreaker in place of the real error, decided outside
// its lock.
var (
	errBreakerFailure  = errors.New("hooks: breaker: node failure")
	errBreakerExcluded = errors.New("hooks: breaker: not counted")
)

// verdict says how gobreaker counts a call that returned err.
func verdict(ctx context.Context, err error, pipeline bool) error {
	if err == nil || err == redis.Nil {
		return nil
	}
	if canceled(ctx, err) {
		return errBreakerExcluded
	}
	o, fault := classify(err, pipeline)
	switch {
	case fault && callerDeadlineCut(ctx, err):
		return errBreakerExcluded
	case fault:
		return errBreakerFailure
	case o == outcomeNotSent, o == outcomeStopped:
		return errBreakerExcluded
	default:
		return nil
	}
}

// deadlineSlack absorbs the difference between the clock a socket deadline
// fires by and time.Now for a deadline without a monotonic reading.
const deadlineSlack = time.Millisecond

// callerDeadlineCut reports whether err is the caller's own deadline
// cutting the command: err is a timeout (not a dial's), and the deadline of
// the caller's context (the one Timeouts was given, see callerContext) was
// no later than any other deadline on ctx and had passed when err came. A
// class deadline of Timeouts that was earlier, or a socket timeout that
// fired before the caller's deadline, is the node's failure.
func callerDeadlineCut(ctx context.Context, err error) bool {
	if !isDeadlineErr(err) {
		return false
	}
	dl, ok := callerContext(ctx).Deadline()
	if !ok {
		return false
	}
	if eff, ok := ctx.Deadline(); ok && eff.Before(dl) {
		return false
	}
	return !time.Now().Add(deadlineSlack).Before(dl)
}

// isDeadlineErr reports a timeout other than a dial's: a socket deadline,
// a net.Error timing out, or context.DeadlineExceeded.
func isDeadlineErr(err error) bool {
	var m *maybeAppliedError
	if errors.As(err, &m) {
		err = m.Cause()
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return false
	}
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// breakerHook is the hook of one node, bound to its breaker.
type breakerHook struct {
	b      *Breaker
	addr   string
	target *redis.Options // the node client's options, or nil
	nb     atomic.Pointer[nodeBreaker]
}

var _ redis.Hook = (*breakerHook)(nil)

// node returns the node's breaker, looking it up again if the cache
// dropped it.
func (h *breakerHook) node() *nodeBreaker {
	nb := h.nb.Load()
	if nb.evicted.Load() {
		nb = h.b.node(h.addr, h.target)
		h.nb.Store(nb)
	}
	return nb
}

// DialHook counts every failed dial as a failure of the node, whoever
// waits for the connection: go-redis dials on a goroutine of its own,
// detached from the command that needed the connection, so a caller whose
// deadline ends first never sees the dial's error. A dial cancelled
// (context.Canceled) does not count; a successful dial is not a success,
// since a node that accepts connections may still not answer. The dial
// itself is never refused: the commands that need it were let through.
func (h *breakerHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err != nil && !errors.Is(err, context.Canceled) && ctx.Err() != context.Canceled {
			h.dialFailed()
		}
		return conn, err
	}
}

// dialFailed records a failure with the node's breaker. An open breaker
// records nothing; a half-open one with no probe left neither (the probe's
// own result decides).
func (h *breakerHook) dialFailed() {
	nb := h.node()
	nb.fast.failing()
	_, _ = nb.cb.Execute(func() (struct{}, error) { return struct{}{}, errBreakerFailure })
	nb.fast.done()
	if h.b.pending.Load() != 0 {
		h.b.deliver()
	}
}

func (h *breakerHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if handshakeCall(ctx, cmd, nil) {
			return next(ctx, cmd)
		}
		return h.execute(ctx, false, func(ctx context.Context) error { return next(ctx, cmd) })
	}
}

func (h *breakerHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if handshakeCall(ctx, nil, cmds) {
			return next(ctx, cmds)
		}
		err := h.execute(ctx, true, func(ctx context.Context) error { return next(ctx, cmds) })
		if _, refused := err.(*circuitOpenError); refused {
			// go-redis sets no per-command error when a hook fails a
			// pipeline without calling next: say why on each command,
			// as the Limiter does.
			for _, cmd := range cmds {
				cmd.SetErr(err)
			}
		}
		return err
	}
}

// execute runs call, a command or a batch (pipeline), through the node's
// breaker.
func (h *breakerHook) execute(ctx context.Context, pipeline bool, call func(context.Context) error) error {
	nb := h.node()
	if err, ok := h.executeFast(ctx, nb, pipeline, call); ok {
		return err
	}
	if !nb.closed.Load() {
		if ctx.Value(nestedKey{nb}) != nil {
			return call(ctx)
		}
		ctx = context.WithValue(ctx, nestedKey{nb}, true)
	}
	var err error
	failed := false
	_, v := nb.cb.Execute(func() (struct{}, error) {
		err = call(ctx)
		vd := verdict(ctx, err, pipeline)
		if vd == errBreakerFailure {
			nb.fast.failing()
			failed = true
		}
		return struct{}{}, vd
	})
	if failed {
		nb.fast.done()
	} else if v == nil {
		nb.fast.endStreak(&nb.cb)
	}
	if h.b.pending.Load() != 0 {
		h.b.deliver()
	}
	if v == gobreaker.ErrOpenState || v == gobreaker.ErrTooManyRequests {
		return nb.openErr
	}
	return err
}

// circuitOpenError is the error of an open circuit: it names the node and
// matches ErrCircuitOpen and ErrNotSent.
type circuitOpenError struct {
	msg string
}

func (e *circuitOpenError) Error() string { return e.msg }

func (e *circuitOpenError) Is(target error) bool {
	return target == ErrCircuitOpen || target == ErrNotSent
}
