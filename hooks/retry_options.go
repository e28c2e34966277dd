package hooks

import (
	"context"
	"log/slog"
	"time"
)

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// RetryOptions configures Retry. The zero value is usable: every zero field
// takes the default written next to it.
type RetryOptions struct {
	// MaxAttempts is the number of attempts, the first included. 0 means 3;
	// 1 disables retries.
	MaxAttempts int
	// InitialInterval is the first backoff delay before randomization.
	// 0 means 50ms.
	InitialInterval time.Duration
	// MaxInterval caps the backoff delay before randomization. 0 means 1s.
	MaxInterval time.Duration
	// MaxElapsed bounds the time spent retrying, counted from the first
	// failure: no delay is started that would end past it. 0 means 10s; a
	// negative value removes the bound. The context's deadline bounds it
	// too: Retry never sleeps past the deadline, and gives up instead.
	MaxElapsed time.Duration
	// Multiplier grows the delay after each attempt (backoff/v4
	// semantics). 0 means 2; otherwise it must be at least 1.
	Multiplier float64
	// RandomizationFactor spreads each delay over
	// [delay*(1-f), delay*(1+f)] (backoff/v4 semantics). 0 means 0.5; a
	// negative value disables the jitter. At most 1.
	RandomizationFactor float64
	// Commands decides which commands are idempotent. nil means the
	// built-in table (see NewCommandTable).
	Commands *CommandTable
	// OnRetry, if set, is called before each retry's delay, outside any
	// lock, on the goroutine of the call.
	OnRetry func(RetryEvent)
	// Logger receives "Redis operation failed, retrying" at Warn level
	// with attempt, delay, error and command before each retry. nil means
	// slog.Default().
	Logger *slog.Logger
	// clock is the time source (tests set it). nil means real time.
	clock retryClock
	// WaitOutOpenCircuit makes Retry treat ErrCircuitOpen like an error
	// before the send (the command never left): it backs off and tries
	// again, within MaxAttempts, MaxElapsed and the deadline, instead of
	// failing at once. The Breaker still keeps the traffic off the node:
	// while it is open no attempt reaches the network, and once it lets
	// probes through the retried commands find it closed again. Set it for
	// workers that should ride out a restart or failover; leave it off (the
	// default) where a caller wants to fail fast.
	WaitOutOpenCircuit bool
	// Budget, if set, bounds the re-sends to a share of the calls (see
	// RetryBudget); its zero fields take the defaults. nil
	// means no budget: every retry the table and the bounds above allow is
	// made.
	Budget *RetryBudget
	// AttemptTimeout bounds each attempt, the first included, of a call
	// that may be sent again after a timeout: an idempotent command, or a
	// batch of them, that does not block. Each attempt gets the smaller of
	// AttemptTimeout and what is left of the context's deadline (the class
	// deadline Timeouts set, or the caller's), as gRPC's per-retry timeout
	// and Envoy's per_try_timeout do, so that an attempt stuck on a
	// connection leaves time for another. An attempt it cuts may have run,
	// and is retried as any other read timeout. The attempts of other
	// calls are not cut: one that may have run cannot be retried, and a
	// blocking command's wait is its own. 0 means no per-attempt limit.
	AttemptTimeout time.Duration
}

// RetryEvent describes one retry about to happen.
type RetryEvent struct {
	// Command is the command name, or "pipeline" / "multi" for a batch.
	Command string
	// Attempt is the number of the attempt that failed (1 for the first);
	// attempt Attempt+1 follows after Delay.
	Attempt int
	// Delay is the backoff before the next attempt.
	Delay time.Duration
	// Err is the failed attempt's error.
	Err error
	// Outcome is the class of Err that allows the retry: ErrNotSent,
	// ErrRejected or ErrMaybeApplied (compare with ==).
	Outcome error
	// MaybeApplied reports that this attempt or an earlier one of the same
	// call may have run on the server.
	MaybeApplied bool
}

// RetryStats are Retry's counters since it was created.
type RetryStats struct {
	// Retries counts the attempts made after a first one: commands sent
	// again.
	Retries uint64
	// Recovered counts calls that failed, were retried, and then got a
	// reply from the server (a value or an answer such as redis.Nil).
	Recovered uint64
	// GaveUp counts calls that failed with an error that allowed a retry
	// but ended with an error: attempts, MaxElapsed or the deadline ran
	// out, the caller's context ended, or a later attempt failed with an
	// error that allows none.
	GaveUp uint64
	// BudgetSpent counts calls that ended with an error because the retry
	// budget had no token for their next re-send (errors.Is(err,
	// ErrRetryBudget)). A call is counted in at most one of Recovered,
	// GaveUp, NotRetried and BudgetSpent.
	BudgetSpent uint64
	// NotRetried counts calls that failed at the first attempt with an
	// error this command may not be retried for: a command that is not
	// idempotent after an error meaning it may have run.
	NotRetried uint64
	// NotSent, Rejected and MaybeApplied count the retries by the outcome
	// of the attempt that failed before them. Each is counted when the
	// retry is decided, before its delay: a retry whose delay the context
	// cuts short is counted here but not in Retries.
	NotSent, Rejected, MaybeApplied uint64
}

// retryClock is the time source of Retry. Tests inject a fake one to check
// the backoff schedule without sleeping; nil in RetryOptions means real time.
type retryClock interface {
	// Now returns the current time.
	Now() time.Time
	// Sleep waits for d or until ctx ends, whichever is first, and returns
	// ctx.Err() in the second case.
	Sleep(ctx context.Context, d time.Duration) error
}
