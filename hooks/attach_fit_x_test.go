package hooks_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
	"github.com/redisguard/redisguard/profiles"
)

// countingHook counts the commands it sees.
type countingHook struct{ n atomic.Int64 }

func (h *countingHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h *countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestAttachRefusesOptionsThatDefeatAHook: Retry under go-redis's own retry
// loop re-sends what Retry decided not to; Timeouts without
// ContextTimeoutEnabled sets deadlines the socket never sees; a Limiter
// wider than the pool leaves the queueing to go-redis's pool. Attach (and
// Apply through it) refuses each, on every client type, naming the option
// to set, and attaches nothing.
func TestAttachRefusesOptionsThatDefeatAHook(t *testing.T) {
	retry, err := hooks.NewRetry(hooks.RetryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	timeouts, err := hooks.NewTimeouts(hooks.TimeoutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	limiter, err := hooks.NewLimiter(hooks.LimiterOptions{MaxInFlight: 8})
	if err != nil {
		t.Fatal(err)
	}
	// Options that fit every hook above; each case spoils one. No I/O
	// happens before the refusal, so the addresses need no server.
	type fit struct {
		maxRetries int
		ctxTimeout bool
		pool       int
	}
	good := fit{-1, true, 8}
	clients := map[string]func(f fit) redis.UniversalClient{
		"single": func(f fit) redis.UniversalClient {
			return redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: f.maxRetries,
				ContextTimeoutEnabled: f.ctxTimeout, PoolSize: f.pool})
		},
		"sentinel failover": func(f fit) redis.UniversalClient {
			return redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "m",
				SentinelAddrs: []string{"127.0.0.1:1"}, MaxRetries: f.maxRetries,
				ContextTimeoutEnabled: f.ctxTimeout, PoolSize: f.pool})
		},
		"cluster": func(f fit) redis.UniversalClient {
			return redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"},
				MaxRetries: f.maxRetries, ContextTimeoutEnabled: f.ctxTimeout, PoolSize: f.pool})
		},
		"ring": func(f fit) redis.UniversalClient {
			return redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"},
				MaxRetries: f.maxRetries, ContextTimeoutEnabled: f.ctxTimeout, PoolSize: f.pool})
		},
	}
	cases := []struct {
		name string
		hook hooks.Guard
		fit  fit
		want string
	}{
		{"Retry with go-redis retries on", retry, fit{3, true, 8}, "set MaxRetries: -1"},
		{"Timeouts without context deadlines", timeouts, fit{-1, false, 8}, "set ContextTimeoutEnabled: true"},
		{"Limiter wider than the pool", limiter, fit{-1, true, 4}, "MaxInFlight 8 on a client with PoolSize 4"},
	}
	for kind, mk := range clients {
		for _, tc := range cases {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				rdb := mk(tc.fit)
				defer rdb.Close()
				err := hooks.Attach(rdb, tc.hook)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Attach: %v, want an error saying %q", err, tc.want)
				}
				ok := mk(good)
				defer ok.Close()
				if err := hooks.Attach(ok, tc.hook); err != nil {
					t.Fatalf("Attach on fitting options: %v", err)
				}
			})
		}
	}
	// Go-redis's default MaxRetries (0, which it turns into 3) is the case
	// users meet: the refusal must name it.
	t.Run("default options", func(t *testing.T) {
		rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
		defer rdb.Close()
		_, err := profiles.Apply(rdb, profiles.API())
		if err == nil || !strings.Contains(err.Error(), "MaxRetries 3") {
			t.Fatalf("Apply on go-redis defaults: %v", err)
		}
	})
}

// TestAttachRefusalAttachesNothing: a refused Attach leaves the client as it
// was, the hooks that did fit included.
func TestAttachRefusalAttachesNothing(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: 2, ContextTimeoutEnabled: true})
	defer rdb.Close()
	retry, err := hooks.NewRetry(hooks.RetryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	counter := &countingHook{}
	if err := hooks.Attach(rdb, hooks.Outer(counter), retry); err == nil {
		t.Fatal("Attach accepted Retry on a client with MaxRetries 2")
	}
	if err := rdb.Set(context.Background(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n := counter.n.Load(); n != 0 {
		t.Fatalf("the refused Attach attached a hook: it saw %d commands", n)
	}
}

// TestSetLimitsKeepsThePoolBound: once Attach has added a Limiter to a
// client, SetLimits refuses a MaxInFlight above the client's PoolSize, as
// Attach does, and changes nothing; with several clients, the smallest
// pool bounds it. It holds through every handle that reaches the Limiter:
// the *hooks.Limiter given to Attach (on each client type), the one
// profiles.Apply returns, and a *profiles.Client's (its Hooks.Limiter and
// its own SetLimits). An Attach that refused binds nothing.
func TestSetLimitsKeepsThePoolBound(t *testing.T) {
	newLim := func(t *testing.T, maxIn int) *hooks.Limiter {
		t.Helper()
		lim, err := hooks.NewLimiter(hooks.LimiterOptions{MaxInFlight: maxIn})
		if err != nil {
			t.Fatal(err)
		}
		return lim
	}
	// refuses checks that SetLimits refuses lim with maxIn, naming the
	// pool, and leaves the limits as they were.
	refuses := func(t *testing.T, setLimits func(hooks.LimiterLimits) error, lim *hooks.Limiter, maxIn, pool int) {
		t.Helper()
		before := lim.Stats().LimiterLimits
		err := setLimits(hooks.LimiterLimits{MaxInFlight: maxIn})
		want := fmt.Sprintf("LimiterLimits.MaxInFlight is %d; the Limiter is attached to a client with PoolSize %d per node", maxIn, pool)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("SetLimits with MaxInFlight %d: %v, want an error saying %q", maxIn, err, want)
		}
		if got := lim.Stats().LimiterLimits; got != before {
			t.Fatalf("the refused SetLimits changed the limits from %+v to %+v", before, got)
		}
	}
	accepts := func(t *testing.T, setLimits func(hooks.LimiterLimits) error, maxIn int) {
		t.Helper()
		if err := setLimits(hooks.LimiterLimits{MaxInFlight: maxIn}); err != nil {
			t.Fatalf("SetLimits with MaxInFlight %d: %v", maxIn, err)
		}
	}
	// No I/O happens: the addresses need no server.
	clients := map[string]func(pool int) redis.UniversalClient{
		"single": func(pool int) redis.UniversalClient {
			return redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, PoolSize: pool})
		},
		"cluster": func(pool int) redis.UniversalClient {
			return redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}, MaxRetries: -1, PoolSize: pool})
		},
		"ring": func(pool int) redis.UniversalClient {
			return redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}, MaxRetries: -1, PoolSize: pool})
		},
	}
	for kind, mk := range clients {
		t.Run("Attach/"+kind, func(t *testing.T) {
			lim := newLim(t, 8)
			accepts(t, lim.SetLimits, 30) // not attached: no pool to fit
			accepts(t, lim.SetLimits, 8)
			rdb := mk(10)
			defer rdb.Close()
			if err := hooks.Attach(rdb, lim); err != nil {
				t.Fatal(err)
			}
			refuses(t, lim.SetLimits, lim, 11, 10)
			accepts(t, lim.SetLimits, 10)
			accepts(t, lim.SetLimits, 6)
			small := mk(6)
			defer small.Close()
			if err := hooks.Attach(small, lim); err != nil {
				t.Fatal(err)
			}
			refuses(t, lim.SetLimits, lim, 7, 6)
		})
	}
	t.Run("refused Attach", func(t *testing.T) {
		lim := newLim(t, 4)
		retry, err := hooks.NewRetry(hooks.RetryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: 3, PoolSize: 4})
		defer rdb.Close()
		if err := hooks.Attach(rdb, retry, lim); err == nil {
			t.Fatal("Attach accepted Retry on a client with MaxRetries 3")
		}
		accepts(t, lim.SetLimits, 20)
	})
	t.Run("profiles.Apply", func(t *testing.T) {
		rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, ContextTimeoutEnabled: true, PoolSize: 10})
		defer rdb.Close()
		h, err := profiles.Apply(rdb, profiles.Worker())
		if err != nil {
			t.Fatal(err)
		}
		defer h.Breaker.Close()
		refuses(t, h.Limiter.SetLimits, h.Limiter, 11, 10)
		accepts(t, h.Limiter.SetLimits, 10)
	})
	t.Run("profiles.Client", func(t *testing.T) {
		cfg := profiles.API()
		cfg.Addr, cfg.PoolSize = "127.0.0.1:1", 10
		c, err := profiles.NewClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		refuses(t, c.Hooks.Limiter.SetLimits, c.Hooks.Limiter, 11, 10)
		refuses(t, c.SetLimits, c.Hooks.Limiter, 12, 10)
		accepts(t, c.SetLimits, 10)
	})
}
