package hooks

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrRetryBudget matches (with errors.Is) the error of a call whose retry
// the retry budget refused (see RetryBudget): the call ended with the
// error of its last attempt, which the returned *RetryError still unwraps
// to and classifies as usual, and nothing was sent again.
var ErrRetryBudget = errors.New("hooks: retry budget spent")

// RetryBudget bounds the re-sends of a Retry hook to a share of the calls
// made through it (the commands go-redis sends to set up a connection are
// not calls), in the manner of gRPC's retry throttling and Finagle's
// RetryBudget: a token bucket that each call fills by Ratio of a token,
// that time fills by MinPerSecond tokens a second, and that holds at most
// Burst tokens. A re-send takes one token; without a whole token there is
// no re-send, and the call fails at once with the error of the attempt
// that failed, matching ErrRetryBudget. The bucket starts full.
//
// Over any stretch of time, re-sends thus stay below Ratio times the calls
// made, plus MinPerSecond per second, plus Burst: when a server fails half
// the commands, a client retrying each one three times sends up to twice
// the commands it is asked for, while a budget of 0.1 keeps it near 1.1.
//
// A re-send takes a token when the attempt before it failed at a server
// in trouble: it may have run (ErrMaybeApplied: a read timeout, a
// reset, EOF), or the server could not serve it (LOADING, BUSY,
// MASTERDOWN, CLUSTERDOWN, max clients). A retry after an attempt that
// never reached a server (ErrNotSent: a refused dial, a pool timeout,
// ErrLimited, an open circuit waited out with WaitOutOpenCircuit) takes
// none, since the retry is then the command's only send; nor does one
// after a healthy node turned the command away to be routed again
// (READONLY, TRYAGAIN).
//
// The budget belongs to the Retry hook, so every client the hook is
// attached to shares it, and so do all the nodes of a ClusterClient or a
// Ring. On those, go-redis's own loops (ClusterOptions.MaxRedirects,
// RingOptions.MaxRetries) send a failed idempotent command again below
// the hooks; each such re-send takes a token too, and without one the node
// guard Attach adds stops the loop. Two kinds of re-send by go-redis's
// cluster loop escape the count: pipelines, and the commands it splits by
// slot into commands of its own (those whose COMMAND tips say
// request_policy:multi_shard, such as MGET, DEL and EXISTS).
//
// The zero value is the default budget, the one the profiles presets use:
// retries add at most a tenth to the calls made, plus 10 a second, plus a
// burst of 100. (Finagle's default allows a fifth and 10 a second; the
// flapping scenario of internal/loadtest measures what a tenth gives.)
type RetryBudget struct {
	// Ratio is the share of a token each call earns. 0 means 0.1; at most 1.
	Ratio float64
	// MinPerSecond is the tokens earned each second whatever the traffic,
	// so that a client with few calls can still retry. 0 means 10.
	MinPerSecond float64
	// Burst is the most tokens the bucket holds, and what it starts with.
	// 0 means 100.
	Burst int
}

// defaultRetryBudget is what the zero fields of a RetryBudget take.
var defaultRetryBudget = RetryBudget{Ratio: 0.1, MinPerSecond: 10, Burst: 100}

// validate reports the first field that cannot work, naming it
// ("hooks: retry: Budget.Ratio 2 is above 1 ..."): a Ratio or MinPerSecond
// that is negative, NaN or infinite, a Ratio above 1, a negative Burst.
// NewRetry calls it.
func (b RetryBudget) validate() error {
	switch {
	case math.IsNaN(b.Ratio) || math.IsInf(b.Ratio, 0):
		return fmt.Errorf("hooks: retry: Budget.Ratio %g is not a finite number", b.Ratio)
	case b.Ratio < 0:
		return fmt.Errorf("hooks: retry: Budget.Ratio %g is negative", b.Ratio)
	case b.Ratio > 1:
		return fmt.Errorf("hooks: retry: Budget.Ratio %g is above 1 (more retries than calls)", b.Ratio)
	case math.IsNaN(b.MinPerSecond) || math.IsInf(b.MinPerSecond, 0):
		return fmt.Errorf("hooks: retry: Budget.MinPerSecond %g is not a finite number", b.MinPerSecond)
	case b.MinPerSecond < 0:
		return fmt.Errorf("hooks: retry: Budget.MinPerSecond %g is negative", b.MinPerSecond)
	case b.Burst < 0:
		return fmt.Errorf("hooks: retry: Budget.Burst %d is negative", b.Burst)
	}
	return nil
}

// withDefaults returns b with its zero fields set from defaultRetryBudget.
func (b RetryBudget) withDefaults() RetryBudget {
	if b.Ratio == 0 {
		b.Ratio = defaultRetryBudget.Ratio
	}
	if b.MinPerSecond == 0 {
		b.MinPerSecond = defaultRetryBudget.MinPerSecond
	}
	if b.Burst == 0 {
		b.Burst = defaultRetryBudget.Burst
	}
	return b
}

// retryBudget is a RetryBudget at work. A call only counts itself (one
// atomic add); the bucket is brought up to date, under mu, when a re-send
// asks for a token: the calls and the time since the last update are added
// at once, capped at the burst. Adding them late changes nothing, since
// between two updates the bucket only grows, and capping at the end equals
// capping at every step.
type retryBudget struct {
	ratio, perSecond, burst float64
	clock                   retryClock

	calls atomic.Uint64

	mu      sync.Mutex
	tokens  float64
	counted uint64    // calls already added to tokens
	last    time.Time // time already added to tokens
}

func newRetryBudget(b RetryBudget, clock retryClock) *retryBudget {
	b = b.withDefaults()
	return &retryBudget{
		ratio:     b.Ratio,
		perSecond: b.MinPerSecond,
		burst:     float64(b.Burst),
		clock:     clock,
		tokens:    float64(b.Burst),
		last:      clock.Now(),
	}
}

// call counts one call.
func (b *retryBudget) call() { b.calls.Add(1) }

// take takes a token for a re-send, and reports false when there is none.
func (b *retryBudget) take() bool {
	now := b.clock.Now()
	calls := b.calls.Load()
	b.mu.Lock()
	defer b.mu.Unlock()
	if calls > b.counted {
		b.tokens += float64(calls-b.counted) * b.ratio
		b.counted = calls
	}
	if dt := now.Sub(b.last); dt > 0 {
		b.tokens += dt.Seconds() * b.perSecond
		b.last = now
	}
	b.tokens = min(b.tokens, b.burst)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// budgeted reports whether a re-send after an attempt that failed with
// outcome o (at fault: the node's failure, see classify) takes a token.
func budgeted(o outcome, fault bool) bool {
	return o == outcomeMaybeApplied || o == outcomeRejected && fault
}

// budgetStop is what a cluster or ring node's guard returns, without
// sending, when go-redis's own loop is about to send a command again and
// the retry budget has no token for it. It does not unwrap, so that
// go-redis sees no error it retries and its loop ends; Retry, outside,
// returns the cause, the error of the send before.
type budgetStop struct{ cause error }

func (e *budgetStop) Error() string { return ErrRetryBudget.Error() + ": " + e.cause.Error() }

// stopForBudget reports the cause of a budgetStop in err.
func stopForBudget(err error) (error, bool) {
	var s *budgetStop
	if errors.As(err, &s) {
		return s.cause, true
	}
	return nil, false
}

// resend decides, on a node of a ClusterClient or Ring, whether cmd may go
// out: a command that carries the failure of an earlier send in the same
// call (go-redis's loop sends the same command again, and only Retry's own
// re-sends clear the error first) takes a token, and without one it gets a
// budgetStop instead of a send.
func (b *retryBudget) resend(cmd redis.Cmder) error {
	prev := cmd.Err()
	if prev == nil || prev == errNoReply || prev == redis.Nil {
		return nil
	}
	if o, fault := classify(prev, false); !budgeted(o, fault) || isMaybeAppliedGuard(prev) {
		return nil
	}
	if b.take() {
		return nil
	}
	return &budgetStop{cause: prev}
}
