package profiles

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
)

func TestNewClientHasPresetSettingsAndLogs(t *testing.T) {
	s := redistest.Start(t)
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })

	cfg := Worker()
	cfg.Addr = s.Addr()
	cfg.Password = "" // no password on this server
	c := presetClient(t, cfg)
	rc, ok := c.UniversalClient.(*redis.Client)
	if !ok {
		t.Fatalf("single-server config built a %T", c.UniversalClient)
	}
	o := rc.Options()
	// go-redis stores MaxRetries -1 as 0: no retries of its own.
	if o.PoolSize != 200 || o.MaxRetries != 0 || !o.ContextTimeoutEnabled || o.ReadTimeout != 60*time.Second {
		t.Fatalf("options: pool %d, max retries %d, ctx timeouts %v, read timeout %s",
			o.PoolSize, o.MaxRetries, o.ContextTimeoutEnabled, o.ReadTimeout)
	}
	if c.Hooks.Timeouts == nil || c.Hooks.Retry == nil || c.Hooks.Breaker == nil || c.Hooks.Limiter == nil {
		t.Fatalf("hooks missing: %+v", c.Hooks)
	}
	if len(c.Hooks.List()) != 4 {
		t.Fatalf("List has %d hooks", len(c.Hooks.List()))
	}
	if err := c.Set(context.Background(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	st := c.Hooks.Limiter.Stats()
	if st.Admitted == 0 || st.MaxInFlight != 100 || st.MaxBlocking != 25 {
		t.Fatalf("limiter stats after one SET: %+v", st)
	}
	line := buf.String()
	for _, want := range []string{"Redis connection pool initialized", "profile=worker", "max_connections=200", "health_check_interval=1m0s"} {
		if !strings.Contains(line, want) {
			t.Errorf("log %q lacks %q", line, want)
		}
	}
}

func TestNewClientRejectsBadConfigBeforeIO(t *testing.T) {
	cfg := API()
	cfg.Addr = "127.0.0.1:1"
	cfg.MaxConcurrentOps = cfg.PoolSize + 1
	_, err := NewClient(cfg)
	if err == nil || !strings.Contains(err.Error(), "MaxConcurrentOps") {
		t.Fatalf("want an error naming MaxConcurrentOps, got %v", err)
	}
	cfg = API()
	cfg.Addr = "127.0.0.1:1"
	cfg.Password = "hunter2-secret"
	cfg.MaxBlocking = cfg.withDefaults().MaxConcurrentOps
	_, err = NewClient(cfg)
	if err == nil || !strings.Contains(err.Error(), "MaxBlocking") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("want an error naming MaxBlocking without the password, got %v", err)
	}
}

// TestWorkerPresetKeepsShortCommandsFlowing is the starvation check of the
// Limiter issue, through the Worker preset: 16 consumers in BLPOP on a pool
// of 8 cannot stop SETs, because blocking commands only get 4 permits.
func TestWorkerPresetKeepsShortCommandsFlowing(t *testing.T) {
	s := redistest.Start(t)
	cfg := Worker()
	cfg.Addr = s.Addr()
	cfg.PoolSize, cfg.MaxConcurrentOps, cfg.MaxBlocking = 8, 8, 4
	c := presetClient(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const consumers = 16
	var popped atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, consumers)
	for i := 0; i < consumers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := c.BLPop(ctx, 30*time.Second, "starve:q").Result()
			if err != nil {
				errs <- err
				return
			}
			if len(v) == 2 {
				popped.Add(1)
			}
		}()
	}
	// Wait until the blocking budget is in use: 4 in flight, 12 waiting.
	waitUntil(t, func() bool {
		st := c.Hooks.Limiter.Stats()
		return st.InFlightBlocking == 4 && st.Waiting == consumers-4
	})
	var sets atomic.Int32
	var swg sync.WaitGroup
	for g := 0; g < 8; g++ {
		swg.Add(1)
		go func(g int) {
			defer swg.Done()
			for i := 0; i < 125; i++ {
				if err := c.Set(ctx, fmt.Sprintf("s:%d", g), i, 0).Err(); err != nil {
					t.Errorf("SET while consumers block: %v", err)
					return
				}
				sets.Add(1)
			}
		}(g)
	}
	swg.Wait()
	if got := popped.Load(); got != 0 {
		t.Fatalf("%d BLPOPs returned before any item was pushed", got)
	}
	if sets.Load() != 1000 {
		t.Fatalf("%d of 1000 SETs completed while consumers blocked", sets.Load())
	}
	// Release the consumers: each pushed item is taken by exactly one.
	for i := 0; i < consumers; i++ {
		if err := c.RPush(ctx, "starve:q", i).Err(); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("BLPOP: %v", err)
	}
	if popped.Load() != consumers {
		t.Fatalf("popped %d of %d", popped.Load(), consumers)
	}
	if st := c.Hooks.Limiter.Stats(); st.InFlight != 0 || st.Waiting != 0 {
		t.Fatalf("permits left over: %+v", st)
	}
}

func TestApplyToExistingClient(t *testing.T) {
	s := redistest.Start(t)
	rdb := s.Client(t, &redis.Options{MaxRetries: -1, ContextTimeoutEnabled: true})
	h, err := Apply(rdb, API())
	if err != nil {
		t.Fatal(err)
	}
	if err := rdb.Get(context.Background(), "missing").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET missing: %v", err)
	}
	if st := h.Limiter.Stats(); st.Admitted != 1 {
		t.Fatalf("limiter admitted %d commands, want 1", st.Admitted)
	}
	if _, err := Apply(nil, API()); err == nil {
		t.Fatal("Apply on a nil client succeeded")
	}
}

func TestNewClientClusterHasPerNodeLimiter(t *testing.T) {
	cl := redistest.StartCluster(t, 3, 0)
	cfg := API()
	cfg.ClusterAddrs = cl.Addrs()
	c := presetClient(t, cfg)
	if _, ok := c.UniversalClient.(*redis.ClusterClient); !ok {
		t.Fatalf("cluster config built a %T", c.UniversalClient)
	}
	ctx := context.Background()
	for i := 0; i < 300; i++ {
		if err := c.Set(ctx, fmt.Sprintf("key:%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	ns := c.Hooks.Limiter.NodeStats()
	if len(ns) != 3 {
		t.Fatalf("limiter has %d nodes, want 3: %v", len(ns), ns)
	}
	for addr, st := range ns {
		if st.Admitted == 0 {
			t.Errorf("node %s admitted nothing", addr)
		}
	}
}

// presetClient builds a client with NewClient and closes it in Cleanup.
func presetClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 20s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The presets differ on an open circuit: API fails fast with
// ErrCircuitOpen, Worker backs off and finishes the command once the server
// is back.
func TestPresetsOnOpenCircuit(t *testing.T) {
	failsFast := func(t *testing.T, cfg Config) {
		s := redistest.Start(t)
		cfg.Addr = s.Addr()
		cfg.BreakerOpenTimeout = time.Minute // no half-open call during the test
		c := presetClient(t, cfg)
		ctx := context.Background()
		if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		s.Kill()
		var last error
		for i := 0; i < 20 && !errors.Is(last, hooks.ErrCircuitOpen); i++ {
			// Bounded, so a client that waits the circuit out fails here
			// instead of spending its whole deadline.
			gctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			last = c.Get(gctx, "k").Err()
			cancel()
		}
		if !errors.Is(last, hooks.ErrCircuitOpen) {
			t.Fatalf("20 GETs to a dead server never failed with an open circuit; last error %v", last)
		}
		if st := c.Hooks.Breaker.States()[s.Addr()]; st != hooks.BreakerOpen {
			t.Fatalf("breaker state %v, want open", st)
		}
		// Failing fast means no retry: a client that waits the circuit
		// out backs off and tries again until the caller's context ends.
		before := c.Hooks.Retry.Stats().Retries
		gctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := c.Get(gctx, "k").Err()
		cancel()
		if n := c.Hooks.Retry.Stats().Retries - before; !errors.Is(err, hooks.ErrCircuitOpen) || n != 0 {
			t.Fatalf("GET with the circuit open: %v after %d retries; want ErrCircuitOpen and no retry", err, n)
		}
	}
	t.Run("api fails fast", func(t *testing.T) { failsFast(t, API()) })
	t.Run("worker told to fail fast", func(t *testing.T) {
		cfg := Worker()
		cfg.Retry.OpenCircuit = OpenCircuitFail
		failsFast(t, cfg)
	})
	t.Run("worker waits it out", func(t *testing.T) {
		s := redistest.Start(t)
		cfg := Worker()
		cfg.Addr = s.Addr()
		c := presetClient(t, cfg)
		ctx := context.Background()
		if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		s.Kill()
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- c.Set(ctx, "k", "after", 0).Err() }()
		// Restart only once the breaker has opened, so the command has
		// met an open circuit and gone on, and once the server has been
		// down longer than the hooks' default write deadline (5s): the
		// preset's deadline must cover its retries.
		waitUntil(t, func() bool { return c.Hooks.Breaker.States()[s.Addr()] == hooks.BreakerOpen })
		time.Sleep(time.Until(start.Add(6 * time.Second)))
		select {
		case err := <-done:
			t.Fatalf("SET returned %v while the server was down", err)
		default:
		}
		s.Restart()
		if err := <-done; err != nil {
			t.Fatalf("SET across the restart: %v", err)
		}
		if v, err := c.Get(ctx, "k").Result(); err != nil || v != "after" {
			t.Fatalf("GET = %q, %v; want the value written after the restart", v, err)
		}
		if st := c.Hooks.Retry.Stats(); st.Recovered == 0 {
			t.Fatalf("retry stats %+v: no recovered call recorded", st)
		}
	})
}

func TestOpenCircuitPolicyIsChecked(t *testing.T) {
	cfg := API()
	cfg.Retry.OpenCircuit = "retry"
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "Retry.OpenCircuit") || !strings.Contains(err.Error(), `"retry"`) {
		t.Fatalf("Validate with Retry.OpenCircuit %q: %v, want an error naming the field and the value", cfg.Retry.OpenCircuit, err)
	}
	cfg = Worker()
	cfg.BreakerOpenTimeout = -time.Second
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "BreakerOpenTimeout") {
		t.Fatalf("Validate with a negative BreakerOpenTimeout: %v, want an error naming it", err)
	}
}
