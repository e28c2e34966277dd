package hooks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redisguard/redisguard/internal/redistest"
	"github.com/sony/gobreaker/v2"
)

func newTestBreaker(t *testing.T, opt BreakerOptions) *Breaker {
	t.Helper()
	b, err := NewBreaker(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// callWith runs one command through h with a next that returns err, and
// reports whether next ran.
func callWith(h redis.Hook, ctx context.Context, err error) (ran bool, got error) {
	got = h.ProcessHook(func(context.Context, redis.Cmder) error { ran = true; return err })(
		ctx, redis.NewStringCmd(ctx, "get", "k"))
	return ran, got
}

func counts(b *Breaker, addr string) gobreaker.Counts {
	nb, ok := b.nodes.Peek(addr)
	if !ok {
		return gobreaker.Counts{}
	}
	return nb.counts()
}

func TestBreakerOptionsValidation(t *testing.T) {
	for _, o := range []BreakerOptions{
		{FailureRatio: -0.1}, {FailureRatio: 1.5}, {Window: -time.Second}, {OpenTimeout: -time.Second}, {MaxNodes: -1},
	} {
		if _, err := NewBreaker(o); err == nil || !strings.HasPrefix(err.Error(), "hooks: ") {
			t.Errorf("NewBreaker(%+v) = %v, want a hooks: error", o, err)
		}
	}
	b := newTestBreaker(t, BreakerOptions{})
	if b.consecutiveFailures != 5 || b.failureRatio != 0.5 || b.minRequests != 20 || b.window != 10*time.Second ||
		b.openTimeout != 5*time.Second || b.halfOpenProbes != 1 {
		t.Errorf("defaults: %+v", b)
	}
}

func TestBreakerConsecutiveFailuresTrip(t *testing.T) {
	b := newTestBreaker(t, BreakerOptions{ConsecutiveFailures: 3, OpenTimeout: time.Hour})
	h := b.forNode("10.0.0.1:6379")
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		callWith(h, ctx, io.EOF)
	}
	callWith(h, ctx, nil) // a success resets the run
	for i := 0; i < 2; i++ {
		callWith(h, ctx, errDial)
	}
	if s := b.state("10.0.0.1:6379"); s != BreakerClosed {
		t.Fatalf("state %v after 2 failures in a row, want closed", s)
	}
	callWith(h, ctx, errReadTO)
	if s := b.state("10.0.0.1:6379"); s != BreakerOpen {
		t.Fatalf("state %v after 3 failures in a row, want open", s)
	}
	ran, err := callWith(h, ctx, nil)
	if ran || !errors.Is(err, ErrCircuitOpen) || !errors.Is(err, ErrNotSent) || !strings.Contains(err.Error(), "10.0.0.1:6379") {
		t.Errorf("open: next ran %v, error %v; want ErrCircuitOpen naming the node, next not run", ran, err)
	}
	// Other nodes have their own breaker.
	if ran, err := callWith(b.forNode("10.0.0.2:6379"), ctx, nil); !ran || err != nil {
		t.Errorf("another node: ran %v, %v", ran, err)
	}
	if got := b.States(); len(got) != 2 || got["10.0.0.1:6379"] != BreakerOpen || got["10.0.0.2:6379"] != BreakerClosed {
		t.Errorf("States() = %v", got)
	}
}

func TestBreakerFailureRatio(t *testing.T) {
	b := newTestBreaker(t, BreakerOptions{ConsecutiveFailures: 100, FailureRatio: 0.5, MinRequests: 10, OpenTimeout: time.Hour})
	h := b.forNode("n")
	ctx := context.Background()
	for i := 0; i < 9; i++ { // 5 failures of 9: MinRequests not reached
		err := error(nil)
		if i%2 == 0 {
			err = io.EOF
		}
		callWith(h, ctx, err)
	}
	if s := b.state("n"); s != BreakerClosed {
		t.Fatalf("state %v with 9 calls, want closed (MinRequests 10)", s)
	}
	callWith(h, ctx, nil) // 5 of 10: no failure, no check
	callWith(h, ctx, io.EOF)
	if s := b.state("n"); s != BreakerOpen {
		t.Fatalf("state %v at 6 failures of 11, want open; counts %+v", s, counts(b, "n"))
	}

	b2 := newTestBreaker(t, BreakerOptions{ConsecutiveFailures: 100, FailureRatio: 0.5, MinRequests: 10})
	h2 := b2.forNode("n")
	for i := 0; i < 30; i++ { // one failure in three
		err := error(nil)
		if i%3 == 0 {
			err = io.EOF
		}
		callWith(h2, ctx, err)
	}
	if s := b2.state("n"); s != BreakerClosed {
		t.Errorf("state %v at a third failing, want closed", s)
	}
}

// TestBreakerWindowRolls: failures older than the window no longer count.
// In a synctest bubble: the sleep moves the fake clock past the window at
// once.
func TestBreakerWindowRolls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const window = 100 * time.Millisecond
		b := newTestBreaker(t, BreakerOptions{ConsecutiveFailures: 100, FailureRatio: 0.5, MinRequests: 4, Window: window})
		h := b.forNode("n")
		ctx := context.Background()
		for i := 0; i < 3; i++ {
			callWith(h, ctx, io.EOF)
		}
		time.Sleep(window + window/2)
		for i := 0; i < 3; i++ {
			callWith(h, ctx, nil)
		}
		callWith(h, ctx, io.EOF)
		// Counting the old failures it would be 4 of 7; in the window it is 1
		// of 4.
		if s := b.state("n"); s != BreakerClosed {
			t.Errorf("state %v, want closed: old failures must have left the window; counts %+v", s, counts(b, "n"))
		}
		if c := counts(b, "n"); c.TotalFailures > 1 {
			t.Errorf("counts %+v: failures from before the window", c)
		}
	})
}

func TestBreakerHalfOpenProbes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const openTimeout = 50 * time.Millisecond
		b := newTestBreaker(t, BreakerOptions{ConsecutiveFailures: 1, OpenTimeout: openTimeout, HalfOpenProbes: 2})
		h := b.forNode("n")
		ctx := context.Background()
		callWith(h, ctx, io.EOF)
		if s := b.state("n"); s != BreakerOpen {
			t.Fatalf("state %v, want open", s)
		}
		time.Sleep(openTimeout * 2)
		if s := b.state("n"); s != BreakerHalfOpen {
			t.Fatalf("state %v after the open timeout, want half-open", s)
		}
		// A failed probe opens it again.
		callWith(h, ctx, io.EOF)
		if s := b.state("n"); s != BreakerOpen {
			t.Fatalf("state %v after a failed probe, want open", s)
		}
		time.Sleep(openTimeout * 2)
		// Probe 1 succeeds: with two probes it stays half-open.
		if ran, err := callWith(h, ctx, nil); !ran || err != nil {
			t.Fatalf("probe 1: ran %v, %v", ran, err)
		}
		if s := b.state("n"); s != BreakerHalfOpen {
			t.Fatalf("state %v after one probe of two, want half-open", s)
		}
		// While probe 2 is in flight, a third call is refused without running.
		var thirdRan bool
		var third error
		probe2 := func(context.Context, redis.Cmder) error {
			thirdRan, third = callWith(h, ctx, nil)
			return nil
		}
		if err := h.ProcessHook(probe2)(ctx, redis.NewStringCmd(ctx, "get", "k")); err != nil {
			t.Fatal(err)
		}
		if thirdRan || !errors.Is(third, ErrCircuitOpen) {
			t.Errorf("call beyond the probes: ran %v, %v; want ErrCircuitOpen", thirdRan, third)
		}
		if s := b.state("n"); s != BreakerClosed {
			t.Errorf("state %v after two good probes, want closed", s)
		}
	})
}

func TestBreakerCountsOnlyNodeFailures(t *testing.T) {
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	cases := []struct {
		name string
		ctx  context.Context
		err  error
		want string // success, failure, excluded
	}{
		{"nil", ctx, redis.Nil, "success"},
		{"wrongtype", ctx, replyErr("WRONGTYPE Operation against a key holding the wrong kind of value"), "success"},
		{"noscript", ctx, replyErr("NOSCRIPT No matching script."), "success"},
		{"syntax", ctx, replyErr("ERR syntax error"), "success"},
		{"readonly", ctx, replyErr("READONLY You can't write against a read only replica."), "success"},
		{"tryagain", ctx, replyErr("TRYAGAIN Multiple keys request during rehashing of slot"), "success"},
		{"loading", ctx, replyErr("LOADING Redis is loading the dataset in memory"), "failure"},
		{"busy", ctx, replyErr("BUSY Redis is busy running a script."), "failure"},
		{"masterdown", ctx, replyErr("MASTERDOWN Link with MASTER is down"), "failure"},
		{"clusterdown", ctx, replyErr("CLUSTERDOWN The cluster is down"), "success"},
		{"max clients", ctx, replyErr("ERR max number of clients reached"), "failure"},
		{"dial", ctx, errDial, "failure"},
		{"read timeout", ctx, errReadTO, "failure"},
		{"eof", ctx, io.EOF, "failure"},
		{"reset", ctx, errReset, "failure"},
		{"cancelled caller", cancelled, context.Canceled, "excluded"},
		{"cancelled caller, read timeout", cancelled, errReadTO, "excluded"},
		{"pool timeout", ctx, redis.ErrPoolTimeout, "excluded"},
		{"limited", ctx, errLimited, "excluded"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newTestBreaker(t, BreakerOptions{ConsecutiveFailures: 100})
			_, err := callWith(b.forNode("n"), c.ctx, c.err)
			if err != c.err {
				t.Errorf("error %v, want %v unchanged", err, c.err)
			}
			got := counts(b, "n")
			var kind string
			switch {
			case got.TotalSuccesses == 1 && got.TotalFailures == 0 && got.TotalExclusions == 0:
				kind = "success"
			case got.TotalFailures == 1 && got.TotalSuccesses == 0:
				kind = "failure"
			case got.TotalExclusions == 1 && got.TotalFailures == 0 && got.TotalSuccesses == 0:
				kind = "excluded"
			default:
				kind = fmt.Sprintf("%+v", got)
			}
			if kind != c.want {
				t.Errorf("counted as %s, want %s", kind, c.want)
			}
		})
	}
}

func TestBreakerPipelineCountsOnce(t *testing.T) {
	b := newTestBreaker(t, BreakerOptions{ConsecutiveFailures: 2})
	h := b.forNode("n")
	ctx := context.Background()
	cmds := []redis.Cmder{redis.NewStringCmd(ctx, "get", "a"), redis.NewStringCmd(ctx, "get", "b"), redis.NewStringCmd(ctx, "get", "c")}
	err := h.ProcessPipelineHook(func(_ context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			c.SetErr(io.EOF)
		}
		return io.EOF
	})(ctx, cmds)
	if err != io.EOF {
		t.Fatal(err)
	}
	if c := counts(b, "n"); c.Requests != 1 || c.TotalFailures != 1 {
		t.Errorf("counts %+v, want one request, one failure", c)
	}
	if s := b.state("n"); s != BreakerClosed {
		t.Errorf("state %v: a pipeline of three counted more than once", s)
	}
}

// TestBreakerOnStateChangeOutsideLock: the callback calls State and States,
// which take gobreaker's lock: called under it, this would deadlock.
func TestBreakerOnStateChangeOutsideLock(t *testing.T) {
	type ev struct {
		node     string
		from, to BreakerState
		seen     BreakerState
	}
	var mu sync.Mutex
	var events []ev
	var b *Breaker
	b = newTestBreaker(t, BreakerOptions{
		ConsecutiveFailures: 1, OpenTimeout: 20 * time.Millisecond,
		OnStateChange: func(node string, from, to BreakerState) {
			seen := b.state(node)
			_ = b.States()
			mu.Lock()
			events = append(events, ev{node, from, to, seen})
			mu.Unlock()
		},
	})
	h := b.forNode("n")
	ctx := context.Background()
	done := make(chan struct{})
	go func() {
		defer close(done)
		callWith(h, ctx, io.EOF)
		time.Sleep(40 * time.Millisecond)
		callWith(h, ctx, nil) // half-open, then closed
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("deadlock: OnStateChange ran under gobreaker's lock")
	}
	mu.Lock()
	defer mu.Unlock()
	want := []ev{
		{"n", BreakerClosed, BreakerOpen, BreakerOpen},
		{"n", BreakerOpen, BreakerHalfOpen, ""},
		{"n", BreakerHalfOpen, BreakerClosed, BreakerClosed},
	}
	if len(events) != len(want) {
		t.Fatalf("events %+v, want %+v", events, want)
	}
	for i, e := range events {
		if e.node != want[i].node || e.from != want[i].from || e.to != want[i].to {
			t.Errorf("event %d = %+v, want %+v", i, e, want[i])
		}
	}
	if events[0].seen != BreakerOpen || events[2].seen != BreakerClosed {
		t.Errorf("state seen from the callback: %+v", events)
	}
}

func TestBreakerEvictsLeastRecentNodes(t *testing.T) {
	b := newTestBreaker(t, BreakerOptions{MaxNodes: 2, ConsecutiveFailures: 1, OpenTimeout: time.Hour})
	ctx := context.Background()
	ha := b.forNode("a")
	callWith(ha, ctx, io.EOF)
	if s := b.state("a"); s != BreakerOpen {
		t.Fatalf("state %v, want open", s)
	}
	b.forNode("b")
	b.forNode("c") // evicts a
	if got := b.States(); len(got) != 2 || got["b"] != BreakerClosed || got["c"] != BreakerClosed {
		t.Fatalf("States() = %v, want b and c", got)
	}
	if s := b.state("a"); s != BreakerClosed {
		t.Errorf("evicted node state %v, want closed (unknown)", s)
	}
	// The hook of an evicted node gets a fresh breaker, kept in the cache.
	if ran, err := callWith(ha, ctx, nil); !ran || err != nil {
		t.Errorf("evicted node's hook: ran %v, %v", ran, err)
	}
	if got := b.States(); len(got) != 2 || got["a"] != BreakerClosed {
		t.Errorf("States() = %v, want a back", got)
	}
}

// TestBreakerAddedDirectly: without Attach the Breaker keeps one breaker
// under the address "".
func TestBreakerAddedDirectly(t *testing.T) {
	fake := startFake(t, func([]string) string { return "-LOADING Redis is loading the dataset in memory\r\n" })
	b := newTestBreaker(t, BreakerOptions{ConsecutiveFailures: 2, OpenTimeout: time.Hour})
	rdb := fakeClient(t, fake.Addr())
	rdb.AddHook(b.redisHook())
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if err := rdb.Get(ctx, "k").Err(); !redis.IsLoadingError(err) {
			t.Fatalf("GET: %v, want LOADING", err)
		}
	}
	err := rdb.Get(ctx, "k").Err()
	if !errors.Is(err, ErrCircuitOpen) || b.state("") != BreakerOpen {
		t.Errorf("after 2 LOADING: %v, state %v; want open", err, b.state(""))
	}
	if n := fake.count("get"); n != 2 {
		t.Errorf("server saw %d GET, want 2: an open circuit sent one", n)
	}
}

// TestBreakerFakeRejections: from the fake server, LOADING trips the
// breaker and TRYAGAIN does not.
func TestBreakerFakeRejections(t *testing.T) {
	for _, c := range []struct {
		reply string
		want  BreakerState
	}{
		{"-LOADING Redis is loading the dataset in memory\r\n", BreakerOpen},
		{"-BUSY Redis is busy running a script.\r\n", BreakerOpen},
		{"-TRYAGAIN Multiple keys request during rehashing of slot\r\n", BreakerClosed},
	} {
		name := strings.Fields(c.reply[1:])[0]
		t.Run(name, func(t *testing.T) {
			fake := startFake(t, func([]string) string { return c.reply })
			b := newTestBreaker(t, BreakerOptions{ConsecutiveFailures: 3, OpenTimeout: time.Hour})
			rdb := fakeClient(t, fake.Addr())
			if err := Attach(rdb, b); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 5; i++ {
				_ = rdb.Incr(context.Background(), "k").Err()
			}
			if s := b.state(fake.Addr()); s != c.want {
				t.Errorf("state %v after 5 %s, want %v", s, name, c.want)
			}
		})
	}
}

// TestBreakerBlackhole: a path that swallows everything opens the breaker
// after its threshold; then calls fail at once with ErrCircuitOpen and no
// dial; once the path is back and the open timeout has passed, a caller's
// half-open call closes it (probes are off here: they have tests of their
// own).
func TestBreakerBlackhole(t *testing.T) {
	srv := redistest.Start(t)
	px := redistest.NewProxy(t, srv.Addr())
	const openTimeout = 300 * time.Millisecond
	var mu sync.Mutex
	var changes []string
	b := newTestBreaker(t, BreakerOptions{
		ConsecutiveFailures: 3, OpenTimeout: openTimeout, ProbeInterval: -1,
		OnStateChange: func(node string, from, to BreakerState) {
			mu.Lock()
			changes = append(changes, string(from)+"->"+string(to))
			mu.Unlock()
		},
	})
	r := mustRetry(t, RetryOptions{MaxAttempts: 2, InitialInterval: 10 * time.Millisecond,
		OnRetry: func(e RetryEvent) { t.Logf("retry: %+v", e) }})
	dials := &dialCounter{}
	rdb := redis.NewClient(&redis.Options{
		Addr: px.Addr(), MaxRetries: -1, ReadTimeout: 100 * time.Millisecond, DialTimeout: 200 * time.Millisecond, PoolSize: 4,
	})
	t.Cleanup(func() { _ = rdb.Close() })
	rdb.AddHook(dials)
	if err := Attach(rdb, b, r); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}

	px.Blackhole("upstream")
	var failures int
	for i := 0; i < 10 && b.state(px.Addr()) != BreakerOpen; i++ {
		err := rdb.Get(ctx, "k").Err()
		if err == nil {
			t.Fatal("GET succeeded through a blackhole")
		}
		if !errors.Is(err, ErrCircuitOpen) {
			failures++
		}
	}
	if s := b.state(px.Addr()); s != BreakerOpen {
		t.Fatalf("state %v after the blackhole, want open", s)
	}
	t.Logf("breaker open after %d failed calls (GET retried once each)", failures)

	dialsBefore := dials.count()
	for i := 0; i < 20; i++ {
		err := rdb.Get(ctx, "k").Err()
		if !errors.Is(err, ErrCircuitOpen) || !strings.Contains(err.Error(), px.Addr()) {
			t.Fatalf("call %d while open: %v, want ErrCircuitOpen naming %s", i, err, px.Addr())
		}
	}
	if n := dials.count() - dialsBefore; n != 0 {
		t.Errorf("%d dials while the circuit was open, want none", n)
	}
	if st := r.Stats(); st.Retries == 0 {
		t.Errorf("retry stats %+v: GET was not retried in the failing phase", st)
	}

	px.RemoveToxics()
	time.Sleep(openTimeout + openTimeout/2)
	if v, err := rdb.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("probe GET = %q, %v; want \"v\"", v, err)
	}
	if s := b.state(px.Addr()); s != BreakerClosed {
		t.Errorf("state %v after a good probe, want closed", s)
	}
	for i := 0; i < 5; i++ {
		if err := rdb.Get(ctx, "k").Err(); err != nil {
			t.Errorf("GET after recovery: %v", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(changes, " "); got != "closed->open open->half-open half-open->closed" {
		t.Errorf("state changes %q", got)
	}
}

// TestBreakerHandshakeNotCounted: the commands go-redis runs to set up a
// new connection pass through the node's hook nested in the command that
// dialed; they are not counted, so one GET is one request.
func TestBreakerHandshakeNotCounted(t *testing.T) {
	srv := redistest.Start(t)
	b := newTestBreaker(t, BreakerOptions{})
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1, ClientName: "guarded", DB: 1})
	t.Cleanup(func() { _ = rdb.Close() })
	if err := Attach(rdb, b); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Get(context.Background(), "k").Err(); err != redis.Nil {
		t.Fatal(err)
	}
	if c := counts(b, srv.Addr()); c.Requests != 1 || c.TotalSuccesses != 1 {
		t.Errorf("counts %+v after one GET on a new connection, want one request", c)
	}
}

// TestBreakerHalfOpenProbeDialsWithOnConnect is the regression test for a
// probe that could never succeed: the probe needs a new connection, and
// the commands of its OnConnect run through the same node hook, nested in
// the probe; a half-open breaker refused them for lack of probes.
func TestBreakerHalfOpenProbeDialsWithOnConnect(t *testing.T) {
	srv := redistest.Start(t)
	const openTimeout = 50 * time.Millisecond
	b := newTestBreaker(t, BreakerOptions{ConsecutiveFailures: 1, OpenTimeout: openTimeout, ProbeInterval: -1})
	rdb := redis.NewClient(&redis.Options{
		Addr: srv.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond, DialerRetries: 1,
		OnConnect: func(ctx context.Context, cn *redis.Conn) error { return cn.Ping(ctx).Err() },
	})
	t.Cleanup(func() { _ = rdb.Close() })
	if err := Attach(rdb, b); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	if err := rdb.Get(ctx, "k").Err(); err == nil || errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("GET on a killed server: %v", err)
	}
	if s := b.state(srv.Addr()); s != BreakerOpen {
		t.Fatalf("state %v, want open", s)
	}
	srv.Restart() // no AOF: the key is gone
	time.Sleep(2 * openTimeout)
	if err := rdb.Get(ctx, "k").Err(); err != redis.Nil {
		t.Fatalf("probe GET: %v, want redis.Nil from the restarted server", err)
	}
	if s := b.state(srv.Addr()); s != BreakerClosed {
		t.Errorf("state %v after the probe, want closed", s)
	}
}

// A pipeline the open breaker refuses: go-redis sets no per-command error
// when a hook returns without calling next, so the Breaker must, or each
// command would read as a success with an empty value.
func TestBreakerRefusedPipelineSetsEachCommandsError(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t, &redis.Options{MaxRetries: -1})
	b := newTestBreaker(t, BreakerOptions{ConsecutiveFailures: 1, OpenTimeout: time.Hour})
	if err := Attach(rdb, b); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	srv.Kill()
	if err := rdb.Get(ctx, "k").Err(); err == nil || errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("GET to a killed server: %v, want a transport error", err)
	}
	pipe := rdb.Pipeline()
	incr := pipe.Incr(ctx, "n")
	get := pipe.Get(ctx, "k")
	if _, err := pipe.Exec(ctx); !errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("Exec: %v, want ErrCircuitOpen", err)
	}
	for _, c := range []redis.Cmder{incr, get} {
		if !errors.Is(c.Err(), ErrCircuitOpen) {
			t.Errorf("%s: error %v, want ErrCircuitOpen", c.Name(), c.Err())
		}
	}
}
