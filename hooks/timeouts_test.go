package hooks

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/internal/redistest"
)

func ltNewTimeouts(t testing.TB, opt TimeoutOptions) *Timeouts {
	t.Helper()
	tmo, err := NewTimeouts(opt)
	if err != nil {
		t.Fatal(err)
	}
	return tmo
}

func ltCmd(args ...any) redis.Cmder { return redis.NewCmd(context.Background(), args...) }

// timeout returns cmd's deadline, or -1 for none.
func (t *Timeouts) timeout(cmd redis.Cmder) time.Duration {
	return t.forInfo(t.table.info(cmd))
}

func TestTimeoutsClassDeadlines(t *testing.T) {
	base := TimeoutOptions{
		Read: 1 * time.Second, Write: 2 * time.Second, Slow: 3 * time.Second,
		Script: 4 * time.Second, Default: 5 * time.Second, BlockingMargin: 500 * time.Millisecond,
	}
	withCap := base
	withCap.BlockingCap = 30 * time.Second
	perCmd := base
	perCmd.PerCommand = map[string]time.Duration{"GET": 7 * time.Second, " keys ": 0, "blpop": 9 * time.Second}
	noRead := base
	noRead.Read = -1
	cases := []struct {
		name string
		opt  TimeoutOptions
		cmd  redis.Cmder
		want time.Duration // -1: none
	}{
		{"read", base, ltCmd("get", "k"), 1 * time.Second},
		{"read, upper case", base, ltCmd("GET", "k"), 1 * time.Second},
		{"write", base, ltCmd("set", "k", "v"), 2 * time.Second},
		{"slow", base, ltCmd("keys", "*"), 3 * time.Second},
		{"script", base, ltCmd("eval", "return 1", 0), 4 * time.Second},
		{"default: neither read nor write", base, ltCmd("ping"), 5 * time.Second},
		{"default: unknown command", base, ltCmd("no-such-command"), 5 * time.Second},
		{"blocking: own timeout + margin", base, ltCmd("blpop", "q", 2), 2500 * time.Millisecond},
		{"blocking: XREAD BLOCK in ms", base, ltCmd("xread", "block", 1500, "streams", "s", "$"), 2 * time.Second},
		{"XREAD without BLOCK is a read", base, ltCmd("xread", "streams", "s", "$"), 1 * time.Second},
		{"blocking forever: none", base, ltCmd("blpop", "q", 0), -1},
		{"blocking forever with a cap: the cap + margin", withCap, ltCmd("blpop", "q", 0), 30500 * time.Millisecond},
		{"long block: the cap + margin", withCap, ltCmd("blpop", "q", 600), 30500 * time.Millisecond},
		{"block at the cap keeps its margin", withCap, ltCmd("blpop", "q", 30), 30500 * time.Millisecond},
		{"short block under the cap", withCap, ltCmd("blpop", "q", 2), 2500 * time.Millisecond},
		{"per command", perCmd, ltCmd("get", "k"), 7 * time.Second},
		{"per command 0: none", perCmd, ltCmd("keys", "*"), -1},
		{"per command replaces the blocking rule", perCmd, ltCmd("blpop", "q", 0), 9 * time.Second},
		{"per command leaves the others", perCmd, ltCmd("set", "k", "v"), 2 * time.Second},
		{"negative class: none", noRead, ltCmd("get", "k"), -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ltNewTimeouts(t, c.opt).timeout(c.cmd); got != c.want {
				t.Errorf("timeout(%v) = %v, want %v", c.cmd.Args(), got, c.want)
			}
		})
	}
}

func TestTimeoutsOptions(t *testing.T) {
	tmo := ltNewTimeouts(t, TimeoutOptions{})
	d := defaultTimeoutOptions
	if tmo.read != d.Read || tmo.write != d.Write || tmo.slow != d.Slow || tmo.script != d.Script ||
		tmo.def != d.Default || tmo.margin != d.BlockingMargin || tmo.cap > 0 {
		t.Errorf("zero options did not take the defaults: %+v", tmo)
	}
	for _, name := range []string{" ", "config get", "client|setname"} {
		_, err := NewTimeouts(TimeoutOptions{PerCommand: map[string]time.Duration{name: time.Second}})
		if err == nil || !strings.HasPrefix(err.Error(), "hooks: TimeoutOptions.PerCommand has") {
			t.Errorf("PerCommand key %q: %v", name, err)
		}
	}
}

// ltSeen is what a next saw of its context.
type ltSeen struct {
	ctx           context.Context // do not call: Timeouts reuses its contexts
	done          <-chan struct{}
	dl            time.Time
	ok            bool
	before, after time.Time // around the first Deadline call
}

func ltSeeDeadline(ctx context.Context) ltSeen {
	s := ltSeen{ctx: ctx, before: time.Now()}
	s.dl, s.ok = ctx.Deadline()
	s.after = time.Now()
	s.done = ctx.Done()
	return s
}

// checkAbout checks that the deadline is d after the first Deadline call.
func (s ltSeen) checkAbout(t *testing.T, d time.Duration) {
	t.Helper()
	if !s.ok {
		t.Fatalf("no deadline, want %v", d)
	}
	if s.dl.Before(s.before.Add(d)) || s.dl.After(s.after.Add(d)) {
		t.Fatalf("deadline %v after the first Deadline call, want %v", s.dl.Sub(s.before), d)
	}
}

func TestTimeoutsHookDeadline(t *testing.T) {
	tmo := ltNewTimeouts(t, TimeoutOptions{Read: time.Second, Write: 2 * time.Second})
	var seen ltSeen
	h := tmo.processHook(func(ctx context.Context, _ redis.Cmder) error {
		seen = ltSeeDeadline(ctx)
		return nil
	})

	if err := h(context.Background(), ltCmd("get", "k")); err != nil {
		t.Fatal(err)
	}
	seen.checkAbout(t, time.Second)

	// A caller's earlier deadline wins, exactly.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	callerDl, _ := ctx.Deadline()
	if err := h(ctx, ltCmd("get", "k")); err != nil {
		t.Fatal(err)
	}
	if !seen.ok || !seen.dl.Equal(callerDl) {
		t.Fatalf("deadline %v, want the caller's %v", seen.dl, callerDl)
	}

	// A caller's later deadline loses.
	late, cancelLate := context.WithTimeout(context.Background(), time.Hour)
	defer cancelLate()
	if err := h(late, ltCmd("set", "k", "v")); err != nil {
		t.Fatal(err)
	}
	seen.checkAbout(t, 2*time.Second)
	if seen.done != late.Done() {
		t.Error("the caller's Done channel was not passed on")
	}

	// No deadline: the context is passed on untouched.
	if err := h(late, ltCmd("blpop", "q", 0)); err != nil {
		t.Fatal(err)
	}
	if seen.ctx != late {
		t.Errorf("BLPOP 0 got %v, want the caller's context", seen.ctx)
	}
}

func TestTimeoutsPipeline(t *testing.T) {
	tmo := ltNewTimeouts(t, TimeoutOptions{Read: time.Second, Write: 2 * time.Second, Slow: 3 * time.Second, Default: 4 * time.Second})
	cases := []struct {
		name string
		cmds []redis.Cmder
		want time.Duration
	}{
		{"longest wins", []redis.Cmder{ltCmd("get", "a"), ltCmd("set", "a", 1), ltCmd("get", "b")}, 2 * time.Second},
		{"slow", []redis.Cmder{ltCmd("get", "a"), ltCmd("keys", "*")}, 3 * time.Second},
		{"MULTI and EXEC aside", []redis.Cmder{ltCmd("multi"), ltCmd("get", "a"), ltCmd("exec")}, time.Second},
		{"one without a deadline", []redis.Cmder{ltCmd("get", "a"), ltCmd("blpop", "q", 0)}, -1},
		{"blocking", []redis.Cmder{ltCmd("get", "a"), ltCmd("blpop", "q", 10)}, 15 * time.Second},
		{"empty", nil, 4 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := tmo.pipelineTimeout(classifyBatch(tmo.table, c.cmds, nil)); got != c.want {
				t.Fatalf("pipelineTimeout = %v, want %v", got, c.want)
			}
			var seen ltSeen
			h := tmo.processPipelineHook(func(ctx context.Context, _ []redis.Cmder) error {
				seen = ltSeeDeadline(ctx)
				return nil
			})
			if err := h(context.Background(), c.cmds); err != nil {
				t.Fatal(err)
			}
			if c.want < 0 {
				if seen.ok {
					t.Fatalf("deadline %v, want none", seen.dl)
				}
				return
			}
			seen.checkAbout(t, c.want)
		})
	}
}

func TestTimeoutsStdContext(t *testing.T) {
	tmo := ltNewTimeouts(t, TimeoutOptions{Read: time.Second, StdContext: true})
	var seen ltSeen
	h := tmo.processHook(func(ctx context.Context, _ redis.Cmder) error {
		seen = ltSeeDeadline(ctx)
		return nil
	})
	before := time.Now()
	if err := h(context.Background(), ltCmd("get", "k")); err != nil {
		t.Fatal(err)
	}
	if _, pooled := seen.ctx.(*deadlineCtx); pooled || !seen.ok ||
		seen.dl.Before(before.Add(time.Second)) || seen.dl.After(seen.after.Add(time.Second)) {
		t.Fatalf("StdContext: %T with deadline %v", seen.ctx, seen.dl)
	}
	if seen.ctx.Err() == nil {
		t.Error("the derived context was not cancelled after the command")
	}
}

type ltKey struct{}

func TestDeadlineCtxSemantics(t *testing.T) {
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), ltKey{}, "v"))
	dc := newDeadlineCtx(parent, time.Hour, false)
	if dc.Err() != nil || dc.Done() != parent.Done() || dc.Value(ltKey{}) != "v" {
		t.Fatalf("fresh: err %v, value %v", dc.Err(), dc.Value(ltKey{}))
	}
	if dc.fixed.Load() != 0 {
		t.Fatal("the deadline was fixed before anyone asked for it")
	}
	d1, ok1 := dc.Deadline()
	d2, ok2 := dc.Deadline()
	if !ok1 || !ok2 || !d1.Equal(d2) {
		t.Fatalf("Deadline not stable: %v %v", d1, d2)
	}
	if !strings.Contains(dc.String(), "WithDeadline") {
		t.Errorf("String() = %q", dc.String())
	}
	// Like context.WithTimeout's, the deadline is on the monotonic clock: a
	// step of the wall clock moves neither it nor the waits and socket
	// deadlines go-redis and the Limiter derive from it (time.Until).
	// (time.Time.String shows a monotonic reading as " m=".)
	if !strings.Contains(d1.String(), " m=") {
		t.Errorf("Deadline %v carries no monotonic clock reading", d1)
	}
	blk := newDeadlineCtx(context.Background(), time.Hour, true)
	if dl, _ := waitDeadline(blk); !strings.Contains(dl.String(), " m=") {
		t.Errorf("waitDeadline of a blocking command: %v carries no monotonic clock reading", dl)
	}
	blk.release()
	// Contexts derived from it are cancelled with the parent.
	child, cancelChild := context.WithCancel(dc)
	defer cancelChild()
	cancel()
	<-child.Done()
	if !errors.Is(dc.Err(), context.Canceled) || !errors.Is(child.Err(), context.Canceled) {
		t.Fatalf("after the parent's cancel: %v, child %v", dc.Err(), child.Err())
	}
	dc.release()

	// An expired one reports DeadlineExceeded and a closed Done channel.
	ex := newDeadlineCtx(context.Background(), time.Nanosecond, false)
	defer ex.release()
	if ex.Err() != nil {
		t.Fatal("expired before its deadline was fixed")
	}
	_, _ = ex.Deadline()
	ltWaitFor(t, "the deadline to pass", func() bool { return ex.Err() != nil })
	if !errors.Is(ex.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err = %v", ex.Err())
	}
	select {
	case <-ex.Done():
	default:
		t.Fatal("Done not closed after the deadline")
	}
	// A context derived after the deadline is done at once.
	late, cancelLate := context.WithCancel(ex)
	defer cancelLate()
	if !errors.Is(late.Err(), context.DeadlineExceeded) {
		t.Fatalf("derived after the deadline: %v", late.Err())
	}

	// The parent's earlier deadline is reported.
	pctx, pcancel := context.WithTimeout(context.Background(), time.Minute)
	defer pcancel()
	pdl, _ := pctx.Deadline()
	pc := newDeadlineCtx(pctx, time.Hour, false)
	defer pc.release()
	if dl, _ := pc.Deadline(); !dl.Equal(pdl) {
		t.Fatalf("Deadline %v, want the parent's %v", dl, pdl)
	}

	// Concurrent first calls agree (cluster fan-outs share the context).
	cc := newDeadlineCtx(context.Background(), time.Hour, false)
	defer cc.release()
	var wg sync.WaitGroup
	got := make([]time.Time, 8)
	for i := range got {
		wg.Add(1)
		go func() { defer wg.Done(); got[i], _ = cc.Deadline() }()
	}
	wg.Wait()
	for _, g := range got[1:] {
		if !g.Equal(got[0]) {
			t.Fatalf("concurrent Deadline calls disagree: %v", got)
		}
	}
}

// ltRecorder is a hook that records the deadline of the last command it
// saw; added after Timeouts, it sees what go-redis will see.
type ltRecorder struct {
	mu   sync.Mutex
	seen ltSeen
}

func (r *ltRecorder) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *ltRecorder) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if isHandshake(cmd) {
			return next(ctx, cmd)
		}
		s := ltSeeDeadline(ctx)
		r.mu.Lock()
		r.seen = s
		r.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (r *ltRecorder) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (r *ltRecorder) last() ltSeen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen
}

// ltTimeoutClient is a client with Timeouts and a recorder inside it.
func ltTimeoutClient(t *testing.T, srv *redistest.Server, opt TimeoutOptions, maxRetries int) (*redis.Client, *ltRecorder) {
	t.Helper()
	rdb := srv.Client(t, &redis.Options{
		PoolSize: 1, MaxRetries: maxRetries, ContextTimeoutEnabled: true,
		ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
	})
	if err := Attach(rdb, ltNewTimeouts(t, opt)); err != nil {
		t.Fatal(err)
	}
	rec := &ltRecorder{}
	rdb.AddHook(rec)
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	return rdb, rec
}

func ltIsTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded)
}

// TestTimeoutsEachClassOnPausedServer sends a command of each class to a
// paused server, with that class's deadline short and every other one an
// hour: the command comes back as a timeout, with its class's deadline.
func TestTimeoutsEachClassOnPausedServer(t *testing.T) {
	srv := redistest.Start(t)
	const short = 300 * time.Millisecond
	long := time.Hour
	cases := []struct {
		name string
		set  func(o *TimeoutOptions)
		cmd  []any
		want time.Duration
	}{
		{"read", func(o *TimeoutOptions) { o.Read = short }, []any{"get", "k"}, short},
		{"write", func(o *TimeoutOptions) { o.Write = short }, []any{"set", "k", "v"}, short},
		{"slow", func(o *TimeoutOptions) { o.Slow = short }, []any{"keys", "*"}, short},
		{"script", func(o *TimeoutOptions) { o.Script = short }, []any{"eval", "return 1", 0}, short},
		{"default", func(o *TimeoutOptions) { o.Default = short }, []any{"ping"}, short},
		{"blocking", func(o *TimeoutOptions) { o.BlockingMargin = short }, []any{"blpop", "q", 1}, time.Second + short},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opt := TimeoutOptions{Read: long, Write: long, Slow: long, Script: long, Default: long, BlockingMargin: long}
			c.set(&opt)
			rdb, rec := ltTimeoutClient(t, srv, opt, -1)
			srv.Pause()
			defer srv.Resume()
			err := rdb.Do(context.Background(), c.cmd...).Err()
			if !ltIsTimeout(err) {
				t.Fatalf("%v on a paused server: %v, want a timeout", c.cmd, err)
			}
			rec.last().checkAbout(t, c.want)
		})
	}
}

// TestTimeoutsBlockingNotCutAtFastDeadline: BLPOP 2 gets 2 s + margin, not
// the 100 ms every other class has.
func TestTimeoutsBlockingNotCutAtFastDeadline(t *testing.T) {
	srv := redistest.Start(t)
	fast := 100 * time.Millisecond
	rdb, rec := ltTimeoutClient(t, srv, TimeoutOptions{
		Read: fast, Write: fast, Slow: fast, Script: fast, Default: fast, BlockingMargin: time.Second,
	}, -1)
	err := rdb.BLPop(context.Background(), 2*time.Second, "empty:q").Err()
	if err != redis.Nil {
		t.Fatalf("BLPOP 2 on an empty list: %v, want redis.Nil (it waited its 2 s)", err)
	}
	rec.last().checkAbout(t, 3*time.Second)
}

// TestTimeoutsCallerDeadlineWins: a caller's 50 ms deadline beats a 1 s
// class deadline on a paused server.
func TestTimeoutsCallerDeadlineWins(t *testing.T) {
	srv := redistest.Start(t)
	rdb, rec := ltTimeoutClient(t, srv, TimeoutOptions{Read: time.Second}, -1)
	srv.Pause()
	defer srv.Resume()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	callerDl, _ := ctx.Deadline()
	err := rdb.Get(ctx, "k").Err()
	if !ltIsTimeout(err) {
		t.Fatalf("GET: %v, want a timeout", err)
	}
	if s := rec.last(); !s.ok || !s.dl.Equal(callerDl) {
		t.Fatalf("go-redis saw deadline %v, want the caller's %v", s.dl, callerDl)
	}
}

// TestTimeoutsGoRedisRetryStopsAtDeadline: with go-redis's own retries on
// (MaxRetries 3), a command that timed out is not re-sent after its
// deadline, and no new connection is dialed for it.
func TestTimeoutsGoRedisRetryStopsAtDeadline(t *testing.T) {
	srv := redistest.Start(t)
	rdb, _ := ltTimeoutClient(t, srv, TimeoutOptions{Read: 200 * time.Millisecond}, 3)
	dialed := rdb.PoolStats().Misses
	srv.Pause()
	err := rdb.Get(context.Background(), "k").Err()
	srv.Resume()
	if !ltIsTimeout(err) {
		t.Fatalf("GET: %v, want a timeout", err)
	}
	if n := rdb.PoolStats().Misses - dialed; n != 0 {
		t.Fatalf("%d connections dialed for retries after the deadline", n)
	}
}
