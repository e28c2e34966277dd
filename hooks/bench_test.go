package hooks

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Benchmarks of the Limiter and Timeouts hooks with a no-op next: the cost
// a command pays for them on the fast path (a permit free, nobody
// waiting). Run: go test -run '^$' -bench 'Limiter|Timeouts' -benchmem ./hooks/

func ltNoopNext(context.Context, redis.Cmder) error { return nil }

func ltNoopPipeNext(context.Context, []redis.Cmder) error { return nil }

func ltBenchLimiter(b *testing.B) *Limiter {
	b.Helper()
	l, err := NewLimiter(LimiterOptions{MaxInFlight: 1 << 16, MaxBlocking: 1 << 10})
	if err != nil {
		b.Fatal(err)
	}
	return l
}

func ltBenchTimeouts(b *testing.B, opt TimeoutOptions) *Timeouts {
	b.Helper()
	t, err := NewTimeouts(opt)
	if err != nil {
		b.Fatal(err)
	}
	return t
}

func BenchmarkLimiterProcessHook(b *testing.B) {
	h := ltBenchLimiter(b).ProcessHook(ltNoopNext)
	ctx := context.Background()
	cmd := redis.NewStringCmd(ctx, "get", "key")
	b.ReportAllocs()
	for b.Loop() {
		if err := h(ctx, cmd); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLimiterProcessHookParallel(b *testing.B) {
	h := ltBenchLimiter(b).ProcessHook(ltNoopNext)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		cmd := redis.NewStringCmd(ctx, "get", "key")
		for pb.Next() {
			if err := h(ctx, cmd); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkLimiterProcessHookBlocking(b *testing.B) {
	h := ltBenchLimiter(b).ProcessHook(ltNoopNext)
	ctx := context.Background()
	cmd := redis.NewStringSliceCmd(ctx, "blpop", "queue", "5")
	b.ReportAllocs()
	for b.Loop() {
		if err := h(ctx, cmd); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLimiterProcessPipelineHook(b *testing.B) {
	h := ltBenchLimiter(b).ProcessPipelineHook(ltNoopPipeNext)
	ctx := context.Background()
	cmds := make([]redis.Cmder, 10)
	for i := range cmds {
		cmds[i] = redis.NewStatusCmd(ctx, "set", "key", "value")
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := h(ctx, cmds); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTimeoutsProcessHook(b *testing.B) {
	h := ltBenchTimeouts(b, TimeoutOptions{}).ProcessHook(ltNoopNext)
	ctx := context.Background()
	cmd := redis.NewStringCmd(ctx, "get", "key")
	b.ReportAllocs()
	for b.Loop() {
		if err := h(ctx, cmd); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTimeoutsProcessHookStdContext is the same with StdContext:
// context.WithDeadline per command, for comparison.
func BenchmarkTimeoutsProcessHookStdContext(b *testing.B) {
	h := ltBenchTimeouts(b, TimeoutOptions{StdContext: true}).ProcessHook(ltNoopNext)
	ctx := context.Background()
	cmd := redis.NewStringCmd(ctx, "get", "key")
	b.ReportAllocs()
	for b.Loop() {
		if err := h(ctx, cmd); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTimeoutsProcessHookCallerDeadline: the caller's deadline is
// earlier, so Timeouts passes the context on untouched.
func BenchmarkTimeoutsProcessHookCallerDeadline(b *testing.B) {
	h := ltBenchTimeouts(b, TimeoutOptions{}).ProcessHook(ltNoopNext)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := redis.NewStringCmd(ctx, "get", "key")
	b.ReportAllocs()
	for b.Loop() {
		if err := h(ctx, cmd); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTimeoutsProcessPipelineHook(b *testing.B) {
	h := ltBenchTimeouts(b, TimeoutOptions{}).ProcessPipelineHook(ltNoopPipeNext)
	ctx := context.Background()
	cmds := make([]redis.Cmder, 10)
	for i := range cmds {
		cmds[i] = redis.NewStatusCmd(ctx, "set", "key", "value")
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := h(ctx, cmds); err != nil {
			b.Fatal(err)
		}
	}
}

// ltChain builds the hook chain go-redis would: hs[0] outermost.
func ltChain(next redis.ProcessHook, hs ...redis.Hook) redis.ProcessHook {
	for i := len(hs) - 1; i >= 0; i-- {
		next = hs[i].ProcessHook(next)
	}
	return next
}

// BenchmarkLimiterTimeoutsFastPath is the acceptance figure: Timeouts then
// Limiter, a permit free, a no-op next.
func BenchmarkLimiterTimeoutsFastPath(b *testing.B) {
	h := ltChain(ltNoopNext, ltBenchTimeouts(b, TimeoutOptions{}), ltBenchLimiter(b))
	ctx := context.Background()
	cmd := redis.NewStringCmd(ctx, "get", "key")
	b.ReportAllocs()
	for b.Loop() {
		if err := h(ctx, cmd); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLimiterTimeoutsFastPathParallel(b *testing.B) {
	h := ltChain(ltNoopNext, ltBenchTimeouts(b, TimeoutOptions{}), ltBenchLimiter(b))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		cmd := redis.NewStringCmd(ctx, "get", "key")
		for pb.Next() {
			if err := h(ctx, cmd); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkLimiterTimeoutsFastPathStdContext is the acceptance chain with
// StdContext, to show what context.WithDeadline would cost.
func BenchmarkLimiterTimeoutsFastPathStdContext(b *testing.B) {
	h := ltChain(ltNoopNext, ltBenchTimeouts(b, TimeoutOptions{StdContext: true}), ltBenchLimiter(b))
	ctx := context.Background()
	cmd := redis.NewStringCmd(ctx, "get", "key")
	b.ReportAllocs()
	for b.Loop() {
		if err := h(ctx, cmd); err != nil {
			b.Fatal(err)
		}
	}
}

// ltGoRedisCtxUse does with the context what go-redis does for one
// command on a pooled connection: Done (the pool's turn), then Deadline
// for the write and for the read. With Timeouts' own context the first
// Deadline call reads the clock; these benchmarks include that cost.
func ltGoRedisCtxUse(ctx context.Context, _ redis.Cmder) error {
	_ = ctx.Done()
	_, _ = ctx.Deadline()
	_, _ = ctx.Deadline()
	return nil
}

func BenchmarkLimiterTimeoutsGoRedisCtxUse(b *testing.B) {
	h := ltChain(ltGoRedisCtxUse, ltBenchTimeouts(b, TimeoutOptions{}), ltBenchLimiter(b))
	ctx := context.Background()
	cmd := redis.NewStringCmd(ctx, "get", "key")
	b.ReportAllocs()
	for b.Loop() {
		if err := h(ctx, cmd); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLimiterTimeoutsGoRedisCtxUseStdContext(b *testing.B) {
	h := ltChain(ltGoRedisCtxUse, ltBenchTimeouts(b, TimeoutOptions{StdContext: true}), ltBenchLimiter(b))
	ctx := context.Background()
	cmd := redis.NewStringCmd(ctx, "get", "key")
	b.ReportAllocs()
	for b.Loop() {
		if err := h(ctx, cmd); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLimiterContended runs 16 goroutines per core through a limiter
// of 2 permits, so most commands take the waiting path (queue, timer,
// hand-off).
func BenchmarkLimiterContended(b *testing.B) {
	l, err := NewLimiter(LimiterOptions{MaxInFlight: 2, MaxBlocking: 1, MaxWait: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	h := l.ProcessHook(func(context.Context, redis.Cmder) error {
		runtime.Gosched() // hold the permit across a scheduling point
		return nil
	})
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		cmd := redis.NewStringCmd(ctx, "get", "key")
		for pb.Next() {
			if err := h(ctx, cmd); err != nil {
				b.Error(err)
				return
			}
		}
	})
	// How much of each command's time went to waiting: near zero means
	// the run did not exercise the waiting path.
	b.ReportMetric(float64(l.Stats().TotalWait.Nanoseconds())/float64(b.N), "wait-ns/op")
}
