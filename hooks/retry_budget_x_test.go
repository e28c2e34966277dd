package hooks_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
)

// stillClock is a hooks.RetryClock whose time moves only when the test says:
// backoffs end at once and add no time, so the budget's per-second floor
// adds tokens only through advance.
type stillClock struct {
	mu  sync.Mutex
	now time.Time
}

func newStillClock() *stillClock { return &stillClock{now: time.Unix(1_700_000_000, 0)} }

func (c *stillClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stillClock) Sleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

func (c *stillClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// budgetRetry is a Retry with two attempts, a 1 ms backoff and budget b on
// clk.
func budgetRetry(t *testing.T, b hooks.RetryBudget, clk hooks.RetryClock) *hooks.Retry {
	t.Helper()
	r, err := hooks.NewRetry(hooks.WithClock(hooks.RetryOptions{
		MaxAttempts:     2,
		InitialInterval: time.Millisecond,
		MaxInterval:     time.Millisecond,
		Budget:          &b,
		Logger:          slog.New(slog.DiscardHandler),
	}, clk))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// sends returns how many STRLEN the server at addr has received.
func sends(t *testing.T, addr string) int64 {
	t.Helper()
	n, err := redistest.CommandCalls(addr, "strlen")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// strlenCall sends one STRLEN (an idempotent read with an integer reply,
// which go-redis's cluster client routes as it is) and checks what reached
// the server: want sends of it, and an error that is the attempt's own (the
// reply was cut: maybe applied, EOF) and matches ErrRetryBudget exactly
// when refused is set.
func strlenCall(t *testing.T, rdb redis.UniversalClient, key, addr string, want int64, refused bool) {
	t.Helper()
	before := sends(t, addr)
	err := rdb.StrLen(context.Background(), key).Err()
	if got := sends(t, addr) - before; got != want {
		t.Fatalf("STRLEN %s reached the server %d times, want %d (error %v)", key, got, want, err)
	}
	if err == nil {
		t.Fatalf("STRLEN %s succeeded: its reply should have been cut", key)
	}
	if errors.Is(err, hooks.ErrRetryBudget) != refused {
		t.Fatalf("STRLEN %s: %v: ErrRetryBudget %t, want %t", key, err, errors.Is(err, hooks.ErrRetryBudget), refused)
	}
	if !errors.Is(err, hooks.ErrMaybeApplied) || !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("STRLEN %s: %v: want the attempt's error (ErrMaybeApplied, EOF or a reset)", key, err)
	}
	var re *hooks.RetryError
	if !errors.As(err, &re) {
		t.Fatalf("STRLEN %s: %v is no *RetryError", key, err)
	}
	if refused && !strings.Contains(err.Error(), "retry budget spent") {
		t.Fatalf("STRLEN %s: %q does not say the budget was spent", key, err)
	}
}

// TestRetryBudgetRefusesOnceSpentAndRefills spends a budget of one token,
// each call earning a quarter, on STRLEN calls whose replies the proxy
// cuts after the server ran them: the call that finds no token fails at
// once with its own error and sends nothing again; calls refill the bucket,
// and so does time.
func TestRetryBudgetRefusesOnceSpentAndRefills(t *testing.T) {
	srv := redistest.Start(t)
	px := redistest.NewProxy(t, srv.Addr())
	rdb := redis.NewClient(&redis.Options{Addr: px.Addr(), MaxRetries: -1, PoolSize: 2})
	t.Cleanup(func() { _ = rdb.Close() })
	clk := newStillClock()
	r := budgetRetry(t, hooks.RetryBudget{Ratio: 0.25, Burst: 1, MinPerSecond: 10}, clk)
	if err := hooks.Attach(rdb, r); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	get := func() {
		t.Helper()
		if err := rdb.Get(ctx, "budget:absent").Err(); err != redis.Nil {
			t.Fatalf("GET: %v", err)
		}
	}
	get() // a connection, and a quarter of a token the full bucket cannot hold
	px.CutIntegerReplies()

	strlenCall(t, rdb, "k", srv.Addr(), 2, false) // the full bucket's token: a retry, then MaxAttempts
	strlenCall(t, rdb, "k", srv.Addr(), 1, true)  // 0.25 tokens
	get()
	strlenCall(t, rdb, "k", srv.Addr(), 1, true) // 0.75
	get()
	strlenCall(t, rdb, "k", srv.Addr(), 2, false) // 1.25: a retry again
	strlenCall(t, rdb, "k", srv.Addr(), 1, true)  // 0.5
	clk.advance(50 * time.Millisecond)            // 50 ms of the floor's 10 a second: +0.5
	strlenCall(t, rdb, "k", srv.Addr(), 2, false) // 0.5 + 0.25 + 0.5

	if st := r.Stats(); st.BudgetSpent != 3 || st.GaveUp != 3 || st.Retries != 3 {
		t.Fatalf("stats %+v: want 3 calls refused by the budget, 3 that gave up after 3 retries", st)
	}
}

// TestRetryBudgetOnlyCountsWhatReachesTheServer checks that a retry after
// an attempt that never left the client takes no token: with an empty
// bucket, calls to an address nothing listens on are still retried.
func TestRetryBudgetOnlyCountsWhatReachesTheServer(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: deadAddr(t), MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { _ = rdb.Close() })
	r, err := hooks.NewRetry(hooks.WithClock(hooks.RetryOptions{
		MaxAttempts: 3, InitialInterval: time.Millisecond, MaxInterval: time.Millisecond,
		Budget: &hooks.RetryBudget{Ratio: 0.01, Burst: 1},
		Logger: slog.New(slog.DiscardHandler),
	}, newStillClock()))
	if err != nil {
		t.Fatal(err)
	}
	if err := hooks.Attach(rdb, r); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		err := rdb.Get(context.Background(), "k").Err()
		if !errors.Is(err, hooks.ErrNotSent) || errors.Is(err, hooks.ErrRetryBudget) {
			t.Fatalf("GET %d: %v: want ErrNotSent after every attempt, not the budget", i, err)
		}
	}
	if st := r.Stats(); st.Retries != 6 || st.BudgetSpent != 0 {
		t.Fatalf("stats %+v: want 2 retries for each of 3 calls, none refused", st)
	}
}

// TestRetryBudgetSharedAcrossClusterNodes spends a cluster client's budget
// on one node and finds it spent on another: go-redis's cluster loop, which
// re-sends an idempotent command below the hooks after EOF, takes its
// tokens from the same budget, and stops when there is none.
func TestRetryBudgetSharedAcrossClusterNodes(t *testing.T) {
	cl := redistest.StartCluster(t, 3, 0)
	proxies := redistest.ProxyEach(t, cl.Addrs()...)
	ctx := context.Background()
	direct := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs()})
	t.Cleanup(func() { _ = direct.Close() })
	// Two keys on two masters.
	var keys, nodes []string
	for i := 0; len(keys) < 2 && i < 100; i++ {
		k := "budget:" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		m, err := direct.MasterForKey(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if len(nodes) == 0 || nodes[0] != m.Options().Addr {
			keys, nodes = append(keys, k), append(nodes, m.Options().Addr)
		}
	}
	if len(keys) < 2 {
		t.Fatal("found no keys on two masters")
	}

	rdb := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:           cl.Addrs(),
		Dialer:          redistest.DialVia(proxies, nil),
		MaxRetries:      -1,
		MinRetryBackoff: time.Millisecond, MaxRetryBackoff: time.Millisecond,
	})
	t.Cleanup(func() { _ = rdb.Close() })
	r := budgetRetry(t, hooks.RetryBudget{Ratio: 0.25, Burst: 1}, newStillClock())
	if err := hooks.Attach(rdb, r); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if err := rdb.Get(ctx, k).Err(); err != redis.Nil {
			t.Fatalf("GET %s: %v", k, err)
		}
	}
	for _, p := range proxies {
		p.CutIntegerReplies()
	}
	// The bucket's token pays go-redis's re-send to the first node; its
	// next re-send finds none (3 calls have earned 0.75).
	strlenCall(t, rdb, keys[0], nodes[0], 2, true)
	// The second node has failed nothing yet, but the budget is the
	// client's: 0.75 + 0.25 - 1 is no token.
	strlenCall(t, rdb, keys[1], nodes[1], 1, true)
	if st := r.Stats(); st.BudgetSpent != 2 {
		t.Fatalf("stats %+v: want 2 calls refused by the budget", st)
	}
}

// TestRetryBudgetValidation checks that a bad budget is an error naming
// the field.
func TestRetryBudgetValidation(t *testing.T) {
	for _, tc := range []struct {
		b     hooks.RetryBudget
		field string
	}{
		{hooks.RetryBudget{Ratio: -0.1}, "Budget.Ratio"},
		{hooks.RetryBudget{Ratio: 1.5}, "Budget.Ratio"},
		{hooks.RetryBudget{MinPerSecond: -1}, "Budget.MinPerSecond"},
		{hooks.RetryBudget{Burst: -1}, "Budget.Burst"},
	} {
		_, err := hooks.NewRetry(hooks.RetryOptions{Budget: &tc.b})
		if err == nil || !strings.HasPrefix(err.Error(), "hooks: retry: "+tc.field+" ") {
			t.Errorf("NewRetry with budget %+v: %v, want an error naming %s", tc.b, err, tc.field)
		}
	}
	if err := hooks.ValidateBudget(hooks.RetryBudget{}); err != nil {
		t.Errorf("the zero budget (the defaults): %v", err)
	}
}

// TestRetryBudgetSharedAcrossRingShards is the same on a Ring. Its own
// loop (RingOptions.MaxRetries) is off, as Attach requires with Retry: the
// re-sends are Retry's.
func TestRetryBudgetSharedAcrossRingShards(t *testing.T) {
	ctx := context.Background()
	servers := []*redistest.Server{redistest.Start(t), redistest.Start(t)}
	addrs, proxies := map[string]string{}, []*redistest.Proxy{}
	for i, s := range servers {
		p := redistest.NewProxy(t, s.Addr())
		addrs["shard"+string(rune('0'+i))] = p.Addr()
		proxies = append(proxies, p)
	}
	rdb := redis.NewRing(&redis.RingOptions{
		Addrs:      addrs,
		MaxRetries: -1,
	})
	t.Cleanup(func() { _ = rdb.Close() })
	r := budgetRetry(t, hooks.RetryBudget{Ratio: 0.25, Burst: 1}, newStillClock())
	if err := hooks.Attach(rdb, r); err != nil {
		t.Fatal(err)
	}
	// A key on each shard: the server whose GET count moves holds it.
	keys := make([]string, len(servers))
	for i := 0; keys[0] == "" || keys[1] == ""; i++ {
		if i == 100 {
			t.Fatal("found no keys on both shards")
		}
		k := "budget:" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		var before [2]int64
		for j, s := range servers {
			n, err := redistest.CommandCalls(s.Addr(), "get")
			if err != nil {
				t.Fatal(err)
			}
			before[j] = n
		}
		if err := rdb.Get(ctx, k).Err(); err != redis.Nil {
			t.Fatalf("GET %s: %v", k, err)
		}
		for j, s := range servers {
			if n, _ := redistest.CommandCalls(s.Addr(), "get"); n != before[j] && keys[j] == "" {
				keys[j] = k
			}
		}
	}
	for _, p := range proxies {
		p.CutIntegerReplies()
	}
	// The GETs have filled the bucket; the token pays Retry's re-send to
	// the first shard (which then gives up after its two attempts), and the
	// second shard finds none.
	strlenCall(t, rdb, keys[0], servers[0].Addr(), 2, false)
	strlenCall(t, rdb, keys[1], servers[1].Addr(), 1, true)
}
