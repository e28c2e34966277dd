package hooks

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/redis/go-redis/v9"
)

// Retry is a go-redis hook that re-sends a command (or a whole pipeline or
// MULTI/EXEC) after a failure, only where this table allows it:
//
//   - not sent (dial error, connection refused, pool timeout, ErrLimited
//     after LimiterOptions.MaxWait): every command;
//   - rejected by the server without running (LOADING, TRYAGAIN,
//     CLUSTERDOWN, MASTERDOWN, READONLY, BUSY, max clients): every command;
//   - may have run (read timeout, EOF or reset after the write, deadline
//     during the read): idempotent commands only, by the CommandTable;
//   - answers (redis.Nil, WRONGTYPE, NOSCRIPT, ...), the caller's context
//     ended, ErrCircuitOpen, and ErrLimited for a full queue (the Limiter
//     shedding load: LimiterOptions.MaxWaiting, or the adaptive limit):
//     never. A shed command comes back at once as a *RetryError that
//     matches ErrNotSent and ErrLimited.
//
// A pipeline or a transaction is retried whole, and only if every command
// in it may be retried for the error it got; a command that succeeded in
// the failed attempt counts as one that ran. Between attempts Retry clears
// each command's error and value, so nothing from an earlier attempt
// survives. Delays follow an exponential backoff with jitter
// (cenkalti/backoff/v4), bounded by MaxAttempts, MaxElapsed and the
// context's deadline.
//
// Errors that are about the transport or the server's state come back as a
// *RetryError, which matches ErrNotSent, ErrRejected or ErrMaybeApplied
// with errors.Is and unwraps to the last attempt's error; when that error is
// a net.Error, the returned error is a net.Error too (err.(net.Error) holds,
// Timeout answers as the network error does) and errors.As still finds the
// *RetryError. When a pipeline fails, each of its commands that failed on
// the transport or the server's state gets such an error of its own.
// Answers and context errors come back unchanged.
//
// # go-redis's own retries
//
// Attach refuses Retry on a client with MaxRetries above 0. go-redis retries
// inside the hook chain, below every hook, and it
// re-sends any non-blocking command after a read timeout, INCR and LPUSH
// included: a slow reply can apply one INCR several times. With both
// enabled the attempts also multiply: Retry's MaxAttempts times go-redis's
// MaxRetries+1. On a ClusterClient, go-redis's redirect loop
// (ClusterOptions.MaxRedirects) also re-sends a command or a node's
// pipeline after a read timeout, whatever the node clients' MaxRetries;
// MaxRedirects cannot be turned off without losing MOVED/ASK handling, so
// Attach adds a guard to every node client that keeps a command that is not
// idempotent from going out again (see ErrMaybeApplied).
//
// # Re-sends that send nothing
//
// Under go-redis's full-duplex autopipelining a command's process hooks run
// after it was written, and calling next again does not send it again.
// Retry marks a single command before each re-send and treats a next that
// hands the mark back as no attempt: it gives up with the previous
// attempt's error instead of reporting a success with no reply. Every
// go-redis pipeline path runs the whole batch again on a second next.
//
// # Placement
//
// Retry goes outside Breaker and Limiter (Attach orders it so), so it never
// sleeps holding a limiter permit and an open circuit stops it at once. On
// a ClusterClient or Ring it wraps the whole call, routing included.
//
// # Retry budget
//
// With RetryOptions.Budget, re-sends are bounded by a share of the calls
// (see RetryBudget): when the budget has no token left, the call ends at
// once with the error of the attempt that failed, as a *RetryError that
// also matches ErrRetryBudget, and RetryStats.BudgetSpent counts it.
//
// The success path costs one call and allocates nothing (with a budget, a
// look at the command's name and one atomic add more); backoff state is
// created only when a retry happens.
type Retry struct {
	maxAttempts         int
	initialInterval     time.Duration
	maxInterval         time.Duration
	maxElapsed          time.Duration
	multiplier          float64
	randomizationFactor float64
	table               *CommandTable
	waitOpen            bool
	onRetry             func(RetryEvent)
	logger              *slog.Logger
	clock               retryClock
	budget              *retryBudget
	attemptTimeout      time.Duration // 0: none

	retries, recovered, gaveUp, notRetried, budgetSpent atomic.Uint64

	// By the outcome of the attempt before a retry, and the listeners
	// added with Subscribe (copy on write).
	byNotSent, byRejected, byMaybeApplied atomic.Uint64
	subMu                                 sync.Mutex
	subs                                  atomic.Pointer[[]*retrySub]
}

var _ orderedHook = (*Retry)(nil)

// NewRetry returns a Retry hook with opt's defaults applied. It returns an
// error for a negative MaxAttempts or interval, a MaxInterval below
// InitialInterval, a Multiplier below 1, a RandomizationFactor above 1, or
// a Budget field that cannot work (see RetryBudget).
func NewRetry(opt RetryOptions) (*Retry, error) {
	r := &Retry{
		maxAttempts:         opt.MaxAttempts,
		initialInterval:     opt.InitialInterval,
		maxInterval:         opt.MaxInterval,
		maxElapsed:          opt.MaxElapsed,
		multiplier:          opt.Multiplier,
		randomizationFactor: opt.RandomizationFactor,
		table:               opt.Commands,
		waitOpen:            opt.WaitOutOpenCircuit,
		onRetry:             opt.OnRetry,
		logger:              opt.Logger,
		clock:               opt.clock,
		attemptTimeout:      opt.AttemptTimeout,
	}
	switch {
	case r.attemptTimeout < 0:
		return nil, fmt.Errorf("hooks: retry: AttemptTimeout %s is negative", r.attemptTimeout)
	case r.maxAttempts < 0:
		return nil, fmt.Errorf("hooks: retry: MaxAttempts %d is negative", r.maxAttempts)
	case r.initialInterval < 0:
		return nil, fmt.Errorf("hooks: retry: InitialInterval %s is negative", r.initialInterval)
	case r.maxInterval < 0:
		return nil, fmt.Errorf("hooks: retry: MaxInterval %s is negative", r.maxInterval)
	case r.multiplier != 0 && r.multiplier < 1:
		return nil, fmt.Errorf("hooks: retry: Multiplier %g is below 1", r.multiplier)
	case r.randomizationFactor > 1:
		return nil, fmt.Errorf("hooks: retry: RandomizationFactor %g is above 1", r.randomizationFactor)
	}
	if r.maxAttempts == 0 {
		r.maxAttempts = 3
	}
	if r.initialInterval == 0 {
		r.initialInterval = 50 * time.Millisecond
	}
	if r.maxInterval == 0 {
		r.maxInterval = time.Second
	}
	if r.maxInterval < r.initialInterval {
		return nil, fmt.Errorf("hooks: retry: MaxInterval %s is below InitialInterval %s", r.maxInterval, r.initialInterval)
	}
	switch {
	case r.maxElapsed == 0:
		r.maxElapsed = 10 * time.Second
	case r.maxElapsed < 0:
		r.maxElapsed = 0 // backoff/v4: no bound
	}
	if r.multiplier == 0 {
		r.multiplier = 2
	}
	switch {
	case r.randomizationFactor == 0:
		r.randomizationFactor = 0.5
	case r.randomizationFactor < 0:
		r.randomizationFactor = 0
	}
	if r.table == nil {
		r.table = defaultTable
	}
	if r.clock == nil {
		r.clock = realClock{}
	}
	if opt.Budget != nil {
		if err := opt.Budget.validate(); err != nil {
			return nil, err
		}
		r.budget = newRetryBudget(*opt.Budget, r.clock)
	}
	return r, nil
}

// Stats returns the counters. Each is read atomically; together they are
// not a snapshot of one instant.
func (r *Retry) Stats() RetryStats {
	return RetryStats{
		Retries:    r.retries.Load(),
		Recovered:  r.recovered.Load(),
		GaveUp:     r.gaveUp.Load(),
		NotRetried: r.notRetried.Load(),

		BudgetSpent: r.budgetSpent.Load(),

		NotSent:      r.byNotSent.Load(),
		Rejected:     r.byRejected.Load(),
		MaybeApplied: r.byMaybeApplied.Load(),
	}
}

func (r *Retry) hookOrder() int { return orderRetry }

func (r *Retry) redisHook() redis.Hook { return rawHook{r} }

// dialHook returns next: Retry works on commands, not dials.
func (r *Retry) dialHook(next redis.DialHook) redis.DialHook { return next }

// processHook retries a single command.
func (r *Retry) processHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if r.budget != nil && !handshakeCall(ctx, cmd, nil) {
			r.budget.call()
		}
		cut, err := attempt(ctx, r.attemptTimeout, r.bounded(ctx, cmd, nil), next, cmd)
		if err == nil {
			return nil
		}
		return r.retry(ctx, &retryTarget{cmd: cmd, next: next, cut: cut}, err)
	}
}

// processPipelineHook retries a pipeline or a MULTI/EXEC as a whole.
func (r *Retry) processPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if r.budget != nil && !handshakeCall(ctx, nil, cmds) {
			r.budget.call()
		}
		cut, err := attempt(ctx, r.attemptTimeout, r.bounded(ctx, nil, cmds), next, cmds)
		if err == nil {
			return nil
		}
		return r.retry(ctx, &retryTarget{cmds: cmds, nextPipe: next, pipeline: true, cut: cut}, err)
	}
}

// bounded reports whether the attempts of the call of cmd (or of cmds, cmd
// nil) get AttemptTimeout: calls that may be sent again after a timeout
// and do not block.
func (r *Retry) bounded(ctx context.Context, cmd redis.Cmder, cmds []redis.Cmder) bool {
	if r.attemptTimeout <= 0 {
		return false
	}
	c := callOf(ctx, r.table, cmd, cmds)
	return !c.handshake && c.all&flagIdempotent != 0 && c.any&flagBlocking == 0 && (cmd == nil || !cmd.NoRetry())
}

// attempt makes one attempt of a call, next(ctx, arg), bounded by d
// (AttemptTimeout) when bounded is set, and reports whether d ended it: the
// attempt failed and its own deadline has passed while ctx's has not.
func attempt[T any](ctx context.Context, d time.Duration, bounded bool, next func(context.Context, T) error, arg T) (cut bool, err error) {
	if !bounded {
		return false, next(ctx, arg)
	}
	actx := newDeadlineCtx(ctx, d, false)
	err = next(actx, arg)
	cut = err != nil && actx.Err() != nil && ctx.Err() == nil
	actx.release()
	return cut, err
}

// retry runs after a failed first attempt.
func (r *Retry) retry(ctx context.Context, t *retryTarget, err error) error {
	t.call = callOf(ctx, r.table, t.cmd, t.cmds)
	if t.call.handshake {
		return err // the command that needed the connection decides
	}
	t.bounded = r.bounded(ctx, t.cmd, t.cmds)
	if cause, ok := stopForBudget(err); ok {
		return r.spent(t, false, 1, cause)
	}
	s := &retryRun{r: r, t: t, err: err, attempts: 1}
	if res, done := s.start(ctx); done {
		return res
	}
	b := &backoff.ExponentialBackOff{
		InitialInterval:     r.initialInterval,
		RandomizationFactor: r.randomizationFactor,
		Multiplier:          r.multiplier,
		MaxInterval:         r.maxInterval,
		MaxElapsedTime:      r.maxElapsed,
		Stop:                backoff.Stop,
		Clock:               r.clock,
	}
	b.Reset()
	for {
		if res, done := s.wait(ctx, b); done {
			return res
		}
		if res, done := s.resend(ctx); done {
			return res
		}
	}
}

// retryRun is the state of one call's retries: the decision about the
// last attempt, whether any attempt may have applied the call, the attempts
// made and the last attempt's error.
type retryRun struct {
	r        *Retry
	t        *retryTarget
	d        decision
	maybe    bool
	attempts int
	err      error
}

// giveUp ends the call with err after the attempts made.
func (s *retryRun) giveUp(err error) error {
	s.r.gaveUp.Add(1)
	return s.r.wrap(s.t, s.d, s.maybe, s.attempts, err)
}

// start decides about the first attempt; done says the call ends with res.
func (s *retryRun) start(ctx context.Context) (res error, done bool) {
	r, t := s.r, s.t
	s.d = r.decide(t, s.err)
	if !isFailure(s.d.outcome) {
		if t.pipeline && s.d.outcome == outcomeStopped {
			// The batch stops (the caller's context ended, the circuit
			// is open), but a command of it may still carry a transport
			// error of its own.
			wrapCmds(t.cmds, false, 1)
		}
		return s.err, true
	}
	s.maybe = s.d.outcome == outcomeMaybeApplied
	t.noteNet(s.err, s.d.outcome)
	if !s.d.allowed {
		r.notRetried.Add(1)
		return r.wrap(t, s.d, s.maybe, 1, s.err), true
	}
	if ctx.Err() != nil || r.maxAttempts <= 1 {
		return s.giveUp(s.err), true
	}
	return nil, false
}

// wait backs off before the next attempt, unless the attempts, the time,
// the deadline or the budget are spent; done says the call ends with res.
func (s *retryRun) wait(ctx context.Context, b *backoff.ExponentialBackOff) (res error, done bool) {
	r, t, d := s.r, s.t, s.d
	if s.attempts >= r.maxAttempts {
		return s.giveUp(s.err), true
	}
	delay := b.NextBackOff()
	if delay == backoff.Stop {
		return s.giveUp(s.err), true
	}
	if dl, ok := waitDeadline(ctx); ok && !r.clock.Now().Add(delay).Before(dl) {
		return s.giveUp(s.err), true
	}
	if r.budget != nil && budgeted(d.outcome, d.nodeFault) && !r.budget.take() {
		r.budgetSpent.Add(1)
		return r.wrapErr(t, d, s.maybe, s.attempts, s.err, true), true
	}
	r.report(ctx, t, s.attempts, delay, s.err, d.outcome, s.maybe)
	if r.clock.Sleep(ctx, delay) != nil {
		return s.giveUp(s.err), true
	}
	return nil, false
}

// resend makes the next attempt and decides about it; done says the call
// ends with res.
func (s *retryRun) resend(ctx context.Context) (res error, done bool) {
	r, t := s.r, s.t
	t.reset()
	t.arm()
	err := t.run(ctx, r.attemptTimeout)
	if t.notResent(err) {
		// The layer below returned without sending the command again
		// (go-redis's full-duplex engine answers a second next with the
		// command's own state): no reply came, so the previous attempt's
		// error stands.
		return s.giveUp(s.err), true
	}
	r.retries.Add(1)
	s.attempts++
	s.err = err
	if err == nil {
		r.recovered.Add(1)
		return nil, true
	}
	if cause, ok := stopForBudget(err); ok {
		return r.spent(t, s.maybe, s.attempts, cause), true
	}
	s.d = r.decide(t, err)
	t.noteNet(err, s.d.outcome)
	switch s.d.outcome {
	case outcomeMaybeApplied:
		s.maybe = true
	case outcomeAnswer:
		// The server answered this attempt: that is the result.
		r.recovered.Add(1)
		return err, true
	case outcomeStopped:
		if s.maybe {
			return s.giveUp(err), true
		}
		r.gaveUp.Add(1)
		if t.pipeline {
			wrapCmds(t.cmds, false, s.attempts)
		}
		return err, true
	}
	if !s.d.allowed || ctx.Err() != nil {
		return s.giveUp(err), true
	}
	return nil, false
}

// report counts and logs a retry, and calls OnRetry and the subscribers.
func (r *Retry) report(ctx context.Context, t *retryTarget, attempt int, delay time.Duration, err error, o outcome, maybe bool) {
	switch o {
	case outcomeNotSent:
		r.byNotSent.Add(1)
	case outcomeRejected:
		r.byRejected.Add(1)
	case outcomeMaybeApplied:
		r.byMaybeApplied.Add(1)
	}
	logger := r.logger
	if logger == nil {
		logger = slog.Default()
	}
	name := t.commandName()
	if logger.Enabled(ctx, slog.LevelWarn) {
		logger.LogAttrs(ctx, slog.LevelWarn, "Redis operation failed, retrying",
			slog.Int("attempt", attempt),
			slog.Duration("delay", delay),
			slog.String("error", err.Error()),
			slog.String("command", name))
	}
	subs := r.subs.Load()
	if r.onRetry == nil && subs == nil {
		return
	}
	ev := RetryEvent{Command: name, Attempt: attempt, Delay: delay, Err: err, Outcome: o.sentinel(), MaybeApplied: maybe}
	if r.onRetry != nil {
		r.onRetry(ev)
	}
	if subs != nil {
		for _, s := range *subs {
			s.fn(ctx, ev)
		}
	}
}
