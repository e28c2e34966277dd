package hooks

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/internal/handshake"
)

// outcome says what an error from a Redis call means for the command: did
// it leave the client, did the server run it, may it be sent again. It is
// the classification Retry decides by and Breaker counts by (the decision
// table is on Retry).
type outcome uint8

const (
	// outcomeOK is no error.
	outcomeOK outcome = iota
	// outcomeNotSent means the command never left the client: a dial error,
	// a refused connection, a pool timeout, ErrLimited, or a write that
	// failed before a single command was complete on the wire. Every
	// command may be retried.
	outcomeNotSent
	// outcomeRejected means the server refused the command without running
	// it: LOADING, TRYAGAIN, CLUSTERDOWN, MASTERDOWN, READONLY, BUSY, or
	// "max number of clients reached". Every command may be retried.
	outcomeRejected
	// outcomeMaybeApplied means the command may have run: a read timeout,
	// EOF or a reset after the write, a deadline during the read. Only
	// idempotent commands may be retried.
	outcomeMaybeApplied
	// outcomeAnswer means the server answered: redis.Nil, WRONGTYPE,
	// NOSCRIPT, a syntax error, any other error reply, and errors that are
	// not about the connection at all. Never retried.
	outcomeAnswer
	// outcomeStopped means the call must stop: the caller's context ended,
	// the circuit is open (ErrCircuitOpen), or the client is closed. Never
	// retried.
	outcomeStopped
)

// String returns the outcome's name: "ok", "not sent", "rejected",
// "maybe applied", "answer" or "stopped".
func (o outcome) String() string {
	switch o {
	case outcomeOK:
		return "ok"
	case outcomeNotSent:
		return "not sent"
	case outcomeRejected:
		return "rejected"
	case outcomeMaybeApplied:
		return "maybe applied"
	case outcomeAnswer:
		return "answer"
	case outcomeStopped:
		return "stopped"
	default:
		return "outcome(" + strconv.Itoa(int(o)) + ")"
	}
}

// sentinel returns the sentinel error errors.Is matches for o, or nil.
func (o outcome) sentinel() error {
	switch o {
	case outcomeNotSent:
		return ErrNotSent
	case outcomeRejected:
		return ErrRejected
	case outcomeMaybeApplied:
		return ErrMaybeApplied
	default:
		return nil
	}
}

var (
	// ErrNotSent matches (with errors.Is) an error after which the command
	// certainly did not run because it never left the client. The errors
	// Retry returns for a command that was not sent match it, and so does the error of
	// an open circuit.
	ErrNotSent = errors.New("hooks: command not sent")
	// ErrRejected matches (with errors.Is) an error Retry returns when the
	// server refused the command without running it.
	ErrRejected = errors.New("hooks: command rejected by the server")
	// ErrMaybeApplied matches (with errors.Is) an error Retry returns when
	// the command may have run although the call failed: a read timeout or a broken connection after
	// the write. The caller must decide whether to send it again.
	ErrMaybeApplied = errors.New("hooks: command may have been applied")
)

// classifyError returns the outcome of err for a single command, by the
// table on Retry. It looks at the error only: Retry and Breaker also
// treat any error as outcomeStopped once the caller's context has ended.
// An error returned by Retry classifies as the outcome Retry recorded.
func classifyError(err error) outcome {
	o, _ := classify(err, false)
	return o
}

// classify returns the outcome of err and whether err says something is
// wrong with the node (the Breaker counts those as failures). pipeline
// tells that err ended a batch, for which a failed write may have left
// complete commands on the wire before it failed.
func classify(err error, pipeline bool) (o outcome, nodeFault bool) {
	if err == nil {
		return outcomeOK, false
	}
	if err == redis.Nil {
		return outcomeAnswer, false
	}
	var re *RetryError
	if errors.As(err, &re) {
		return re.outcome, re.nodeFault
	}
	if _, ok := stopForBudget(err); ok {
		// A node's guard refused a re-send: nothing was sent, and the
		// call ends with the error of the send before.
		return outcomeStopped, false
	}
	if isMaybeAppliedGuard(err) {
		// A node's transport failure, hidden from go-redis's own loops.
		return outcomeMaybeApplied, true
	}
	switch {
	case errors.Is(err, ErrCircuitOpen), errors.Is(err, redis.ErrClosed):
		return outcomeStopped, false
	case errors.Is(err, ErrLimited), errors.Is(err, redis.ErrPoolTimeout), errors.Is(err, redis.ErrPoolExhausted):
		// The client itself was out of capacity: not the node's fault.
		return outcomeNotSent, false
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		return classifyReply(err)
	}
	// Transport errors. A dial error is checked before the context errors:
	// a dial that hit its own timeout wraps context.DeadlineExceeded.
	var op *net.OpError
	if errors.As(err, &op) {
		switch op.Op {
		case "dial":
			return outcomeNotSent, true
		case "write":
			// A failed write leaves at most a truncated command, which the
			// server never runs; in a batch, commands before it may be
			// complete.
			if pipeline {
				return outcomeMaybeApplied, true
			}
			return outcomeNotSent, true
		}
		return outcomeMaybeApplied, true
	}
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return outcomeStopped, false
	case errors.Is(err, syscall.ECONNREFUSED):
		return outcomeNotSent, true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, net.ErrClosed), errors.Is(err, os.ErrDeadlineExceeded):
		return outcomeMaybeApplied, true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return outcomeMaybeApplied, true
	}
	return outcomeAnswer, false
}

// classifyReply classifies an error reply of the server.
func classifyReply(err error) (outcome, bool) {
	switch {
	case redis.IsLoadingError(err), redis.IsMasterDownError(err),
		redis.IsMaxClientsError(err), isBusyError(err):
		// The node cannot serve at all right now.
		return outcomeRejected, true
	case redis.IsReadOnlyError(err), redis.IsTryAgainError(err), redis.IsClusterDownError(err):
		// A healthy node refusing this command: a replica asked to write, a
		// multi-key command during a slot migration, or any command while
		// the cluster as a whole lacks a master for some slots. Every node
		// answers CLUSTERDOWN from the moment a master is marked failed
		// until its replica is promoted; counting it would open the
		// circuits of the healthy masters too.
		return outcomeRejected, false
	}
	return outcomeAnswer, false
}

// isBusyError reports a "BUSY Redis is busy running a script" reply (not
// BUSYGROUP or BUSYKEY, which are answers).
func isBusyError(err error) bool {
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return false
	}
	return strings.HasPrefix(strings.TrimPrefix(rerr.Error(), "ERR "), "BUSY ")
}

// isExecAbort reports an EXECABORT reply: the transaction was discarded
// because a command was refused while it was queued.
func isExecAbort(err error) bool { return redis.IsExecAbortError(err) }

// canceled reports whether the caller cancelled: the error is a
// cancellation or the context is cancelled.
func canceled(ctx context.Context, err error) bool {
	return errors.Is(err, context.Canceled) || ctx.Err() == context.Canceled
}

// RetryError is the error Retry returns when a command fails with an error
// that is about the transport or the server's state rather than an answer
// (not sent, rejected, or maybe applied). errors.Is matches ErrNotSent,
// ErrRejected or ErrMaybeApplied, by what the failure means for the command,
// ErrRetryBudget when the retry budget refused the next re-send, and
// everything the last attempt's error matches (io.EOF, redis.ErrPoolTimeout,
// ErrLimited, redis.IsReadOnlyError, ...).
type RetryError struct {
	// outcome is what the failure means for the command. It is
	// outcomeMaybeApplied if any attempt may have run it, even when a later
	// attempt was not sent.
	outcome outcome
	// Command is the command name, or "pipeline" / "multi" for a batch.
	Command string
	// Attempts is the number of attempts made, the first included.
	Attempts int
	// Err is the error of the last attempt.
	Err error

	nodeFault bool
	// otherClass: Err matches the sentinel of another outcome (an open
	// circuit's ErrNotSent after an attempt that may have applied the
	// command), which Unwrap hides so the error matches one class.
	otherClass bool
	// budget: the retry budget refused the next re-send.
	budget bool
}

// Error describes the failure and the last attempt's error.
func (e *RetryError) Error() string {
	var b strings.Builder
	b.WriteString("hooks: ")
	b.WriteString(e.Command)
	switch e.outcome {
	case outcomeNotSent:
		b.WriteString(" not sent")
	case outcomeRejected:
		b.WriteString(" rejected by the server")
	case outcomeMaybeApplied:
		b.WriteString(" may have been applied")
	default:
		b.WriteString(" failed")
	}
	b.WriteString(" (")
	b.WriteString(strconv.Itoa(e.Attempts))
	if e.Attempts == 1 {
		b.WriteString(" attempt")
	} else {
		b.WriteString(" attempts")
	}
	if e.budget {
		b.WriteString(", retry budget spent")
	}
	b.WriteString("): ")
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the last attempt's error.
func (e *RetryError) Unwrap() error {
	if e.otherClass {
		return oneClass{e.Err}
	}
	return e.Err
}

// Is matches the sentinel of the error's outcome, and ErrRetryBudget when
// the retry budget refused the next re-send.
func (e *RetryError) Is(target error) bool {
	if target == ErrRetryBudget {
		return e.budget
	}
	s := e.outcome.sentinel()
	return s != nil && target == s
}

// isHandshake reports the commands go-redis sends while it sets up a new
// connection (see internal/handshake). go-redis runs them through the
// client's hooks, nested inside the command that needed the connection; a
// failure among them fails that command, which Retry and Breaker handle. So
// they pass through both unretried and uncounted: counting them would count
// one failure twice, retrying them would multiply attempts, and a half-open
// breaker would refuse them for the very probe they serve.
func isHandshake(cmd redis.Cmder) bool { return handshake.Is(cmd) }

// allHandshake reports a batch made only of handshake commands.
func allHandshake(cmds []redis.Cmder) bool { return handshake.All(cmds) }
