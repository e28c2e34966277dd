package health

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
)

// The monitor with the real hooks attached: their figures reach the report
// and drive the status.
func TestRealHooksDriveStatus(t *testing.T) {
	s := redistest.Start(t)
	rdb := s.Client(t, &redis.Options{MaxRetries: -1, PoolSize: 10})
	lim, err := hooks.NewLimiter(hooks.LimiterOptions{MaxInFlight: 4, MaxBlocking: 1, MaxWait: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	brk, err := hooks.NewBreaker(hooks.BreakerOptions{ConsecutiveFailures: 2, OpenTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = brk.Close() })
	if err := hooks.Attach(rdb, lim, brk); err != nil {
		t.Fatal(err)
	}
	m := newMonitor(t, rdb, Options{Limiter: lim, Breaker: brk, PingTimeout: 5 * time.Second})
	ctx := context.Background()

	r := m.Check(ctx)
	if r.Status != StatusHealthy {
		t.Fatalf("first check: %q %q", r.Status, r.Reasons)
	}
	if l := r.Hooks.Limiter; l == nil || l.Admitted < 1 || l.MaxInFlight != 4 || l.MaxBlocking != 1 || l.Nodes[s.Addr()].Admitted < 1 {
		t.Fatalf("limiter figures = %+v", r.Hooks.Limiter)
	}
	if st, ok := r.Hooks.Breakers[s.Addr()]; !ok || st != hooks.BreakerClosed {
		t.Fatalf("breakers = %v", r.Hooks.Breakers)
	}

	// One BLPOP holds the only blocking permit; a second is rejected.
	done := make(chan error, 1)
	go func() { done <- rdb.BLPop(ctx, 10*time.Second, "queue").Err() }()
	waitFor(t, "BLPOP holding the blocking permit", func() bool { return lim.Stats().InFlightBlocking == 1 })
	if err := rdb.BLPop(ctx, time.Second, "queue").Err(); !errors.Is(err, hooks.ErrLimited) {
		t.Fatalf("second BLPOP: %v, want ErrLimited", err)
	}
	if err := rdb.LPush(ctx, "queue", "x").Err(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	r = m.Check(ctx)
	if r.Status != StatusDegraded || len(r.Reasons) != 1 || r.Reasons[0] != "limiter rejected 1 commands since the last check" {
		t.Fatalf("after a rejection: %q %q", r.Status, r.Reasons)
	}

	// The server dies: the breaker opens on the failed pings.
	s.Kill()
	waitFor(t, "the breaker to open", func() bool {
		r = m.Check(ctx)
		return r.Hooks.Breakers[s.Addr()] == hooks.BreakerOpen
	})
	if r.Status != StatusUnhealthy || !containsReason(r.Reasons, "breaker open for "+s.Addr()) {
		t.Fatalf("breaker open: %q %q", r.Status, r.Reasons)
	}
}

func containsReason(reasons []string, want string) bool {
	for _, r := range reasons {
		if strings.Contains(r, want) {
			return true
		}
	}
	return false
}

// A killed and restarted server with a real breaker: the monitor's own
// PINGs open the breaker, and once the server is back they are the probes
// that close it again, so the status returns to healthy without any other
// traffic. (A new connection's handshake runs through the hooks too: it
// must not be refused by the half-open breaker, or the probe never gets a
// connection.)
func TestRealBreakerRecoversAfterRestart(t *testing.T) {
	s := redistest.Start(t)
	rdb := s.Client(t, &redis.Options{MaxRetries: -1, PoolSize: 4})
	brk, err := hooks.NewBreaker(hooks.BreakerOptions{ConsecutiveFailures: 2, OpenTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = brk.Close() })
	if err := hooks.Attach(rdb, brk); err != nil {
		t.Fatal(err)
	}
	m := newMonitor(t, rdb, Options{Breaker: brk, PingTimeout: 2 * time.Second})
	ctx := context.Background()
	if r := m.Check(ctx); r.Status != StatusHealthy {
		t.Fatalf("first check: %q %q", r.Status, r.Reasons)
	}

	s.Kill()
	var r Report
	waitFor(t, "the breaker to open", func() bool {
		r = m.Check(ctx)
		return r.Hooks.Breakers[s.Addr()] == hooks.BreakerOpen
	})
	if r.Status != StatusUnhealthy {
		t.Fatalf("breaker open: %q %q", r.Status, r.Reasons)
	}

	s.Restart()
	waitFor(t, "the status to return to healthy", func() bool {
		r = m.Check(ctx)
		return r.Status == StatusHealthy
	})
	if st := r.Hooks.Breakers[s.Addr()]; st != hooks.BreakerClosed {
		t.Fatalf("healthy with breaker %v", st)
	}
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET after recovery: %v", err)
	}
}

// Limits changed on a live client show in the next report, in /pool-stats'
// JSON, for the limiter and for each node.
func TestLimitsSetAtRunTimeShowInPoolStats(t *testing.T) {
	s := redistest.Start(t)
	rdb := s.Client(t, &redis.Options{MaxRetries: -1, PoolSize: 10})
	lim, err := hooks.NewLimiter(hooks.LimiterOptions{MaxInFlight: 4, MaxBlocking: 1, MaxWait: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := hooks.Attach(rdb, lim); err != nil {
		t.Fatal(err)
	}
	m := newMonitor(t, rdb, Options{Limiter: lim, PingTimeout: 5 * time.Second})
	limits := func() (map[string]any, map[string]any) {
		t.Helper()
		m.Check(context.Background())
		_, obj, body := get(t, m.Handler(), "GET", "/pool-stats")
		l := object(object(obj["hooks"])["limiter"])
		node := object(object(l["nodes"])[s.Addr()])
		if l == nil || node == nil {
			t.Fatalf("no limiter figures for %s in %s", s.Addr(), body)
		}
		return l, node
	}
	want := func(when string, in, blk, waitMs, waiting float64) {
		t.Helper()
		l, node := limits()
		for where, o := range map[string]map[string]any{"hooks.limiter": l, "hooks.limiter.nodes[" + s.Addr() + "]": node} {
			for k, v := range map[string]float64{"max_in_flight": in, "max_blocking": blk, "max_wait_ms": waitMs, "max_waiting": waiting} {
				if o[k] != v {
					t.Errorf("%s: %s.%s = %v, want %v", when, where, k, o[k], v)
				}
			}
		}
	}
	want("as made", 4, 1, 50, 0)
	if err := lim.SetLimits(hooks.LimiterLimits{MaxInFlight: 8, MaxBlocking: 3, MaxWait: 250 * time.Millisecond, MaxWaiting: 9}); err != nil {
		t.Fatal(err)
	}
	want("after SetLimits", 8, 3, 250, 9)
	if err := lim.SetLimits(hooks.LimiterLimits{MaxInFlight: 6}); err != nil {
		t.Fatal(err)
	}
	want("after SetLimits with defaults", 6, 1, 0, 0)
	if err := lim.SetLimits(hooks.LimiterLimits{MaxInFlight: 6, MinInFlight: 5}); err != nil {
		t.Fatal(err)
	}
	l, node := limits()
	for _, o := range []map[string]any{l, node} {
		if o["min_in_flight"] != 5.0 || o["limit"] != 6.0 {
			t.Errorf("adaptive limit: min_in_flight %v, limit %v; want 5 and 6 (the limit starts at the top)", o["min_in_flight"], o["limit"])
		}
	}
}
