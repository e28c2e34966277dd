package hooks

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The benchmarks measure each hook's own cost on the fast path: a no-op
// next that returns nil, breaker closed.

func noopNext(context.Context, redis.Cmder) error           { return nil }
func noopNextPipeline(context.Context, []redis.Cmder) error { return nil }

func benchProcess(b *testing.B, h redis.ProcessHook) {
	ctx := context.Background()
	cmd := redis.NewStringCmd(ctx, "get", "k")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := h(ctx, cmd); err != nil {
			b.Fatal(err)
		}
	}
}

func benchPipeline(b *testing.B, h redis.ProcessPipelineHook) {
	ctx := context.Background()
	cmds := []redis.Cmder{redis.NewStringCmd(ctx, "get", "a"), redis.NewStatusCmd(ctx, "set", "b", "1")}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := h(ctx, cmds); err != nil {
			b.Fatal(err)
		}
	}
}

func benchRetry(b *testing.B) *Retry {
	r, err := NewRetry(RetryOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return r
}

func benchBreaker(b *testing.B) redis.Hook {
	br, err := NewBreaker(BreakerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return br.forNode("127.0.0.1:6379")
}

func BenchmarkRetry(b *testing.B) {
	b.Run("process", func(b *testing.B) { benchProcess(b, benchRetry(b).processHook(noopNext)) })
	b.Run("pipeline", func(b *testing.B) { benchPipeline(b, benchRetry(b).processPipelineHook(noopNextPipeline)) })
	budget := func(b *testing.B) *Retry {
		r, err := NewRetry(RetryOptions{Budget: &RetryBudget{}})
		if err != nil {
			b.Fatal(err)
		}
		return r
	}
	b.Run("process with budget", func(b *testing.B) { benchProcess(b, budget(b).processHook(noopNext)) })
	// Every goroutine counts its calls in the same budget.
	b.Run("process with budget, parallel", func(b *testing.B) {
		h := budget(b).processHook(noopNext)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			cmd := redis.NewStringCmd(ctx, "get", "k")
			for pb.Next() {
				if err := h(ctx, cmd); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("process, parallel", func(b *testing.B) {
		h := benchRetry(b).processHook(noopNext)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			cmd := redis.NewStringCmd(ctx, "get", "k")
			for pb.Next() {
				if err := h(ctx, cmd); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkBreaker(b *testing.B) {
	b.Run("process", func(b *testing.B) { benchProcess(b, benchBreaker(b).ProcessHook(noopNext)) })
	b.Run("pipeline", func(b *testing.B) { benchPipeline(b, benchBreaker(b).ProcessPipelineHook(noopNextPipeline)) })
	// gobreaker reads the clock twice per call (before and after the
	// request), which is most of the Breaker's cost where time.Now is slow
	// (virtual machines without a TSC clock source). This is that floor.
	b.Run("reference-two-time.Now", func(b *testing.B) {
		b.ReportAllocs()
		var before, after time.Time
		for i := 0; i < b.N; i++ {
			before = time.Now()
			after = time.Now()
		}
		_, _ = before, after
	})
}

// BenchmarkRetryBreaker chains the two as Attach orders them: Retry
// outside, the node's Breaker inside.
func BenchmarkRetryBreaker(b *testing.B) {
	b.Run("process", func(b *testing.B) {
		benchProcess(b, benchRetry(b).processHook(benchBreaker(b).ProcessHook(noopNext)))
	})
	b.Run("pipeline", func(b *testing.B) {
		benchPipeline(b, benchRetry(b).processPipelineHook(benchBreaker(b).ProcessPipelineHook(noopNextPipeline)))
	})
	b.Run("process-parallel", func(b *testing.B) {
		h := benchRetry(b).processHook(benchBreaker(b).ProcessHook(noopNext))
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			cmd := redis.NewStringCmd(ctx, "get", "k")
			for pb.Next() {
				if err := h(ctx, cmd); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
