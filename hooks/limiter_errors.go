package hooks

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// waitEndedError is the Limiter's error when the context ended before the
// command got a permit: the command was not sent. errors.Is matches
// ErrNotSent and the context's error (context.Canceled or
// context.DeadlineExceeded).
type waitEndedError struct {
	msg   string
	cause error
}

func (e *waitEndedError) Error() string {
	return e.msg + "; the command was not sent: " + e.cause.Error()
}

func (e *waitEndedError) Unwrap() error { return e.cause }

func (e *waitEndedError) Is(target error) bool { return target == ErrNotSent }

// limitErr builds the ErrLimited error: what was exhausted under the
// budgets b, and the wait.
func (c *limCore) limitErr(b *limBudgets, waited time.Duration, queueFull, blocking bool, s uint64) error {
	return &limitError{
		addr:      c.addr,
		waited:    waited,
		queueFull: queueFull,
		blocking:  blocking,
		inFlight:  limInFlight(s),
		maxIn:     b.maxIn,
		blk:       limBlocking(s),
		maxBlk:    b.maxBlk,
		waiting:   b.waitBound(),
		adaptive:  b.waitBound() != b.maxWaiting,
	}
}

// limitError is the error a Limiter returns when it admits no command. It
// wraps ErrLimited.
type limitError struct {
	addr      string
	waited    time.Duration
	queueFull bool
	blocking  bool
	inFlight  uint64
	maxIn     uint64
	blk       uint64
	maxBlk    uint64
	waiting   int64
	// adaptive: the adaptive limit, not MaxWaiting, bounded the queue.
	adaptive bool
}

func (e *limitError) Error() string {
	var b strings.Builder
	b.WriteString("hooks: limiter: ")
	if e.queueFull {
		b.WriteString(strconv.FormatInt(e.waiting, 10))
		b.WriteString(" commands already waiting")
		if e.adaptive {
			b.WriteString(" (the adaptive limit)")
		} else {
			b.WriteString(" (MaxWaiting)")
		}
	} else {
		b.WriteString("waited ")
		b.WriteString(e.waited.Round(time.Millisecond).String())
		b.WriteString(" for a permit")
	}
	b.WriteString(" (in flight ")
	b.WriteString(strconv.FormatUint(e.inFlight, 10))
	b.WriteByte('/')
	b.WriteString(strconv.FormatUint(e.maxIn, 10))
	if e.blocking {
		b.WriteString(", blocking ")
		b.WriteString(strconv.FormatUint(e.blk, 10))
		b.WriteByte('/')
		b.WriteString(strconv.FormatUint(e.maxBlk, 10))
	}
	if e.addr != "" {
		b.WriteString(", node ")
		b.WriteString(e.addr)
	}
	b.WriteString("): ")
	b.WriteString(ErrLimited.Error())
	return b.String()
}

func (e *limitError) Unwrap() error { return ErrLimited }

// isShed reports whether err is the Limiter shedding load: a command
// refused at once because the queue for a permit was full. Retry does not
// send it again: the refusal is the answer the bound was set for.
func isShed(err error) bool {
	var le *limitError
	return errors.As(err, &le) && le.queueFull
}
