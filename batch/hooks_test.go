package batch_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/batch"
	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
)

// guarded returns a client for s with redisguard's Retry and Limiter
// attached and go-redis's own retries off, as the profiles build them.
func guarded(t *testing.T, s *redistest.Server) (*redis.Client, *hooks.Limiter) {
	t.Helper()
	retry, err := hooks.NewRetry(hooks.RetryOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	limiter, err := hooks.NewLimiter(hooks.LimiterOptions{MaxInFlight: 8})
	if err != nil {
		t.Fatal(err)
	}
	rdb := s.Client(t, &redis.Options{MaxRetries: -1})
	if err := hooks.Attach(rdb, retry, limiter); err != nil {
		t.Fatal(err)
	}
	return rdb, limiter
}

func TestWithRedisguardHooks(t *testing.T) {
	ctx := context.Background()

	t.Run("one limiter permit per chunk", func(t *testing.T) {
		s := redistest.Start(t)
		rdb, limiter := guarded(t, s)
		// Open the pipeline connection first: its handshake takes a permit.
		if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error { p.Ping(ctx); return nil }); err != nil {
			t.Fatal(err)
		}
		before := limiter.Stats().Admitted
		vals := values("lim", 1000)
		if res, err := batch.RPush(ctx, rdb, "list", vals, batch.Options{}); err != nil || !res.Complete() {
			t.Fatal(err)
		}
		if got := limiter.Stats().Admitted - before; got != 20 {
			t.Fatalf("%d permits for 20 chunks", got)
		}
	})

	t.Run("Retry does not re-send a half-answered RPUSH chunk", func(t *testing.T) {
		s := redistest.Start(t)
		rdb, _ := guarded(t, s)
		vals := values("q", 200)
		queue := func(p redis.Pipeliner, v string) error {
			p.RPush(ctx, "list", v)
			if v == vals[120] {
				p.Do(ctx, "quit")
			}
			return nil
		}
		res, err := batch.Run(ctx, rdb, vals, queue, batch.Options{})
		if err == nil {
			t.Fatal("no error")
		}
		checkCover(t, res, len(vals))
		equalInts(t, "Written", res.Written, span(0, 121))
		equalInts(t, "Unknown", res.Unknown, span(121, 150))
		equalInts(t, "NotWritten", res.NotWritten, span(150, 200))
		if got := lrange(t, s.Client(t, nil), "list"); !slices.Equal(got, vals[:121]) {
			t.Fatalf("list holds %d values, want the 121 written", len(got))
		}
	})

	t.Run("server killed between chunks", func(t *testing.T) {
		s := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
		rdb, _ := guarded(t, s)
		rdb.AddHook(onChunk(func(k int) error {
			if k == 5 {
				s.Kill()
			}
			return nil
		}))
		vals := values("g", 1000)
		res, err := batch.RPush(ctx, rdb, "list", vals, batch.Options{})
		equalInts(t, "Written", res.Written, span(0, 250))
		checkAfterKill(t, s, "list", vals, res, err)
	})
}
