package batch_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/batch"
	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
	"github.com/redisguard/redisguard/profiles"
)

// holdPermits keeps n GETs in flight through rdb, each answered only after
// a delay the proxy adds, and returns once limiter counts n commands in
// flight. The returned function lifts the delay and waits for the GETs.
func holdPermits(t *testing.T, rdb redis.UniversalClient, px *redistest.Proxy, limiter *hooks.Limiter, n int) (release func()) {
	t.Helper()
	toxic := px.Latency("downstream", 3*time.Second, 0)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = rdb.Get(context.Background(), "held").Err()
		}()
	}
	release = func() {
		px.RemoveToxic(toxic)
		wg.Wait()
	}
	for deadline := time.Now().Add(10 * time.Second); limiter.Stats().InFlight < int64(n); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			release()
			t.Fatalf("%d commands in flight, want %d", limiter.Stats().InFlight, n)
		}
	}
	return release
}

// quietRetry is a Retry hook that logs nowhere.
func quietRetry(t *testing.T) *hooks.Retry {
	t.Helper()
	r, err := hooks.NewRetry(hooks.RetryOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

const refusedKey = "refused"

// expectNotWritten runs batch.RPush of 5 values through c and fails unless
// every item is NotWritten and the error matches each of want.
func expectNotWritten(t *testing.T, ctx context.Context, c batch.Client, want ...error) {
	t.Helper()
	res, err := batch.RPush(ctx, c, refusedKey, values(refusedKey, 5), batch.Options{})
	checkCover(t, res, 5)
	if len(res.NotWritten) != 5 {
		t.Errorf("written %v, not written %v, unknown %v; want 5 of 5 NotWritten (err: %v)", res.Written, res.NotWritten, res.Unknown, err)
	}
	for _, w := range want {
		if !errors.Is(err, w) {
			t.Errorf("error %v does not match %v", err, w)
		}
	}
}

// emptyList fails unless the list the refused batches pushed to is empty.
func emptyList(t *testing.T, s *redistest.Server) {
	t.Helper()
	if n, err := s.Client(t, nil).LLen(context.Background(), refusedKey).Result(); err != nil || n != 0 {
		t.Errorf("LLEN %d (%v), want 0", n, err)
	}
}

// TestBatchReportsRefusalsBeforeTheWriteNotWritten is the regression test
// for a chunk whose wait for a Limiter permit the context ended being
// reported Unknown although nothing was sent; with it, every other refusal
// before the write is checked through batch.RPush, on a *redis.Client with
// the hooks attached and through a *profiles.Client.
func TestBatchReportsRefusalsBeforeTheWriteNotWritten(t *testing.T) {
	t.Run("limiter wait ended by the context deadline", func(t *testing.T) {
		for _, handle := range []string{"redis.Client", "profiles.Client"} {
			t.Run(handle, func(t *testing.T) {
				s := redistest.Start(t)
				px := redistest.NewProxy(t, s.Addr())
				cfg := profiles.API()
				cfg.Addr, cfg.PoolSize, cfg.MaxConcurrentOps, cfg.MaxBlocking = px.Addr(), 10, 2, 1
				pc := newProfileClient(t, cfg)
				var c batch.Client = pc
				if handle == "redis.Client" {
					c = pc.Unwrap()
				}
				release := holdPermits(t, pc, px, pc.Hooks.Limiter, 2)
				ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
				expectNotWritten(t, ctx, c, context.DeadlineExceeded, hooks.ErrNotSent)
				cancel()
				release()
				emptyList(t, s) // and nothing arrives later
			})
		}
	})

	t.Run("ErrLimited", func(t *testing.T) {
		s := redistest.Start(t)
		px := redistest.NewProxy(t, s.Addr())
		limiter, err := hooks.NewLimiter(hooks.LimiterOptions{MaxInFlight: 2, MaxBlocking: 1, MaxWait: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		rdb := redis.NewClient(&redis.Options{Addr: px.Addr(), MaxRetries: -1, ContextTimeoutEnabled: true})
		t.Cleanup(func() { _ = rdb.Close() })
		if err := hooks.Attach(rdb, quietRetry(t), limiter); err != nil {
			t.Fatal(err)
		}
		release := holdPermits(t, rdb, px, limiter, 2)
		expectNotWritten(t, context.Background(), rdb, hooks.ErrLimited)
		expectNotWritten(t, context.Background(), userWrapper{rdb}, hooks.ErrLimited)
		release()
		emptyList(t, s)
	})

	t.Run("ErrCircuitOpen", func(t *testing.T) {
		s := redistest.Start(t)
		pc := newProfileClient(t, profiles.Config{Addr: s.Addr()})
		s.Kill()
		for i := 0; ; i++ {
			err := pc.Get(context.Background(), "k").Err()
			if errors.Is(err, hooks.ErrCircuitOpen) {
				break
			}
			if i == 50 {
				t.Fatalf("the circuit does not open on a killed server: %v", err)
			}
		}
		expectNotWritten(t, context.Background(), pc.Unwrap(), hooks.ErrCircuitOpen)
		expectNotWritten(t, context.Background(), pc, hooks.ErrCircuitOpen)
	})

	t.Run("pool timeout", func(t *testing.T) {
		s := redistest.Start(t)
		// Pipelines on the main pool (no dedicated pipeline pool), so that
		// the one connection held below is the only one they may use.
		rdb := s.Client(t, &redis.Options{PoolSize: 1, PipelinePoolSize: -1, PoolTimeout: 50 * time.Millisecond, MaxRetries: -1, ContextTimeoutEnabled: true})
		breaker, err := hooks.NewBreaker(hooks.BreakerOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = breaker.Close() })
		if err := hooks.Attach(rdb, quietRetry(t), breaker); err != nil {
			t.Fatal(err)
		}
		conn := rdb.Conn() // holds the pool's only connection
		if err := conn.Ping(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
		expectNotWritten(t, context.Background(), rdb, redis.ErrPoolTimeout)
		expectNotWritten(t, context.Background(), userWrapper{rdb}, redis.ErrPoolTimeout)
		_ = conn.Close()
		emptyList(t, s)
	})

	t.Run("dial error", func(t *testing.T) {
		pc := newProfileClient(t, profiles.Config{Addr: deadAddr(t)})
		expectNotWritten(t, context.Background(), pc.Unwrap(), hooks.ErrNotSent)
		expectNotWritten(t, context.Background(), pc, hooks.ErrNotSent)
	})
}
