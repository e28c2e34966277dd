package hooks_test

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
)

// probeRig is a client with a Breaker whose open timeout never ends within
// a test (only the probes can close a circuit) and, around it, what tells
// probes from callers' calls: an outermost hook counting the commands and
// dials of callers, a Limiter counting its permits, and the client's
// Dialer counting every connection made, the probes' included.
type probeRig struct {
	rdb     *redis.Client
	brk     *hooks.Breaker
	lim     *hooks.Limiter
	calls   *callCounter
	dials   atomic.Int64            // every dial through the client's Dialer
	changes chan hooks.BreakerState // every state change, in order
}

func newProbeRig(t *testing.T, addr string) *probeRig {
	t.Helper()
	r := &probeRig{calls: &callCounter{}, changes: make(chan hooks.BreakerState, 64)}
	var d net.Dialer
	r.rdb = redis.NewClient(&redis.Options{
		Addr: addr, MaxRetries: -1, DialerRetries: 1, PoolSize: 4,
		DialTimeout: time.Second, ReadTimeout: 200 * time.Millisecond,
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			r.dials.Add(1)
			return d.DialContext(ctx, network, addr)
		},
	})
	t.Cleanup(func() { _ = r.rdb.Close() })
	var err error
	r.brk, err = hooks.NewBreaker(hooks.BreakerOptions{ConsecutiveFailures: 2, OpenTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.brk.Close() })
	r.brk.Subscribe(func(_ string, _, to hooks.BreakerState) { r.changes <- to })
	r.lim, err = hooks.NewLimiter(hooks.LimiterOptions{MaxInFlight: 4, MaxBlocking: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := hooks.Attach(r.rdb, hooks.Outer(r.calls), r.brk, r.lim); err != nil {
		t.Fatal(err)
	}
	return r
}

// open sends GETs until the node's circuit opens, and waits for the event.
func (r *probeRig) open(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < 10 && hooks.StateOf(r.brk, r.rdb.Options().Addr) != hooks.BreakerOpen; i++ {
		if err := r.rdb.Get(ctx, "k").Err(); err == nil || errors.Is(err, hooks.ErrCircuitOpen) {
			t.Fatalf("GET on a failing node: %v", err)
		}
	}
	if got := <-r.changes; got != hooks.BreakerOpen {
		t.Fatalf("first state change to %v, want open", got)
	}
}

// callCounter is a hook that counts the commands and dials that pass
// through the client's hooks.
type callCounter struct{ cmds, dials atomic.Int64 }

func (c *callCounter) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c.dials.Add(1)
		return next(ctx, network, addr)
	}
}

func (c *callCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.cmds.Add(1)
		return next(ctx, cmd)
	}
}

func (c *callCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.cmds.Add(1)
		return next(ctx, cmds)
	}
}

// probing reports whether a probe goroutine of a Breaker is running.
func probing() bool { return redistest.Running("hooks.(*Breaker).probe") }

// TestBreakerProbesCloseCircuitWithoutCallers: a stalled node's circuit
// opens; while the node stays stalled the probes find it dead and the
// circuit stays open; once it answers again the probes close the circuit
// with no caller sending anything (the open timeout is an hour), and then
// stop. No probe passes through the client's hooks: no command or dial is
// seen by the outer hook and no Limiter permit is taken, although the
// client's Dialer made the probes' connections.
func TestBreakerProbesCloseCircuitWithoutCallers(t *testing.T) {
	srv := redistest.Start(t)
	r := newProbeRig(t, srv.Addr())
	ctx := context.Background()
	if err := r.rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	r.open(t)

	cmds, hookDials, admitted, dials := r.calls.cmds.Load(), r.calls.dials.Load(), r.lim.Stats().Admitted, r.dials.Load()
	waitFor(t, func() bool { return r.dials.Load() >= dials+3 }) // three probes at least
	if st := hooks.StateOf(r.brk, srv.Addr()); st != hooks.BreakerOpen {
		t.Fatalf("state %v while the node is stalled, want open", st)
	}

	srv.Resume()
	select {
	case got := <-r.changes:
		if got != hooks.BreakerClosed {
			t.Fatalf("state changed to %v after the node came back, want closed", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("circuit still %v 30s after the node came back (%d probe dials)", hooks.StateOf(r.brk, srv.Addr()), r.dials.Load()-dials)
	}
	if n := r.calls.cmds.Load() - cmds; n != 0 {
		t.Errorf("%d commands passed through the client's hooks while probing, want none", n)
	}
	if n := r.calls.dials.Load() - hookDials; n != 0 {
		t.Errorf("%d dials passed through the client's hooks while probing, want none", n)
	}
	if n := r.lim.Stats().Admitted - admitted; n != 0 {
		t.Errorf("the Limiter admitted %d commands while probing, want none", n)
	}
	waitFor(t, func() bool { return !probing() })

	if v, err := r.rdb.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("GET after the probes closed the circuit = %q, %v", v, err)
	}
}

// TestBreakerProbesLeaveDeadNodeOpen: probes of a node that refuses every
// connection fail and the circuit stays open; Close stops them before it
// returns.
func TestBreakerProbesLeaveDeadNodeOpen(t *testing.T) {
	srv := redistest.Start(t)
	srv.Kill()
	r := newProbeRig(t, srv.Addr())
	r.open(t)
	dials := r.dials.Load()
	waitFor(t, func() bool { return r.dials.Load() >= dials+3 })
	if st := hooks.StateOf(r.brk, srv.Addr()); st != hooks.BreakerOpen {
		t.Fatalf("state %v after failed probes, want open", st)
	}
	if !probing() {
		t.Fatal("no probe running while the circuit is open")
	}
	if err := r.brk.Close(); err != nil {
		t.Fatal(err)
	}
	if probing() {
		t.Fatal("a probe still runs after Close returned")
	}
	if st := hooks.StateOf(r.brk, srv.Addr()); st != hooks.BreakerOpen {
		t.Errorf("state %v after Close, want open", st)
	}
	select {
	case got := <-r.changes:
		t.Errorf("state changed to %v, want no change", got)
	default:
	}
}

// TestBreakerProbesOff: with a negative ProbeInterval an open circuit of a
// node that is back stays open: nothing dials it.
func TestBreakerProbesOff(t *testing.T) {
	srv := redistest.Start(t)
	brk, err := hooks.NewBreaker(hooks.BreakerOptions{ConsecutiveFailures: 1, OpenTimeout: time.Hour, ProbeInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = brk.Close() })
	rdb := srv.Client(t, &redis.Options{MaxRetries: -1, ReadTimeout: 200 * time.Millisecond})
	if err := hooks.Attach(rdb, brk); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	srv.Pause()
	if err := rdb.Get(ctx, "k").Err(); err == nil || errors.Is(err, hooks.ErrCircuitOpen) {
		t.Fatalf("GET on a stalled node: %v", err)
	}
	srv.Resume()
	if st := hooks.StateOf(brk, srv.Addr()); st != hooks.BreakerOpen {
		t.Fatalf("state %v, want open", st)
	}
	if probing() {
		t.Fatal("a probe runs with ProbeInterval < 0")
	}
}

// TestBreakerProbesRingNode: on a Ring (as on a cluster) each node client
// gets its own Breaker hook from Attach, and its probes reach that node:
// a paused shard's circuit closes once the shard answers again, with an
// open timeout that never ends within the test.
func TestBreakerProbesRingNode(t *testing.T) {
	srv := redistest.Start(t)
	ring := redis.NewRing(&redis.RingOptions{
		Addrs:      map[string]string{"a": srv.Addr()},
		MaxRetries: -1, DialerRetries: 1, ReadTimeout: 200 * time.Millisecond,
	})
	t.Cleanup(func() { _ = ring.Close() })
	brk, err := hooks.NewBreaker(hooks.BreakerOptions{ConsecutiveFailures: 2, OpenTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = brk.Close() })
	changes := make(chan hooks.BreakerState, 64)
	brk.Subscribe(func(_ string, _, to hooks.BreakerState) { changes <- to })
	if err := hooks.Attach(ring, brk); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := ring.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	for i := 0; i < 10 && hooks.StateOf(brk, srv.Addr()) != hooks.BreakerOpen; i++ {
		_ = ring.Get(ctx, "k").Err()
	}
	if st := hooks.StateOf(brk, srv.Addr()); st != hooks.BreakerOpen {
		t.Fatalf("shard's circuit %v, want open", st)
	}
	// The probe starts from the state change, just after the circuit opens.
	waitFor(t, probing)
	srv.Resume()
	deadline := time.After(30 * time.Second)
	for closed := false; !closed; {
		select {
		case to := <-changes:
			closed = to == hooks.BreakerClosed
		case <-deadline:
			t.Fatalf("shard's circuit still %v 30s after it came back", hooks.StateOf(brk, srv.Addr()))
		}
	}
}
