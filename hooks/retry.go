package hooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/redis/go-redis/v9"
)

// retryClock is the time source of Retry. Tests inject a fake one to check
// the backoff schedule without sleeping; nil in RetryOptions means real time.
type retryClock interface {
	// Now returns the current time.
	Now() time.Time
	// Sleep waits for d or until ctx ends, whichever is first, and returns
	// ctx.Err() in the second case.
	Sleep(ctx context.Context, d time.Duration) error
}

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

// Retry is a go-redis hook that re-sends a command (or a whole pipeline or
// MULTI/EXEC) after a failure, only where this table allows it:
//
//   - not sent (dial error, connection refused, pool timeout, ErrLimited):
//     every command;
//   - rejected by the server without running (LOADING, TRYAGAIN,
//     CLUSTERDOWN, MASTERDOWN, READONLY, BUSY, max clients): every command;
//   - may have run (read timeout, EOF or reset after the write, deadline
//     during the read): idempotent commands only, by the CommandTable;
//   - answers (redis.Nil, WRONGTYPE, NOSCRIPT, ...), the caller's context
//     ended, ErrCircuitOpen: never.
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

// retryTarget is what is being retried: one command or a batch.
type retryTarget struct {
	cmd      redis.Cmder
	next     redis.ProcessHook
	cmds     []redis.Cmder
	nextPipe redis.ProcessPipelineHook
	pipeline bool
	name     string
	// call is what the command table says of the call (set by retry).
	call callInfo
	// bounded: each attempt gets AttemptTimeout; cut: it ended the last
	// attempt.
	bounded, cut bool
	// netErr is the network error of an attempt that may have applied the
	// call: go-redis alone would have returned it, so the error Retry
	// returns stays a net.Error even when a later attempt met a refusal
	// of ours (an open circuit).
	netErr net.Error
}

// noteNet keeps err's network error when err may have applied the call.
func (t *retryTarget) noteNet(err error, o outcome) {
	var ne net.Error
	if o == outcomeMaybeApplied && errors.As(err, &ne) {
		t.netErr = ne
	}
}

// run makes one attempt, bounded by d (AttemptTimeout) when the call's
// attempts are.
func (t *retryTarget) run(ctx context.Context, d time.Duration) error {
	var err error
	if t.pipeline {
		t.cut, err = attempt(ctx, d, t.bounded, t.nextPipe, t.cmds)
	} else {
		t.cut, err = attempt(ctx, d, t.bounded, t.next, t.cmd)
	}
	return err
}

// reset clears what the last attempt left on the commands.
func (t *retryTarget) reset() {
	if t.pipeline {
		for _, c := range t.cmds {
			resetCmd(c)
		}
		return
	}
	resetCmd(t.cmd)
}

// errNoReply is set on a single command before it is sent again. go-redis
// sets the command's error from the reply, or returns the error of the
// attempt; a next that returns it came back without sending anything.
var errNoReply = errors.New("hooks: no reply to the re-sent command")

// arm marks a single command before a re-send, so that notResent can tell a
// real re-send from a next that returned at once. Batches need no mark:
// every go-redis pipeline path (plain, MULTI/EXEC, cluster, AutoPipeline
// batches, full-duplex Pipeline and FDPipelined) runs the whole batch again
// when its pipeline hook calls next.
func (t *retryTarget) arm() {
	if !t.pipeline {
		t.cmd.SetErr(errNoReply)
	}
}

// notResent reports, after a re-send, that next returned without sending:
// go-redis's full-duplex engine runs a command's process hooks after the
// command was written, and its next only hands back the command's state,
// which arm set. A command sent for real leaves the mark behind only when
// next succeeded (go-redis sets the error after the hooks return), and the
// mark is then cleared here.
func (t *retryTarget) notResent(err error) bool {
	if t.pipeline {
		return false
	}
	if errors.Is(err, errNoReply) {
		t.cmd.SetErr(nil)
		return true
	}
	if t.cmd.Err() == errNoReply {
		t.cmd.SetErr(err)
	}
	return false
}

func (t *retryTarget) commandName() string {
	if t.name == "" {
		switch {
		case !t.pipeline:
			t.name = t.cmd.Name()
		case isTx(t.cmds):
			t.name = "multi"
		default:
			t.name = "pipeline"
		}
	}
	return t.name
}

// decision is what Retry makes of an attempt's error.
type decision struct {
	outcome   outcome
	nodeFault bool
	// allowed: every command may be sent again for this error.
	allowed bool
}

func (r *Retry) decide(t *retryTarget, err error) decision {
	if !t.pipeline {
		o, fault := r.classify(err, false, t.cut)
		return decision{outcome: o, nodeFault: fault, allowed: mayResend(t.cmd, t.call.info, o)}
	}
	return r.decidePipeline(t, err)
}

// classify is the package's classify, with an open circuit counted as not
// sent when WaitOutOpenCircuit is set, and the end of an attempt that
// AttemptTimeout cut (cut) as a timeout that may have applied the call.
func (r *Retry) classify(err error, pipeline, cut bool) (outcome, bool) {
	o, fault := classify(err, pipeline)
	switch {
	case o != outcomeStopped:
	case r.waitOpen && errors.Is(err, ErrCircuitOpen):
		return outcomeNotSent, false
	case cut && errors.Is(err, context.DeadlineExceeded):
		return outcomeMaybeApplied, true
	}
	return o, fault
}

// mayResend reports whether cmd, of which the table says info, may be sent
// again after an error of outcome o.
func mayResend(cmd redis.Cmder, info cmdInfo, o outcome) bool {
	switch o {
	case outcomeNotSent:
		return true
	case outcomeRejected:
		// A NoRetry command (go-redis: it writes its reply to an io.Writer)
		// is sent again only when it never left.
		return !cmd.NoRetry()
	case outcomeMaybeApplied, outcomeOK, outcomeAnswer:
		// OK and answers: the command ran in this attempt.
		return !cmd.NoRetry() && info.IsIdempotent()
	default:
		return false
	}
}

// decidePipeline looks at the batch's error and at every command's own
// error: the batch is sent again only if each command may be, for the error
// it got (a command that succeeded ran, so it must be idempotent).
func (r *Retry) decidePipeline(t *retryTarget, err error) decision {
	cmds := t.cmds
	d := decision{allowed: true}
	d.outcome, d.nodeFault = r.classify(err, true, t.cut)
	if d.outcome == outcomeStopped {
		d.allowed = false
		return d
	}
	if isTx(cmds) && txAborted(cmds, err) {
		return decideAbortedTx(cmds)
	}
	for i, c := range cmds {
		o, fault := r.classify(c.Err(), true, t.cut)
		if isFailure(o) && (!isFailure(d.outcome) || o > d.outcome) {
			d.outcome, d.nodeFault = o, fault
		}
		if o == outcomeStopped {
			d.outcome, d.allowed = outcomeStopped, false
			return d
		}
		if !mayResend(c, t.call.infos[i], o) {
			d.allowed = false
		}
	}
	if !isFailure(d.outcome) {
		d.allowed = false
	}
	return d
}

// decideAbortedTx decides for a transaction the server discarded with
// EXECABORT: nothing in it ran, so it may be sent again if every command
// refused while queued was refused for a state of the server (READONLY,
// LOADING, ...) and not for itself (a syntax error).
func decideAbortedTx(cmds []redis.Cmder) decision {
	d := decision{outcome: outcomeAnswer, allowed: true}
	for _, c := range cmds {
		e := c.Err()
		if e == nil || isExecAbort(e) {
			continue
		}
		o, fault := classify(e, true)
		switch o {
		case outcomeNotSent, outcomeRejected:
			if d.outcome == outcomeAnswer || o > d.outcome {
				d.outcome, d.nodeFault = o, fault
			}
			if o != outcomeNotSent && c.NoRetry() {
				d.allowed = false
			}
		default:
			return decision{outcome: outcomeAnswer}
		}
	}
	if d.outcome == outcomeAnswer {
		d.allowed = false
	}
	return d
}

// isTx reports whether cmds is a MULTI ... EXEC batch as go-redis builds it.
func isTx(cmds []redis.Cmder) bool {
	return len(cmds) >= 2 && cmds[0].Name() == "multi" && cmds[len(cmds)-1].Name() == "exec"
}

// txAborted reports whether the server discarded the transaction.
func txAborted(cmds []redis.Cmder, err error) bool {
	if isExecAbort(err) {
		return true
	}
	return isExecAbort(cmds[len(cmds)-1].Err())
}

// isFailure reports the outcomes a retry may be about.
func isFailure(o outcome) bool {
	return o == outcomeNotSent || o == outcomeRejected || o == outcomeMaybeApplied
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

// wrap returns the error a failed call ends with. For a batch it also
// gives each command that failed on the transport or the server's state its
// own classified error, since that is all an AutoPipeline caller sees.
func (r *Retry) wrap(t *retryTarget, d decision, maybe bool, attempts int, err error) error {
	return r.wrapErr(t, d, maybe, attempts, err, false)
}

// wrapErr is wrap; budget says that the retry budget refused the next
// re-send.
func (r *Retry) wrapErr(t *retryTarget, d decision, maybe bool, attempts int, err error, budget bool) error {
	o := d.outcome
	if maybe {
		o = outcomeMaybeApplied
	}
	if t.pipeline {
		wrapCmds(t.cmds, maybe, attempts)
	}
	return newRetryError(&RetryError{outcome: o, Command: t.commandName(), Attempts: attempts, Err: err, nodeFault: d.nodeFault, budget: budget}, t.netErr)
}

// spent ends a single command whose re-send by go-redis's cluster or ring
// loop a node's guard refused for want of a token (a budgetStop): cause is
// the error of the send before, the call's result. maybe says whether an
// earlier attempt may have applied the command.
func (r *Retry) spent(t *retryTarget, maybe bool, attempts int, cause error) error {
	d := r.decide(t, cause)
	t.noteNet(cause, d.outcome)
	r.budgetSpent.Add(1)
	return r.wrapErr(t, d, maybe || d.outcome == outcomeMaybeApplied, attempts, cause, true)
}

// wrapCmds replaces each transport or server-state error of a batch's
// commands by a *RetryError of the command's own outcome (maybe applied if
// an earlier attempt may have run the batch), so that every such error
// matches exactly one of ErrNotSent, ErrRejected and ErrMaybeApplied.
func wrapCmds(cmds []redis.Cmder, maybe bool, attempts int) {
	for _, c := range cmds {
		e := c.Err()
		if e == nil || e == redis.Nil {
			continue
		}
		var re *RetryError
		if errors.As(e, &re) {
			continue
		}
		o, fault := classify(e, true)
		if !isFailure(o) {
			continue
		}
		if maybe {
			o = outcomeMaybeApplied
		}
		c.SetErr(newRetryError(&RetryError{outcome: o, Command: c.Name(), Attempts: attempts, Err: e, nodeFault: fault}, nil))
	}
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

// resetCmd clears cmd's error and, for the value types go-redis commands
// commonly have, its value, so nothing from an earlier attempt survives a
// later one that fails before reading the reply.
func resetCmd(cmd redis.Cmder) {
	cmd.SetErr(nil)
	switch c := cmd.(type) {
	case interface{ SetVal(string) }:
		c.SetVal("")
	case interface{ SetVal(int64) }:
		c.SetVal(0)
	case interface{ SetVal(bool) }:
		c.SetVal(false)
	case interface{ SetVal(float64) }:
		c.SetVal(0)
	case interface{ SetVal(uint64) }:
		c.SetVal(0)
	case interface{ SetVal(interface{}) }:
		c.SetVal(nil)
	case interface{ SetVal([]byte) }:
		c.SetVal(nil)
	case interface{ SetVal(time.Duration) }:
		c.SetVal(0)
	case interface{ SetVal(time.Time) }:
		c.SetVal(time.Time{})
	case interface{ SetVal([]interface{}) }:
		c.SetVal(nil)
	case interface{ SetVal([]string) }:
		c.SetVal(nil)
	case interface{ SetVal([]int64) }:
		c.SetVal(nil)
	case interface{ SetVal([]uint64) }:
		c.SetVal(nil)
	case interface{ SetVal([]bool) }:
		c.SetVal(nil)
	case interface{ SetVal([]float64) }:
		c.SetVal(nil)
	case interface{ SetVal(map[string]string) }:
		c.SetVal(nil)
	case interface{ SetVal(map[string]int64) }:
		c.SetVal(nil)
	case interface{ SetVal(map[string]interface{}) }:
		c.SetVal(nil)
	case interface{ SetVal(map[string]struct{}) }:
		c.SetVal(nil)
	case interface{ SetVal([]redis.Z) }:
		c.SetVal(nil)
	case interface{ SetVal(*redis.ZWithKey) }:
		c.SetVal(nil)
	case interface{ SetVal([]redis.KeyValue) }:
		c.SetVal(nil)
	case interface{ SetVal([]redis.XMessage) }:
		c.SetVal(nil)
	case interface{ SetVal([]redis.XStream) }:
		c.SetVal(nil)
	case interface{ SetVal([]redis.GeoLocation) }:
		c.SetVal(nil)
	case interface{ SetVal([]*redis.GeoPos) }:
		c.SetVal(nil)
	case interface{ SetVal(string, []string) }:
		c.SetVal("", nil)
	case interface{ SetVal([]string, uint64) }:
		c.SetVal(nil, 0)
	}
}
