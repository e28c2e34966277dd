package profiles_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/health"
	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
	"github.com/redisguard/redisguard/profiles"
)

// quietRetries keeps the Retry hook's "retrying" lines out of the test log.
func quietRetries(t *testing.T) {
	old := slog.Default()
	slog.SetDefault(slog.New(slog.DiscardHandler))
	t.Cleanup(func() { slog.SetDefault(old) })
}

func lookup(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// TestPoolSizeFromEnvScalesDefaultBudgets: the pool sizes the seed sets
// (its worker's 30, the 20 it advises for small machines) were rejected
// because the default limiter budgets were larger than the pool.
func TestPoolSizeFromEnvScalesDefaultBudgets(t *testing.T) {
	s := redistest.Start(t)
	host, port, _ := strings.Cut(s.Addr(), ":")
	for _, tc := range []struct {
		preset        profiles.Config
		kv            []string
		pool, ops, bl int
	}{
		{profiles.Worker(), []string{"WORKER_REDIS_MAX_CONNECTIONS", "30"}, 30, 15, 3},
		{profiles.Worker(), []string{"REDIS_WORKER_MAX_CONNECTIONS", "8"}, 8, 4, 1},
		{profiles.API(), []string{"REDIS_MAX_CONNECTIONS", "20"}, 20, 16, 4},
		{profiles.API(), []string{"REDIS_MAX_CONNECTIONS", "8"}, 8, 6, 1},
		{profiles.API(), []string{"REDIS_MAX_CONNECTIONS", "2"}, 2, 2, 1},
		{profiles.API(), []string{"REDIS_MAX_CONNECTIONS", "50"}, 50, 40, 10},
		{profiles.Worker(), nil, 200, 100, 25},
		// A limiter set alone gets a blocking budget that fits it.
		{profiles.API(), []string{"REDIS_MAX_CONNECTIONS", "20", "REDIS_MAX_CONCURRENT_OPS", "9"}, 20, 9, 2},
		{profiles.API(), []string{"REDIS_MAX_CONNECTIONS", "20", "REDIS_MAX_BLOCKING_OPS", "15"}, 20, 16, 15},
	} {
		t.Run(fmt.Sprint(tc.preset.Name, tc.kv), func(t *testing.T) {
			kv := append([]string{"REDIS_HOST", host, "REDIS_PORT", port}, tc.kv...)
			cfg, err := profiles.FromEnvLookup(tc.preset, lookup(kv...))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.PoolSize != tc.pool || cfg.MaxConcurrentOps != tc.ops || cfg.MaxBlocking != tc.bl {
				t.Fatalf("pool %d, limiter %d, blocking %d; want %d, %d, %d",
					cfg.PoolSize, cfg.MaxConcurrentOps, cfg.MaxBlocking, tc.pool, tc.ops, tc.bl)
			}
			c, err := profiles.NewClient(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Set(context.Background(), "k", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			if st := c.Hooks.Limiter.Stats(); st.MaxInFlight != tc.ops || st.MaxBlocking != tc.bl {
				t.Fatalf("limiter budgets %d/%d, want %d/%d", st.MaxInFlight, st.MaxBlocking, tc.ops, tc.bl)
			}
		})
	}
}

// TestBudgetsThatDoNotFitAreErrors: a budget set explicitly is never
// changed; if it does not fit, the error names the variable or the field
// that set it and both numbers.
func TestBudgetsThatDoNotFitAreErrors(t *testing.T) {
	t.Run("env", func(t *testing.T) {
		for _, tc := range []struct {
			preset  profiles.Config
			kv      []string
			blamed  string
			numbers []string
		}{
			{profiles.API(), []string{"REDIS_MAX_CONNECTIONS", "20", "REDIS_MAX_CONCURRENT_OPS", "30"},
				"REDIS_MAX_CONCURRENT_OPS", []string{"30", "20", "REDIS_MAX_CONNECTIONS"}},
			{profiles.Worker(), []string{"WORKER_REDIS_MAX_CONNECTIONS", "30", "REDIS_WORKER_MAX_CONCURRENT_OPS", "100"},
				"REDIS_WORKER_MAX_CONCURRENT_OPS", []string{"100", "30", "WORKER_REDIS_MAX_CONNECTIONS"}},
			{profiles.Worker(), []string{"WORKER_REDIS_MAX_CONNECTIONS", "30", "REDIS_WORKER_MAX_BLOCKING_OPS", "25"},
				"REDIS_WORKER_MAX_BLOCKING_OPS", []string{"25", "15", "30"}},
			{profiles.API(), []string{"REDIS_MAX_CONNECTIONS", "1"}, "REDIS_MAX_CONNECTIONS", []string{"1", "2"}},
		} {
			_, err := profiles.FromEnvLookup(tc.preset, lookup(tc.kv...))
			var ee *profiles.EnvError
			if !errors.As(err, &ee) || ee.Var != tc.blamed {
				t.Errorf("%v: %v, want an *EnvError for %s", tc.kv, err, tc.blamed)
				continue
			}
			for _, n := range tc.numbers {
				if !strings.Contains(err.Error(), n) {
					t.Errorf("%v: %q does not say %s", tc.kv, err, n)
				}
			}
		}
	})
	t.Run("code", func(t *testing.T) {
		for _, tc := range []struct {
			c       profiles.Config
			field   string
			numbers []string
		}{
			{profiles.Config{PoolSize: 8, MaxConcurrentOps: 10}, "MaxConcurrentOps", []string{"10", "8"}},
			{profiles.Config{PoolSize: 8, MaxBlocking: 10}, "MaxBlocking", []string{"10", "6", "8"}},
			{profiles.Config{PoolSize: 8, MaxConcurrentOps: 4, MaxBlocking: 4}, "MaxBlocking", []string{"4"}},
			{profiles.Config{PoolSize: 8, MaxConcurrentOps: 1}, "MaxConcurrentOps", []string{"1", "2"}},
			{profiles.Config{PoolSize: 1}, "PoolSize", []string{"1", "2"}},
		} {
			err := tc.c.Validate()
			var ce *profiles.ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field {
				t.Errorf("%v: %v, want a *ConfigError for %s", tc.c, err, tc.field)
				continue
			}
			for _, n := range tc.numbers {
				if !strings.Contains(err.Error(), n) {
					t.Errorf("%v: %q does not say %s", tc.c, err, n)
				}
			}
		}
	})
}

// TestApplySizesLimiterToClientPool: Apply on a client with PoolSize 8 used
// to attach the API preset's budgets of 40 and 10 silently.
func TestApplySizesLimiterToClientPool(t *testing.T) {
	quietRetries(t)
	const pool = 8
	s := redistest.Start(t)
	for _, tc := range []struct {
		name string
		make func(t *testing.T) redis.UniversalClient
	}{
		{"single", func(t *testing.T) redis.UniversalClient {
			return redis.NewClient(&redis.Options{Addr: s.Addr(), PoolSize: pool, MaxRetries: -1, ContextTimeoutEnabled: true})
		}},
		{"sentinel failover", func(t *testing.T) redis.UniversalClient {
			// Apply does no I/O on a failover client: no Sentinel needed.
			return redis.NewFailoverClient(&redis.FailoverOptions{
				MasterName: "m", SentinelAddrs: []string{"127.0.0.1:1"}, PoolSize: pool, MaxRetries: -1,
				ContextTimeoutEnabled: true,
			})
		}},
		{"cluster", func(t *testing.T) redis.UniversalClient {
			return redis.NewClusterClient(&redis.ClusterOptions{
				Addrs: redistest.StartCluster(t, 3, 0).Addrs(), PoolSize: pool, MaxRetries: -1, ContextTimeoutEnabled: true,
			})
		}},
		{"ring", func(t *testing.T) redis.UniversalClient {
			return redis.NewRing(&redis.RingOptions{
				Addrs: map[string]string{"a": s.Addr()}, PoolSize: pool, MaxRetries: -1, ContextTimeoutEnabled: true,
			})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, preset := range []profiles.Config{profiles.API(), profiles.Worker()} {
				rdb := tc.make(t)
				h, err := profiles.Apply(rdb, preset)
				if err != nil {
					t.Fatalf("%s: %v", preset.Name, err)
				}
				want := preset
				want.PoolSize = pool
				want = want.WithDefaults()
				if st := h.Limiter.Stats(); st.MaxInFlight != want.MaxConcurrentOps || st.MaxBlocking != want.MaxBlocking ||
					st.MaxInFlight >= pool || st.MaxBlocking >= st.MaxInFlight {
					t.Errorf("%s on a pool of %d: limiter %d, blocking %d; want %d, %d",
						preset.Name, pool, st.MaxInFlight, st.MaxBlocking, want.MaxConcurrentOps, want.MaxBlocking)
				}
				_ = rdb.Close()
			}

			// Budgets set explicitly that do not fit the client's pool.
			for _, c := range []struct {
				cfg     profiles.Config
				field   string
				numbers []string
			}{
				{budgets(profiles.API(), 40, 0), "MaxConcurrentOps", []string{"40", "8"}},
				{budgets(profiles.API(), 0, 10), "MaxBlocking", []string{"10", "6", "8"}},
			} {
				rdb := tc.make(t)
				_, err := profiles.Apply(rdb, c.cfg)
				_ = rdb.Close()
				var ce *profiles.ConfigError
				if !errors.As(err, &ce) || ce.Field != c.field {
					t.Errorf("Apply with %s %d/%d on a pool of %d: %v, want a *ConfigError for %s",
						c.cfg.Name, c.cfg.MaxConcurrentOps, c.cfg.MaxBlocking, pool, err, c.field)
					continue
				}
				for _, n := range c.numbers {
					if !strings.Contains(err.Error(), n) {
						t.Errorf("%q does not say %s", err, n)
					}
				}
			}
		})
	}
}

func budgets(c profiles.Config, ops, blocking int) profiles.Config {
	c.MaxConcurrentOps, c.MaxBlocking = ops, blocking
	return c
}

// TestApplyOnSmallPoolKeepsShortCommandsFlowing: with the API preset
// applied to a client with PoolSize 8, ten BLPOP consumers took every
// connection and no SET got through.
func TestApplyOnSmallPoolKeepsShortCommandsFlowing(t *testing.T) {
	quietRetries(t)
	s := redistest.Start(t)
	rdb := s.Client(t, &redis.Options{PoolSize: 8, MaxRetries: -1, ContextTimeoutEnabled: true})
	h, err := profiles.Apply(rdb, profiles.API())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const consumers = 10
	var wg sync.WaitGroup
	// Consumers block far longer than a SET's deadline: a SET that has to
	// wait for one of their connections fails.
	for range consumers {
		wg.Go(func() { _ = rdb.BLPop(ctx, 30*time.Second, "jobs").Err() })
	}
	waitFor(t, func() bool {
		st := h.Limiter.Stats()
		return st.InFlightBlocking == int64(min(consumers, st.MaxBlocking))
	})
	const sets = 50
	for i := range sets {
		if err := rdb.Set(ctx, fmt.Sprint("k", i), "v", 0).Err(); err != nil {
			t.Errorf("SET %d of %d while %d consumers block: %v", i+1, sets, consumers, err)
			break
		}
	}
	for range consumers {
		rdb.RPush(ctx, "jobs", "x")
	}
	wg.Wait()
}

// TestPresetsShedLoadWithErrLimited: the API preset's limiter waited up to
// its 30s socket timeout for a permit, longer than a command's own deadline
// (3s for reads), so a saturated limiter ended every refused command with
// DeadlineExceeded: ErrLimited never fired, Rejected stayed 0 and the
// health rule on rejections could not fire. The Worker preset waited 60s,
// past its 30s deadline; it is run here with fewer, shorter retries.
func TestPresetsShedLoadWithErrLimited(t *testing.T) {
	quietRetries(t)
	worker := profiles.Worker()
	worker.Retry = profiles.Retry{MaxAttempts: 3, MaxElapsed: 6 * time.Second, Deadline: 6 * time.Second}
	for _, preset := range []profiles.Config{profiles.API(), worker} {
		t.Run(preset.Name, func(t *testing.T) { shedsLoad(t, preset) })
	}
}

func shedsLoad(t *testing.T, cfg profiles.Config) {
	s := redistest.Start(t)
	cfg.Addr = s.Addr()
	cfg.PoolSize, cfg.MaxConcurrentOps, cfg.MaxBlocking = 10, 8, 2
	c, err := profiles.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rdb := c.UniversalClient.(*redis.Client)
	mon, err := health.NewMonitor(c, health.Options{Limiter: c.Hooks.Limiter, Breaker: c.Hooks.Breaker})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if r := mon.Check(ctx); r.Status != health.StatusHealthy {
		t.Fatalf("before the load: %s %v", r.Status, r.Reasons)
	}

	// Sessions hold every pool connection; SETs take every permit and wait
	// for one.
	var held []*redis.Conn
	for i := range cfg.PoolSize {
		cn := rdb.Conn()
		if err := cn.Ping(ctx).Err(); err != nil {
			t.Fatalf("Conn %d: %v", i, err)
		}
		held = append(held, cn)
	}
	var wg sync.WaitGroup
	setErrs := make(chan error, cfg.MaxConcurrentOps)
	for i := range cfg.MaxConcurrentOps {
		wg.Go(func() { setErrs <- c.Set(ctx, fmt.Sprint("k", i), "v", 0).Err() })
	}
	waitFor(t, func() bool { return c.Hooks.Limiter.Stats().InFlight == int64(cfg.MaxConcurrentOps) })

	// A GET the limiter cannot admit, with no deadline of the caller's:
	// only the preset's read deadline bounds it.
	err = c.Get(ctx, "k").Err()
	if !errors.Is(err, hooks.ErrLimited) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("GET on a saturated limiter: %v; want ErrLimited", err)
	}
	st := c.Hooks.Limiter.Stats()
	if st.Rejected == 0 {
		t.Errorf("limiter stats after the refusal: %+v; want Rejected > 0", st)
	}

	for _, cn := range held {
		_ = cn.Close()
	}
	wg.Wait()
	close(setErrs)
	for err := range setErrs {
		if err != nil {
			t.Errorf("SET waiting for a connection: %v", err)
		}
	}

	r := mon.Check(ctx)
	if r.Hooks.Limiter == nil || r.Hooks.Limiter.Rejected != st.Rejected {
		t.Errorf("health report's limiter figures: %+v; want Rejected %d", r.Hooks.Limiter, st.Rejected)
	}
	found := false
	for _, why := range r.Reasons {
		found = found || strings.Contains(why, "limiter rejected")
	}
	if r.Status != health.StatusDegraded || !found {
		t.Errorf("health after the refusal: %s %v; want degraded for the limiter's rejections", r.Status, r.Reasons)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 20s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestClientSetLimitsOnALiveClient changes a client's limiter budgets while
// a BLPOP holds a permit: a budget that does not fit the pool, or that the
// Limiter refuses, is an error naming it and changes nothing; a lowered
// blocking budget refuses the next BLPOP with ErrLimited, a raised one lets
// it through, and health reports the budgets in force.
func TestClientSetLimitsOnALiveClient(t *testing.T) {
	quietRetries(t)
	s := redistest.Start(t)
	cfg := profiles.API()
	cfg.Addr = s.Addr()
	cfg.PoolSize = 10
	c, err := profiles.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mon, err := health.NewMonitor(c, health.Options{Limiter: c.Hooks.Limiter})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	before := c.Hooks.Limiter.Stats().LimiterLimits
	for _, tc := range []struct {
		lim  hooks.LimiterLimits
		want string
	}{
		{hooks.LimiterLimits{MaxInFlight: 11}, "profiles: hooks: LimiterLimits.MaxInFlight is 11; the Limiter is attached to a client with PoolSize 10 per node, and commands past the pool would queue in go-redis's pool, out of the Limiter's reach; set MaxInFlight to at most 10 or PoolSize to at least 11"},
		{hooks.LimiterLimits{MaxInFlight: 6, MaxBlocking: 6}, "profiles: hooks: LimiterLimits.MaxBlocking is 6; it must be below MaxInFlight (6)"},
	} {
		if err := c.SetLimits(tc.lim); err == nil || err.Error() != tc.want {
			t.Errorf("SetLimits(%+v) = %v, want %q", tc.lim, err, tc.want)
		}
	}
	if got := c.Hooks.Limiter.Stats().LimiterLimits; got != before {
		t.Fatalf("refused changes moved the limits from %+v to %+v", before, got)
	}

	lowered := hooks.LimiterLimits{MaxInFlight: 3, MaxBlocking: 1, MaxWait: 20 * time.Millisecond}
	if err := c.SetLimits(lowered); err != nil {
		t.Fatal(err)
	}
	held := make(chan error, 1)
	go func() { held <- c.BLPop(ctx, 30*time.Second, "setlimits:q1").Err() }()
	for c.Hooks.Limiter.Stats().InFlightBlocking != 1 {
		time.Sleep(time.Millisecond)
	}
	if err := c.BLPop(ctx, 30*time.Second, "setlimits:q2").Err(); !errors.Is(err, hooks.ErrLimited) {
		t.Fatalf("second BLPOP under a blocking budget of 1: %v, want ErrLimited", err)
	}
	if l := mon.Check(ctx).Hooks.Limiter; l == nil || l.MaxInFlight != 3 || l.MaxBlocking != 1 || l.MaxWait != 20*time.Millisecond {
		t.Fatalf("health after lowering: %+v", l)
	}

	raised := hooks.LimiterLimits{MaxInFlight: 10, MaxBlocking: 4, MaxWait: time.Second, MaxWaiting: 5}
	if err := c.SetLimits(raised); err != nil {
		t.Fatal(err)
	}
	second := make(chan error, 1)
	go func() { second <- c.BLPop(ctx, 30*time.Second, "setlimits:q2").Err() }()
	for c.Hooks.Limiter.Stats().InFlightBlocking != 2 {
		time.Sleep(time.Millisecond)
	}
	if l := mon.Check(ctx).Hooks.Limiter; l == nil || l.MaxInFlight != 10 || l.MaxBlocking != 4 || l.MaxWaiting != 5 {
		t.Fatalf("health after raising: %+v", l)
	}
	for _, k := range []string{"setlimits:q1", "setlimits:q2"} {
		if _, err := redistest.Do(s.Addr(), 5*time.Second, "RPUSH", k, "x"); err != nil {
			t.Fatal(err)
		}
	}
	for _, ch := range []chan error{held, second} {
		if err := <-ch; err != nil {
			t.Fatalf("BLPOP: %v", err)
		}
	}
	if got := c.Config(); got.MaxConcurrentOps != 8 || got.MaxBlocking != 2 {
		t.Errorf("Config() %d/%d, want the budgets the client was built with (8/2)", got.MaxConcurrentOps, got.MaxBlocking)
	}
}
