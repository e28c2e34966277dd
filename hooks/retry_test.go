package hooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redisguard/redisguard/internal/redistest"
)

// ---- unit tests: a fake next and a fake clock ----

// newTestRetry returns a Retry on a fake clock (unless opt.Clock is set).
func newTestRetry(t *testing.T, opt RetryOptions) (*Retry, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	if opt.clock == nil {
		opt.clock = clk
	}
	return mustRetry(t, opt), clk
}

// mustRetry returns NewRetry(opt), with its log dropped unless opt.Logger
// is set.
func mustRetry(t *testing.T, opt RetryOptions) *Retry {
	t.Helper()
	if opt.Logger == nil {
		opt.Logger = quietLogger
	}
	r, err := NewRetry(opt)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRetryOptionsValidation(t *testing.T) {
	bad := []RetryOptions{
		{MaxAttempts: -1},
		{InitialInterval: -time.Second},
		{MaxInterval: -time.Second},
		{Multiplier: 0.5},
		{RandomizationFactor: 1.5},
		{InitialInterval: 2 * time.Second, MaxInterval: time.Second},
	}
	for _, o := range bad {
		if _, err := NewRetry(o); err == nil || !strings.HasPrefix(err.Error(), "hooks: ") {
			t.Errorf("NewRetry(%+v) = %v, want a hooks: error", o, err)
		}
	}
	r, err := NewRetry(RetryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.maxAttempts != 3 || r.initialInterval != 50*time.Millisecond || r.maxInterval != time.Second ||
		r.maxElapsed != 10*time.Second || r.multiplier != 2 || r.randomizationFactor != 0.5 || r.table != defaultTable {
		t.Errorf("defaults: %+v", r)
	}
}

// The error values of Retry's decision table, as go-redis hands them out.
var (
	errDial      = &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	errReadTO    = &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	errReset     = &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	errWriteFail = &net.OpError{Op: "write", Net: "tcp", Err: syscall.EPIPE}
	errLimited   = fmt.Errorf("%w: waited 1s", ErrLimited)
	errShed      = &limitError{queueFull: true, waiting: 1, maxIn: 1}
)

func TestClassifyError(t *testing.T) {
	cases := []struct {
		err   error
		want  outcome
		fault bool
	}{
		{nil, outcomeOK, false},
		{errDial, outcomeNotSent, true},
		{&net.OpError{Op: "dial", Err: context.DeadlineExceeded}, outcomeNotSent, true},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), outcomeNotSent, true},
		{redis.ErrPoolTimeout, outcomeNotSent, false},
		{errLimited, outcomeNotSent, false},
		{errWriteFail, outcomeNotSent, true},
		{replyErr("LOADING Redis is loading the dataset in memory"), outcomeRejected, true},
		{replyErr("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSCRIPT."), outcomeRejected, true},
		{replyErr("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."), outcomeRejected, true},
		{replyErr("CLUSTERDOWN The cluster is down"), outcomeRejected, false},
		{replyErr("ERR max number of clients reached"), outcomeRejected, true},
		{replyErr("TRYAGAIN Multiple keys request during rehashing of slot"), outcomeRejected, false},
		{replyErr("READONLY You can't write against a read only replica."), outcomeRejected, false},
		{errReadTO, outcomeMaybeApplied, true},
		{errReset, outcomeMaybeApplied, true},
		{io.EOF, outcomeMaybeApplied, true},
		{io.ErrUnexpectedEOF, outcomeMaybeApplied, true},
		{redis.Nil, outcomeAnswer, false},
		{replyErr("WRONGTYPE Operation against a key holding the wrong kind of value"), outcomeAnswer, false},
		{replyErr("NOSCRIPT No matching script. Please use EVAL."), outcomeAnswer, false},
		{replyErr("ERR syntax error"), outcomeAnswer, false},
		{replyErr("BUSYGROUP Consumer Group name already exists"), outcomeAnswer, false},
		{replyErr("BUSYKEY Target key name already exists."), outcomeAnswer, false},
		{context.Canceled, outcomeStopped, false},
		{context.DeadlineExceeded, outcomeStopped, false},
		{&circuitOpenError{msg: "hooks: circuit open for node x"}, outcomeStopped, false},
		{redis.ErrClosed, outcomeStopped, false},
		{&RetryError{outcome: outcomeMaybeApplied, Err: io.EOF, nodeFault: true}, outcomeMaybeApplied, true},
	}
	for _, c := range cases {
		o, fault := classify(c.err, false)
		if o != c.want || fault != c.fault {
			t.Errorf("classify(%v) = %v, fault %v; want %v, fault %v", c.err, o, fault, c.want, c.fault)
		}
		if got := classifyError(c.err); got != c.want {
			t.Errorf("ClassifyError(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	// In a batch, a failed write may follow complete commands.
	if o, _ := classify(errWriteFail, true); o != outcomeMaybeApplied {
		t.Errorf("classify(write error, pipeline) = %v, want maybe applied", o)
	}
}

// failingNext returns a next that fails with errs[i] on call i (nil after
// the list) and counts its calls.
func failingNext(calls *int, errs ...error) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		i := *calls
		*calls++
		if i < len(errs) {
			cmd.SetErr(errs[i])
			return errs[i]
		}
		return nil
	}
}

// TestRetryDecisionTable walks Retry's decision table for a command that is
// not idempotent (INCR) and one that is (GET): how many attempts each
// error gets, and which kind the returned error says it is.
func TestRetryDecisionTable(t *testing.T) {
	const always = 10 // the error repeats on every attempt
	cases := []struct {
		name     string
		err      error
		incr     int   // attempts for INCR (MaxAttempts 3)
		get      int   // attempts for GET
		sentinel error // errors.Is of the returned error; nil: returned unchanged
	}{
		{"dial", errDial, 3, 3, ErrNotSent},
		{"pool timeout", redis.ErrPoolTimeout, 3, 3, ErrNotSent},
		{"limited", errLimited, 3, 3, ErrNotSent},
		{"shed", errShed, 1, 1, ErrLimited},
		{"write failed", errWriteFail, 3, 3, ErrNotSent},
		{"loading", replyErr("LOADING Redis is loading the dataset in memory"), 3, 3, ErrRejected},
		{"tryagain", replyErr("TRYAGAIN Multiple keys request during rehashing of slot"), 3, 3, ErrRejected},
		{"clusterdown", replyErr("CLUSTERDOWN The cluster is down"), 3, 3, ErrRejected},
		{"masterdown", replyErr("MASTERDOWN Link with MASTER is down"), 3, 3, ErrRejected},
		{"readonly", replyErr("READONLY You can't write against a read only replica."), 3, 3, ErrRejected},
		{"busy", replyErr("BUSY Redis is busy running a script."), 3, 3, ErrRejected},
		{"max clients", replyErr("ERR max number of clients reached"), 3, 3, ErrRejected},
		{"read timeout", errReadTO, 1, 3, ErrMaybeApplied},
		{"eof", io.EOF, 1, 3, ErrMaybeApplied},
		{"reset", errReset, 1, 3, ErrMaybeApplied},
		{"nil", redis.Nil, 1, 1, nil},
		{"wrongtype", replyErr("WRONGTYPE Operation against a key holding the wrong kind of value"), 1, 1, nil},
		{"noscript", replyErr("NOSCRIPT No matching script."), 1, 1, nil},
		{"syntax", replyErr("ERR syntax error"), 1, 1, nil},
		{"canceled", context.Canceled, 1, 1, nil},
		{"circuit open", &circuitOpenError{msg: "hooks: circuit open"}, 1, 1, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, cmdCase := range []struct {
				cmd  redis.Cmder
				want int
			}{
				{redis.NewIntCmd(context.Background(), "incr", "k"), c.incr},
				{redis.NewStringCmd(context.Background(), "get", "k"), c.get},
			} {
				r, _ := newTestRetry(t, RetryOptions{})
				errs := make([]error, always)
				for i := range errs {
					errs[i] = c.err
				}
				calls := 0
				err := r.processHook(failingNext(&calls, errs...))(context.Background(), cmdCase.cmd)
				if calls != cmdCase.want {
					t.Errorf("%s: %d attempts, want %d", cmdCase.cmd.Name(), calls, cmdCase.want)
				}
				if !errors.Is(err, c.err) {
					t.Errorf("%s: error %v does not match %v", cmdCase.cmd.Name(), err, c.err)
				}
				if c.sentinel == nil {
					if err != c.err {
						t.Errorf("%s: error %v, want it unchanged (%v)", cmdCase.cmd.Name(), err, c.err)
					}
					continue
				}
				if !errors.Is(err, c.sentinel) {
					t.Errorf("%s: error %v does not match %v", cmdCase.cmd.Name(), err, c.sentinel)
				}
				var re *RetryError
				if !errors.As(err, &re) || re.Attempts != cmdCase.want || re.Command != cmdCase.cmd.Name() {
					t.Errorf("%s: error %#v, want a RetryError with %d attempts", cmdCase.cmd.Name(), err, cmdCase.want)
				}
			}
		})
	}
}

// TestRetryLeavesHandshakeToTheCommand: go-redis runs a new connection's
// handshake (HELLO, CLIENT SETINFO, ...) through the hooks, nested in the
// command that needed the connection; Retry does not retry it there, the
// outer command's attempt fails and is retried (or not) as a whole.
func TestRetryLeavesHandshakeToTheCommand(t *testing.T) {
	loading := replyErr("LOADING Redis is loading the dataset in memory")
	ctx := context.Background()
	r, _ := newTestRetry(t, RetryOptions{})
	calls := 0
	err := r.processHook(failingNext(&calls, loading, loading))(ctx, redis.NewMapStringInterfaceCmd(ctx, "hello", 3))
	if calls != 1 || err != loading {
		t.Errorf("HELLO: %d attempts, %v; want 1, the error unchanged", calls, err)
	}
	calls = 0
	err = r.processPipelineHook(pipelineNext(&calls, stamp(loading, loading, loading)))(ctx, []redis.Cmder{
		redis.NewStatusCmd(ctx, "client", "setinfo", "LIB-NAME", "x"), redis.NewStatusCmd(ctx, "client", "setinfo", "LIB-VER", "1"),
	})
	if calls != 1 || err != loading {
		t.Errorf("CLIENT SETINFO pipeline: %d attempts, %v; want 1, the error unchanged", calls, err)
	}
	if st := r.Stats(); st != (RetryStats{}) {
		t.Errorf("stats %+v, want nothing counted", st)
	}
}

func TestRetryRecoversAndCounts(t *testing.T) {
	r, _ := newTestRetry(t, RetryOptions{})
	calls := 0
	cmd := redis.NewIntCmd(context.Background(), "incr", "k")
	// Not sent twice, then success: recovered.
	if err := r.processHook(failingNext(&calls, errDial, errDial))(context.Background(), cmd); err != nil {
		t.Fatal(err)
	}
	// Read timeout on INCR: not retried.
	calls = 0
	_ = r.processHook(failingNext(&calls, errReadTO))(context.Background(), cmd)
	// Not sent three times: gave up.
	calls = 0
	_ = r.processHook(failingNext(&calls, errDial, errDial, errDial))(context.Background(), cmd)
	// An answer: nothing counted.
	calls = 0
	_ = r.processHook(failingNext(&calls, redis.Nil))(context.Background(), cmd)
	want := RetryStats{Retries: 4, Recovered: 1, GaveUp: 1, NotRetried: 1, NotSent: 4}
	if got := r.Stats(); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
}

// A later attempt that may have run makes the whole call "may have been
// applied", even if the last attempt was not sent.
func TestRetryMaybeAppliedIsSticky(t *testing.T) {
	r, _ := newTestRetry(t, RetryOptions{})
	calls := 0
	cmd := redis.NewStatusCmd(context.Background(), "set", "k", "v")
	err := r.processHook(failingNext(&calls, errReadTO, errDial, errDial))(context.Background(), cmd)
	if calls != 3 || !errors.Is(err, ErrMaybeApplied) || errors.Is(err, ErrNotSent) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("%d attempts, error %v: want 3 attempts, maybe applied, wrapping the dial error", calls, err)
	}
}

func TestRetryBackoffSchedule(t *testing.T) {
	t.Run("no jitter", func(t *testing.T) {
		r, clk := newTestRetry(t, RetryOptions{
			MaxAttempts: 6, InitialInterval: 100 * time.Millisecond, MaxInterval: 400 * time.Millisecond,
			Multiplier: 2, RandomizationFactor: -1,
		})
		calls := 0
		_ = r.processHook(failingNext(&calls, errDial, errDial, errDial, errDial, errDial, errDial))(
			context.Background(), redis.NewStringCmd(context.Background(), "get", "k"))
		ms := time.Millisecond
		want := []time.Duration{100 * ms, 200 * ms, 400 * ms, 400 * ms, 400 * ms}
		if got := clk.Sleeps(); fmt.Sprint(got) != fmt.Sprint(want) || calls != 6 {
			t.Errorf("sleeps %v (%d attempts), want %v (6 attempts)", got, calls, want)
		}
	})
	t.Run("jitter", func(t *testing.T) {
		for run := 0; run < 20; run++ {
			r, clk := newTestRetry(t, RetryOptions{
				MaxAttempts: 5, InitialInterval: 100 * time.Millisecond, MaxInterval: time.Second,
				Multiplier: 2, RandomizationFactor: 0.5,
			})
			calls := 0
			_ = r.processHook(failingNext(&calls, errDial, errDial, errDial, errDial, errDial))(
				context.Background(), redis.NewStringCmd(context.Background(), "get", "k"))
			base := 100 * time.Millisecond
			for i, d := range clk.Sleeps() {
				if d < base/2 || d > base*3/2+1 {
					t.Fatalf("sleep %d = %v, want within [%v, %v]", i, d, base/2, base*3/2)
				}
				base *= 2
			}
		}
	})
	t.Run("max elapsed", func(t *testing.T) {
		// Each attempt takes 100ms; delays 300ms: the retry that would
		// start at 1.2s after the first failure is not made.
		r, clk := newTestRetry(t, RetryOptions{
			MaxAttempts: 100, InitialInterval: 300 * time.Millisecond, MaxInterval: 300 * time.Millisecond,
			Multiplier: 1, RandomizationFactor: -1, MaxElapsed: time.Second,
		})
		calls := 0
		next := func(ctx context.Context, cmd redis.Cmder) error {
			calls++
			clk.Advance(100 * time.Millisecond)
			return errDial
		}
		err := r.processHook(next)(context.Background(), redis.NewStringCmd(context.Background(), "get", "k"))
		// After the first failure: 0 +300 sleep, +100 attempt = 400, +300 = 700,
		// +100 = 800, then 800+300 > 1s: stop. Three attempts, two sleeps.
		if calls != 3 || len(clk.Sleeps()) != 2 || !errors.Is(err, ErrNotSent) {
			t.Errorf("%d attempts, sleeps %v, error %v; want 3 attempts, 2 sleeps", calls, clk.Sleeps(), err)
		}
	})
	t.Run("never sleeps past the deadline", func(t *testing.T) {
		r, clk := newTestRetry(t, RetryOptions{
			MaxAttempts: 10, InitialInterval: 100 * time.Millisecond, MaxInterval: time.Second,
			Multiplier: 2, RandomizationFactor: -1,
		})
		ctx, cancel := context.WithDeadline(context.Background(), clk.Now().Add(250*time.Millisecond))
		defer cancel()
		calls := 0
		err := r.processHook(failingNext(&calls, errDial, errDial, errDial))(ctx, redis.NewStringCmd(ctx, "get", "k"))
		// 100ms fits before the deadline; the next delay (200ms) would end
		// at 300ms, past it: Retry gives up instead of sleeping.
		if calls != 2 || fmt.Sprint(clk.Sleeps()) != "[100ms]" || !errors.Is(err, ErrNotSent) {
			t.Errorf("%d attempts, sleeps %v, error %v; want 2 attempts, one 100ms sleep, not sent", calls, clk.Sleeps(), err)
		}
		if got := r.Stats(); got.GaveUp != 1 || got.Retries != 1 {
			t.Errorf("Stats() = %+v, want 1 retry, 1 gave up", got)
		}
	})
}

func TestRetryStopsWhenCallerCancels(t *testing.T) {
	t.Run("during the attempt", func(t *testing.T) {
		r, _ := newTestRetry(t, RetryOptions{})
		ctx, cancel := context.WithCancel(context.Background())
		calls := 0
		next := func(context.Context, redis.Cmder) error { calls++; cancel(); return errDial }
		err := r.processHook(next)(ctx, redis.NewStringCmd(ctx, "get", "k"))
		if calls != 1 || !errors.Is(err, ErrNotSent) {
			t.Errorf("%d attempts, error %v; want 1 attempt, not sent", calls, err)
		}
	})
	t.Run("during the delay", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		r, clk := newTestRetry(t, RetryOptions{OnRetry: func(RetryEvent) { cancel() }})
		calls := 0
		err := r.processHook(failingNext(&calls, errReadTO, errReadTO))(ctx, redis.NewStringCmd(ctx, "get", "k"))
		if calls != 1 || len(clk.Sleeps()) != 0 || !errors.Is(err, ErrMaybeApplied) {
			t.Errorf("%d attempts, sleeps %v, error %v; want 1 attempt, no sleep", calls, clk.Sleeps(), err)
		}
	})
	t.Run("context error from next", func(t *testing.T) {
		r, _ := newTestRetry(t, RetryOptions{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		calls := 0
		err := r.processHook(failingNext(&calls, context.Canceled))(ctx, redis.NewStringCmd(ctx, "get", "k"))
		if calls != 1 || err != context.Canceled {
			t.Errorf("%d attempts, error %v; want 1 attempt, context.Canceled unchanged", calls, err)
		}
	})
}

func TestRetryEventsAndLog(t *testing.T) {
	var buf bytes.Buffer
	var events []RetryEvent
	r, _ := newTestRetry(t, RetryOptions{
		Logger:  slog.New(slog.NewTextHandler(&buf, nil)),
		OnRetry: func(e RetryEvent) { events = append(events, e) },
	})
	calls := 0
	if err := r.processHook(failingNext(&calls, errDial, io.EOF))(context.Background(),
		redis.NewStringCmd(context.Background(), "get", "k")); err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 || events[0].Attempt != 1 || events[1].Attempt != 2 || events[0].Command != "get" ||
		events[0].Err != errDial || events[1].Err != io.EOF || events[0].Delay <= 0 {
		t.Errorf("events %+v", events)
	}
	log := buf.String()
	for _, want := range []string{`msg="Redis operation failed, retrying"`, "attempt=1", "attempt=2", "delay=", "command=get", "error=EOF", "level=WARN"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

// TestRetryClearsStaleResults checks that a re-run starts from clean
// commands: go-redis fills only the errors that are still nil, so an error
// left from the first attempt would survive a successful second one.
func TestRetryClearsStaleResults(t *testing.T) {
	ctx := context.Background()
	a := redis.NewStringCmd(ctx, "get", "a")
	b := redis.NewIntCmd(ctx, "exists", "b")
	c := redis.NewStringSliceCmd(ctx, "lrange", "c", 0, -1)
	cmds := []redis.Cmder{a, b, c}
	attempt := 0
	next := func(ctx context.Context, cmds []redis.Cmder) error {
		attempt++
		if attempt == 1 {
			a.SetVal("stale")
			b.SetVal(7)
			c.SetVal([]string{"x"})
			c.SetErr(io.EOF)
			return io.EOF
		}
		for i, cmd := range cmds {
			if cmd.Err() != nil {
				t.Errorf("attempt 2: command %d still has error %v", i, cmd.Err())
			}
		}
		if a.Val() != "" || b.Val() != 0 || c.Val() != nil {
			t.Errorf("attempt 2: stale values %q %d %v", a.Val(), b.Val(), c.Val())
		}
		// Fail before reading anything, as go-redis does: only nil errors
		// are filled.
		for _, cmd := range cmds {
			if cmd.Err() == nil {
				cmd.SetErr(errDial)
			}
		}
		return errDial
	}
	r, _ := newTestRetry(t, RetryOptions{MaxAttempts: 2})
	err := r.processPipelineHook(next)(ctx, cmds)
	if attempt != 2 || !errors.Is(err, ErrMaybeApplied) {
		t.Fatalf("%d attempts, error %v", attempt, err)
	}
	if a.Val() != "" || b.Val() != 0 || c.Val() != nil {
		t.Errorf("values from the first attempt survived: %q %d %v", a.Val(), b.Val(), c.Val())
	}
	for i, cmd := range cmds {
		// Each command's error is classified (a *RetryError) and wraps the
		// last attempt's error, not the first's.
		if e := cmd.Err(); !errors.Is(e, errDial) || errors.Is(e, io.EOF) || !errors.Is(e, ErrMaybeApplied) {
			t.Errorf("command %d error %v, want the last attempt's", i, e)
		}
	}
}

// pipelineNext returns a next that gives each command the error of its
// slot in the attempt's list (nil: success) and returns the batch error.
func pipelineNext(calls *int, attempts ...func(cmds []redis.Cmder) error) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		i := *calls
		*calls++
		if i < len(attempts) {
			return attempts[i](cmds)
		}
		return nil
	}
}

// stamp sets errs on cmds and returns what go-redis would return.
func stamp(batchErr error, errs ...error) func([]redis.Cmder) error {
	return func(cmds []redis.Cmder) error {
		for i, e := range errs {
			cmds[i].SetErr(e)
		}
		return batchErr
	}
}

func TestRetryPipelineDecision(t *testing.T) {
	ctx := context.Background()
	get := func() redis.Cmder { return redis.NewStringCmd(ctx, "get", "k") }
	set := func() redis.Cmder { return redis.NewStatusCmd(ctx, "set", "k", "v") }
	incr := func() redis.Cmder { return redis.NewIntCmd(ctx, "incr", "k") }
	multi := func() redis.Cmder { return redis.NewStatusCmd(ctx, "multi") }
	exec := func() redis.Cmder { return redis.NewSliceCmd(ctx, "exec") }
	readonly := replyErr("READONLY You can't write against a read only replica.")
	loading := replyErr("LOADING Redis is loading the dataset in memory")
	abort := replyErr("EXECABORT Transaction discarded because of previous errors.")
	syntax := replyErr("ERR syntax error")
	cases := []struct {
		name     string
		cmds     []redis.Cmder
		attempt1 func([]redis.Cmder) error
		want     int // attempts
		sentinel error
	}{
		{"idempotent, EOF", []redis.Cmder{get(), set()}, stamp(io.EOF, io.EOF, io.EOF), 2, nil},
		{"INCR in it, EOF", []redis.Cmder{incr(), get()}, stamp(io.EOF, io.EOF, io.EOF), 1, ErrMaybeApplied},
		{"INCR ran, later SET rejected", []redis.Cmder{incr(), set()}, stamp(readonly, nil, readonly), 1, ErrRejected},
		{"GET answered nil, SET loading", []redis.Cmder{get(), set()}, stamp(redis.Nil, redis.Nil, loading), 2, nil},
		{"INCRs not sent", []redis.Cmder{incr(), incr()}, stamp(errDial, errDial, errDial), 2, nil},
		{"INCR, failed write", []redis.Cmder{incr()}, stamp(errWriteFail, errWriteFail), 1, ErrMaybeApplied},
		{"answers only", []redis.Cmder{get(), incr()}, stamp(redis.Nil, redis.Nil, nil), 1, redis.Nil},
		{"tx aborted on READONLY", []redis.Cmder{multi(), incr(), exec()}, stamp(abort, abort, readonly, abort), 2, nil},
		{"tx aborted on a syntax error", []redis.Cmder{multi(), incr(), exec()}, stamp(abort, abort, syntax, abort), 1, abort},
		{"tx with INCR, EOF", []redis.Cmder{multi(), incr(), exec()}, stamp(io.EOF, nil, io.EOF, io.EOF), 1, ErrMaybeApplied},
		{"tx with SET, EOF", []redis.Cmder{multi(), set(), exec()}, stamp(io.EOF, nil, io.EOF, io.EOF), 2, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, _ := newTestRetry(t, RetryOptions{})
			calls := 0
			err := r.processPipelineHook(pipelineNext(&calls, c.attempt1))(ctx, c.cmds)
			if calls != c.want {
				t.Errorf("%d attempts, want %d (error %v)", calls, c.want, err)
			}
			switch {
			case c.sentinel == nil && err != nil:
				t.Errorf("error %v, want success on the retry", err)
			case c.sentinel != nil && !errors.Is(err, c.sentinel):
				t.Errorf("error %v, want %v", err, c.sentinel)
			}
		})
	}
}

// TestRetrySuccessPathAllocatesNothing backs the benchmark's claim with a
// check that runs in every test run.
func TestRetrySuccessPathAllocatesNothing(t *testing.T) {
	r, _ := newTestRetry(t, RetryOptions{})
	br := newTestBreaker(t, BreakerOptions{})
	ctx := context.Background()
	h := r.processHook(br.forNode("n").ProcessHook(noopNext))
	hp := r.processPipelineHook(br.forNode("n").ProcessPipelineHook(noopNextPipeline))
	cmd := redis.NewStringCmd(ctx, "get", "k")
	cmds := []redis.Cmder{cmd}
	if n := testing.AllocsPerRun(1000, func() { _ = h(ctx, cmd); _ = hp(ctx, cmds) }); n != 0 {
		t.Errorf("Retry+Breaker success path: %v allocations per call, want 0", n)
	}
}

// ---- real redis-server ----

// guardedClient returns a client for addr with go-redis's own retries off
// and Retry (and the extra hooks) attached.
func guardedClient(t *testing.T, opt redis.Options, hs ...Guard) *redis.Client {
	t.Helper()
	opt.MaxRetries = -1
	c := redis.NewClient(&opt)
	t.Cleanup(func() { _ = c.Close() })
	if err := Attach(c, hs...); err != nil {
		t.Fatal(err)
	}
	return c
}

// restartClient returns a Retry that rides out a server restart (delays of
// 10ms to 100ms, maxAttempts attempts within 5s) and a guarded client for
// addr that uses it.
func restartClient(t *testing.T, addr string, maxAttempts, poolSize int) (*Retry, *redis.Client) {
	t.Helper()
	r := mustRetry(t, RetryOptions{
		MaxAttempts: maxAttempts, InitialInterval: 10 * time.Millisecond, MaxInterval: 100 * time.Millisecond,
		MaxElapsed: 5 * time.Second,
	})
	return r, guardedClient(t, redis.Options{
		Addr: addr, PoolSize: poolSize, DialTimeout: 500 * time.Millisecond,
		ReadTimeout: time.Second, WriteTimeout: time.Second, DialerRetries: 1,
	}, r)
}

// TestRetryRestartUnderIncr kills the server (AOF, appendfsync always)
// with SIGKILL three times under 16 goroutines doing INCR on one key, and
// checks after each restart that acked <= counter <= acked + ambiguous:
// no acknowledged write was lost, and no INCR was applied twice.
func TestRetryRestartUnderIncr(t *testing.T) {
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	r, rdb := restartClient(t, srv.Addr(), 50, 32)

	const workers = 16
	var acked, ambiguous, notApplied, stopped atomic.Int64
	var unknown []error
	var unknownMu sync.Mutex
	run := func(stop <-chan struct{}) *sync.WaitGroup {
		var wg sync.WaitGroup
		for i := 0; i < workers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
					err := rdb.Incr(ctx, "counter").Err()
					cancel()
					switch {
					case err == nil:
						acked.Add(1)
					case errors.Is(err, ErrMaybeApplied):
						ambiguous.Add(1)
					case errors.Is(err, ErrNotSent), errors.Is(err, ErrRejected):
						notApplied.Add(1)
					case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
						// Outcome unknown: count it as ambiguous, and report it.
						stopped.Add(1)
						ambiguous.Add(1)
					default:
						unknownMu.Lock()
						unknown = append(unknown, err)
						unknownMu.Unlock()
					}
				}
			}()
		}
		return &wg
	}
	waitAll := func(wg *sync.WaitGroup) {
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("INCR calls did not return: a call hung past its deadline")
		}
	}
	for restart := 1; restart <= 3; restart++ {
		stop := make(chan struct{})
		wg := run(stop)
		time.Sleep(200 * time.Millisecond)
		srv.Kill()
		time.Sleep(150 * time.Millisecond)
		srv.Restart()
		time.Sleep(300 * time.Millisecond)
		close(stop)
		waitAll(wg)

		reply, err := redistest.Do(srv.Addr(), 5*time.Second, "GET", "counter")
		var final int64
		if err == nil {
			_, err = fmt.Sscan(reply, &final)
		}
		if err != nil {
			t.Fatalf("restart %d: reading the counter: %v", restart, err)
		}
		a, amb := acked.Load(), ambiguous.Load()
		t.Logf("restart %d: acked %d, ambiguous %d (of which context ended %d), not applied %d, final counter %d",
			restart, a, amb, stopped.Load(), notApplied.Load(), final)
		if final < a {
			t.Errorf("restart %d: counter %d < acked %d: an acknowledged INCR was lost", restart, final, a)
		}
		if final > a+amb {
			t.Errorf("restart %d: counter %d > acked %d + ambiguous %d: an INCR was applied twice", restart, final, a, amb)
		}
	}
	if len(unknown) > 0 {
		t.Errorf("%d errors of no known kind, first: %v", len(unknown), unknown[0])
	}
	st := r.Stats()
	t.Logf("retry stats: %+v", st)
	if st.Retries == 0 {
		t.Error("no retry happened: the restarts did not exercise the hook")
	}
}

// TestRetryRestartUnderSetGet: idempotent traffic across a kill and
// restart reaches callers with no error at all.
func TestRetryRestartUnderSetGet(t *testing.T) {
	srv := redistest.Start(t)
	r, rdb := restartClient(t, srv.Addr(), 100, 16)
	var ops, errs atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			key := fmt.Sprintf("k%d", i)
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := rdb.Set(ctx, key, n, 0).Err()
				if err == nil {
					err = rdb.Get(ctx, key).Err()
					if err == redis.Nil { // the restart lost the value: an answer
						err = nil
					}
				}
				cancel()
				ops.Add(1)
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}(i)
	}
	time.Sleep(200 * time.Millisecond)
	srv.Kill()
	time.Sleep(200 * time.Millisecond)
	srv.Restart()
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	st := r.Stats()
	t.Logf("%d SET+GET rounds, %d errors; retry stats %+v", ops.Load(), errs.Load(), st)
	if n := errs.Load(); n != 0 {
		t.Errorf("%d errors reached callers, first: %v", n, firstErr.Load())
	}
	if st.Retries == 0 || st.Recovered == 0 {
		t.Errorf("stats %+v: the restart did not exercise the hook", st)
	}
}

// The read-timeout tests: a proxy delays every reply by 700ms, longer than
// the client's 300ms ReadTimeout, so each command runs on the server but
// its reply comes too late.
const (
	slowReply   = 700 * time.Millisecond
	readTimeout = 300 * time.Millisecond
)

// warmPool opens n connections and leaves them idle in rdb's pool, so
// that later attempts need no new connection (whose handshake the slow
// proxy would also delay): a retry of INCR reaches the server.
func warmPool(t *testing.T, rdb *redis.Client, n int) {
	t.Helper()
	conns := make([]*redis.Conn, n)
	for i := range conns {
		conns[i] = rdb.Conn()
		if err := conns[i].Ping(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range conns {
		_ = c.Close()
	}
	if idle := rdb.PoolStats().IdleConns; idle < uint32(n) {
		t.Fatalf("%d idle connections, want %d", idle, n)
	}
}

// settle waits until the delayed replies of discarded connections have
// drained, so the server-side counter is final.
func settle() { time.Sleep(slowReply + 100*time.Millisecond) }

func TestRetryReadTimeoutAfterWrite(t *testing.T) {
	srv := redistest.Start(t)
	px := redistest.NewProxy(t, srv.Addr())
	direct := srv.Client(t, &redis.Options{MaxRetries: -1})

	t.Run("INCR not retried", func(t *testing.T) {
		r := mustRetry(t, RetryOptions{MaxAttempts: 4, InitialInterval: 10 * time.Millisecond})
		rdb := guardedClient(t, redis.Options{Addr: px.Addr(), ReadTimeout: readTimeout, PoolSize: 8}, r)
		warmPool(t, rdb, 4)
		name := px.Latency("downstream", slowReply, 0)
		err := rdb.Incr(context.Background(), "incr-once").Err()
		px.RemoveToxic(name)
		settle()
		got, gerr := direct.Get(context.Background(), "incr-once").Int()
		t.Logf("INCR through a %v reply delay, ReadTimeout %v: error %v; counter %d; stats %+v", slowReply, readTimeout, err, got, r.Stats())
		if !errors.Is(err, ErrMaybeApplied) {
			t.Errorf("error %v, want one matching ErrMaybeApplied", err)
		}
		if gerr != nil || got != 1 {
			t.Errorf("counter %d (%v), want 1: INCR applied once", got, gerr)
		}
		if st := r.Stats(); st.Retries != 0 || st.NotRetried != 1 {
			t.Errorf("stats %+v, want no retry and one NotRetried", st)
		}
	})

	t.Run("GET retried", func(t *testing.T) {
		if err := direct.Set(context.Background(), "g", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		var name string
		var events atomic.Int32
		r := mustRetry(t, RetryOptions{
			MaxAttempts: 4, InitialInterval: 10 * time.Millisecond,
			// The first retry finds the path healthy again.
			OnRetry: func(RetryEvent) {
				if events.Add(1) == 1 {
					px.RemoveToxic(name)
				}
			},
		})
		rdb := guardedClient(t, redis.Options{Addr: px.Addr(), ReadTimeout: readTimeout}, r)
		if err := rdb.Ping(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
		name = px.Latency("downstream", slowReply, 0)
		v, err := rdb.Get(context.Background(), "g").Result()
		st := r.Stats()
		t.Logf("GET through a %v reply delay: %q, %v; stats %+v", slowReply, v, err, st)
		if err != nil || v != "v" {
			t.Errorf("GET = %q, %v; want \"v\"", v, err)
		}
		if st.Retries != 1 || st.Recovered != 1 {
			t.Errorf("stats %+v, want one retry that recovered", st)
		}
		settle()
	})
}

// TestRetryContrastGoRedisMaxRetriesAppliesIncrTwice is the contrast: go-redis's own
// retries (MaxRetries: 3, no Retry hook) re-send INCR after the read
// timeout, so one call applies it several times.
func TestRetryContrastGoRedisMaxRetriesAppliesIncrTwice(t *testing.T) {
	srv := redistest.Start(t)
	px := redistest.NewProxy(t, srv.Addr())
	direct := srv.Client(t, &redis.Options{MaxRetries: -1})
	rdb := redis.NewClient(&redis.Options{Addr: px.Addr(), ReadTimeout: readTimeout, MaxRetries: 3, PoolSize: 8})
	t.Cleanup(func() { _ = rdb.Close() })
	warmPool(t, rdb, 4)
	name := px.Latency("downstream", slowReply, 0)
	err := rdb.Incr(context.Background(), "incr-many").Err()
	px.RemoveToxic(name)
	settle()
	got, gerr := direct.Get(context.Background(), "incr-many").Int()
	t.Logf("go-redis MaxRetries 3, one INCR through a %v reply delay: error %v; counter %d", slowReply, err, got)
	if err == nil {
		t.Error("INCR succeeded; want the read timeout")
	}
	if gerr != nil || got < 2 {
		t.Errorf("counter %d (%v): want at least 2, go-redis re-sending INCR", got, gerr)
	}
}

// TestRetryReadOnlyReplica: a write to a replica gets READONLY, which
// Retry retries for every command (the server did not run it), and which
// does not trip the breaker.
func TestRetryReadOnlyReplica(t *testing.T) {
	master := redistest.Start(t, "--repl-diskless-sync-delay", "0")
	replica := redistest.Start(t, "--replicaof", "127.0.0.1", fmt.Sprint(master.Port()))
	var promote sync.Once
	for i := 0; ; i++ {
		info, err := redistest.Do(replica.Addr(), time.Second, "INFO", "replication")
		if err == nil && strings.Contains(info, "master_link_status:up") {
			break
		}
		if i == 200 {
			t.Fatalf("replica not in sync: %v %s", err, info)
		}
		time.Sleep(50 * time.Millisecond)
	}
	r := mustRetry(t, RetryOptions{MaxAttempts: 3, InitialInterval: 10 * time.Millisecond})
	br := newTestBreaker(t, BreakerOptions{ConsecutiveFailures: 2})
	rdb := guardedClient(t, redis.Options{Addr: replica.Addr()}, r, br)

	for i := 0; i < 3; i++ {
		err := rdb.Incr(context.Background(), "n").Err()
		if !redis.IsReadOnlyError(err) || !errors.Is(err, ErrRejected) {
			t.Fatalf("INCR on a replica: %v, want READONLY matching ErrRejected", err)
		}
	}
	if st := r.Stats(); st.Retries != 6 || st.GaveUp != 3 {
		t.Errorf("stats %+v: want READONLY retried twice per call", st)
	}
	if s := br.state(replica.Addr()); s != BreakerClosed {
		t.Errorf("breaker %v after 9 READONLY replies, want closed", s)
	}

	// Promoted between two attempts, the replica takes the write: one
	// INCR, applied once.
	r2 := mustRetry(t, RetryOptions{
		MaxAttempts: 3, InitialInterval: 10 * time.Millisecond,
		OnRetry: func(RetryEvent) {
			promote.Do(func() {
				if _, err := redistest.Do(replica.Addr(), time.Second, "REPLICAOF", "NO", "ONE"); err != nil {
					t.Error(err)
				}
			})
		},
	})
	rdb2 := guardedClient(t, redis.Options{Addr: replica.Addr()}, r2)
	n, err := rdb2.Incr(context.Background(), "n").Result()
	if err != nil || n != 1 {
		t.Errorf("INCR after promotion = %d, %v; want 1", n, err)
	}
	if st := r2.Stats(); st.Retries != 1 || st.Recovered != 1 {
		t.Errorf("stats %+v, want one retry that recovered", st)
	}
}

// TestRetryServerRejectionsFromFake: the replies a real server cannot be
// made to give on demand, from the fake server. Each is retried for INCR,
// and the server sees INCR exactly as often as Retry sent it.
func TestRetryServerRejectionsFromFake(t *testing.T) {
	replies := []string{
		"-LOADING Redis is loading the dataset in memory\r\n",
		"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSCRIPT.\r\n",
		"-TRYAGAIN Multiple keys request during rehashing of slot\r\n",
		"-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n",
		"-CLUSTERDOWN The cluster is down\r\n",
		"-ERR max number of clients reached\r\n",
	}
	for _, rej := range replies {
		t.Run(strings.Fields(strings.TrimPrefix(rej, "-"))[0], func(t *testing.T) {
			var n atomic.Int32
			fake := startFake(t, func(args []string) string {
				if strings.EqualFold(args[0], "incr") && n.Add(1) <= 2 {
					return rej
				}
				return ":1\r\n"
			})
			r := mustRetry(t, RetryOptions{MaxAttempts: 3, InitialInterval: time.Millisecond})
			rdb := fakeClient(t, fake.Addr())
			if err := Attach(rdb, r); err != nil {
				t.Fatal(err)
			}
			v, err := rdb.Incr(context.Background(), "k").Result()
			if err != nil || v != 1 {
				t.Errorf("INCR = %d, %v; want 1 after two rejections", v, err)
			}
			if got := fake.count("incr"); got != 3 {
				t.Errorf("server saw %d INCR, want 3", got)
			}
			if st := r.Stats(); st.Retries != 2 || st.Recovered != 1 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// TestRetryAnswersNotRetried: replies of a healthy server, from a real
// one, are returned at once and leave the breaker closed and counting
// successes.
func TestRetryAnswersNotRetried(t *testing.T) {
	srv := redistest.Start(t)
	r := mustRetry(t, RetryOptions{})
	br := newTestBreaker(t, BreakerOptions{ConsecutiveFailures: 1})
	rdb := guardedClient(t, redis.Options{Addr: srv.Addr()}, r, br)
	ctx := context.Background()
	if err := rdb.LPush(ctx, "list", "x").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		err  error
		is   func(error) bool
	}{
		{"nil", rdb.Get(ctx, "missing").Err(), func(e error) bool { return e == redis.Nil }},
		{"wrongtype", rdb.Incr(ctx, "list").Err(), func(e error) bool { return strings.HasPrefix(e.Error(), "WRONGTYPE") }},
		{"noscript", rdb.EvalSha(ctx, "0123456789012345678901234567890123456789", nil).Err(),
			func(e error) bool { return strings.HasPrefix(e.Error(), "NOSCRIPT") }},
		{"syntax", rdb.Do(ctx, "set", "k", "v", "bogus").Err(), func(e error) bool { return strings.Contains(e.Error(), "syntax") }},
	}
	for _, c := range checks {
		if c.err == nil || !c.is(c.err) || classifyError(c.err) != outcomeAnswer {
			t.Errorf("%s: error %v (%v)", c.name, c.err, classifyError(c.err))
		}
	}
	if st := r.Stats(); st != (RetryStats{}) {
		t.Errorf("stats %+v, want nothing retried", st)
	}
	// Each command reached the server once.
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"cmdstat_get:calls=1,", "cmdstat_incr:calls=1,", "cmdstat_evalsha:calls=1,", "cmdstat_set:calls=1,"} {
		if !strings.Contains(info, want) {
			t.Errorf("commandstats lacks %q:\n%s", want, info)
		}
	}
	nb, ok := br.nodes.Peek(srv.Addr())
	if !ok {
		t.Fatalf("no breaker for %s: %v", srv.Addr(), br.nodes.Keys())
	}
	counts := nb.counts()
	if br.state(srv.Addr()) != BreakerClosed || counts.TotalFailures != 0 || counts.TotalSuccesses < 4 {
		t.Errorf("breaker %v, counts %+v: want closed, answers counted as successes", br.state(srv.Addr()), counts)
	}
}

// TestRetryCancelledCaller: a caller that cancelled gets no retry and does
// not count against the node.
func TestRetryCancelledCaller(t *testing.T) {
	srv := redistest.Start(t)
	r := mustRetry(t, RetryOptions{})
	br := newTestBreaker(t, BreakerOptions{ConsecutiveFailures: 1})
	rdb := guardedClient(t, redis.Options{Addr: srv.Addr(), ReadTimeout: 200 * time.Millisecond}, r, br)
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	// Cancelled before the call.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err1 := rdb.Get(ctx, "k").Err()
	// Cancelled while the server does not answer: the read times out after
	// the cancellation.
	srv.Pause()
	ctx2, cancel2 := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel2)
	err2 := rdb.Get(ctx2, "k").Err()
	srv.Resume()
	t.Logf("cancelled before: %v; cancelled during: %v", err1, err2)
	if err1 == nil || err2 == nil {
		t.Fatalf("errors %v, %v; want both calls to fail", err1, err2)
	}
	if st := r.Stats(); st.Retries != 0 {
		t.Errorf("stats %+v, want no retry", st)
	}
	nb, _ := br.nodes.Peek(srv.Addr())
	if c := nb.cb.Counts(); c.TotalFailures != 0 || br.state(srv.Addr()) != BreakerClosed {
		t.Errorf("breaker counts %+v, state %v: a cancelled call was counted as a failure", c, br.state(srv.Addr()))
	}
}

func TestRetryWaitOutOpenCircuit(t *testing.T) {
	open := fmt.Errorf("hooks: circuit open for node 127.0.0.1:1: %w", ErrCircuitOpen)
	for _, wait := range []bool{false, true} {
		t.Run(fmt.Sprintf("wait=%v", wait), func(t *testing.T) {
			r, _ := newTestRetry(t, RetryOptions{MaxAttempts: 5, WaitOutOpenCircuit: wait})
			calls := 0
			// Open twice, then the breaker lets the command through.
			err := r.processHook(failingNext(&calls, open, open))(context.Background(), redis.NewIntCmd(context.Background(), "incr", "k"))
			if !wait {
				if calls != 1 || !errors.Is(err, ErrCircuitOpen) {
					t.Fatalf("fail-fast: %d calls, err %v; want 1 call and ErrCircuitOpen", calls, err)
				}
				return
			}
			// Even INCR may be sent again: an open circuit means it never left.
			if calls != 3 || err != nil {
				t.Fatalf("wait-out: %d calls, err %v; want 3 calls and success", calls, err)
			}
		})
	}
}

// The same for a pipeline holding INCR, refused as the Breaker refuses it:
// every command carries the open-circuit error.
func TestRetryWaitOutOpenCircuitPipeline(t *testing.T) {
	open := fmt.Errorf("hooks: circuit open for node 127.0.0.1:1: %w", ErrCircuitOpen)
	r, _ := newTestRetry(t, RetryOptions{MaxAttempts: 5, WaitOutOpenCircuit: true})
	calls := 0
	next := func(ctx context.Context, cmds []redis.Cmder) error {
		calls++
		if calls <= 2 {
			for _, c := range cmds {
				c.SetErr(open)
			}
			return open
		}
		return nil
	}
	ctx := context.Background()
	cmds := []redis.Cmder{redis.NewIntCmd(ctx, "incr", "k"), redis.NewStringCmd(ctx, "get", "k")}
	if err := r.processPipelineHook(next)(ctx, cmds); err != nil || calls != 3 {
		t.Fatalf("%d calls, err %v; want 3 calls and success", calls, err)
	}
}
