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

// The no-op nexts and benchProcess, which runs a hook on one GET per
// iteration, are shared with the Retry and Breaker benchmarks. Every hook
// under test reaches its loop as a parameter, a function value, as go-redis
// calls it: built inside the benchmark function instead, the compiler
// inlines the hook's closure into the loop and the figure comes out lower
// than any client would see (Timeouts alone: 36 ns against 55 ns).

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

// ltBenchCmd runs h on cmd with ctx once per iteration.
func ltBenchCmd(b *testing.B, h redis.ProcessHook, ctx context.Context, cmd redis.Cmder) {
	b.ReportAllocs()
	for b.Loop() {
		if err := h(ctx, cmd); err != nil {
			b.Fatal(err)
		}
	}
}

// ltBenchSetPipeline runs h on a pipeline of ten SETs per iteration.
func ltBenchSetPipeline(b *testing.B, h redis.ProcessPipelineHook) {
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

// ltBenchParallel runs h on one GET per iteration from GOMAXPROCS
// goroutines.
func ltBenchParallel(b *testing.B, h redis.ProcessHook) {
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

func BenchmarkLimiterProcessHook(b *testing.B) {
	benchProcess(b, ltBenchLimiter(b).processHook(noopNext))
}

func BenchmarkLimiterProcessHookParallel(b *testing.B) {
	ltBenchParallel(b, ltBenchLimiter(b).processHook(noopNext))
}

func BenchmarkLimiterProcessHookBlocking(b *testing.B) {
	ctx := context.Background()
	ltBenchCmd(b, ltBenchLimiter(b).processHook(noopNext), ctx, redis.NewStringSliceCmd(ctx, "blpop", "queue", "5"))
}

func BenchmarkLimiterProcessPipelineHook(b *testing.B) {
	ltBenchSetPipeline(b, ltBenchLimiter(b).processPipelineHook(noopNextPipeline))
}

func BenchmarkTimeoutsProcessHook(b *testing.B) {
	benchProcess(b, ltBenchTimeouts(b, TimeoutOptions{}).processHook(noopNext))
}

// BenchmarkTimeoutsProcessHookStdContext is the same with StdContext:
// context.WithDeadline per command, for comparison.
func BenchmarkTimeoutsProcessHookStdContext(b *testing.B) {
	benchProcess(b, ltBenchTimeouts(b, TimeoutOptions{StdContext: true}).processHook(noopNext))
}

// BenchmarkTimeoutsProcessHookCallerDeadline: the caller's context has a
// deadline of its own (a minute away, later than GET's): Timeouts still
// gives the command its deadline context, and reads the caller's deadline
// once.
func BenchmarkTimeoutsProcessHookCallerDeadline(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ltBenchCmd(b, ltBenchTimeouts(b, TimeoutOptions{}).processHook(noopNext), ctx, redis.NewStringCmd(ctx, "get", "key"))
}

func BenchmarkTimeoutsProcessPipelineHook(b *testing.B) {
	ltBenchSetPipeline(b, ltBenchTimeouts(b, TimeoutOptions{}).processPipelineHook(noopNextPipeline))
}

// ltChain builds the hook chain Attach would: the classify hook on top,
// then hs, hs[0] outermost.
func ltChain(next redis.ProcessHook, hs ...Guard) redis.ProcessHook {
	for i := len(hs) - 1; i >= 0; i-- {
		next = hs[i].redisHook().ProcessHook(next)
	}
	return classifyHook{table: chainTable(hs)}.processHook(next)
}

// BenchmarkChain is the whole chain of the presets as Attach builds it on
// a *redis.Client: classify, Timeouts, Retry, Breaker and Limiter, breaker
// closed, a permit free, a no-op next. The classify sub-benchmark is the
// classify hook alone, the per-call cost of carrying the call's
// classification to the hooks below.
func BenchmarkChain(b *testing.B) {
	b.Run("classify", func(b *testing.B) { benchProcess(b, ltChain(noopNext)) })
	b.Run("all", func(b *testing.B) {
		br, err := NewBreaker(BreakerOptions{})
		if err != nil {
			b.Fatal(err)
		}
		benchProcess(b, ltChain(noopNext, ltBenchTimeouts(b, TimeoutOptions{}), benchRetry(b), br, ltBenchLimiter(b)))
	})
}

// BenchmarkLimiterTimeoutsFastPath is the acceptance figure: Timeouts then
// Limiter, a permit free, a no-op next.
func BenchmarkLimiterTimeoutsFastPath(b *testing.B) {
	benchProcess(b, ltChain(noopNext, ltBenchTimeouts(b, TimeoutOptions{}), ltBenchLimiter(b)))
}

func BenchmarkLimiterTimeoutsFastPathParallel(b *testing.B) {
	ltBenchParallel(b, ltChain(noopNext, ltBenchTimeouts(b, TimeoutOptions{}), ltBenchLimiter(b)))
}

// BenchmarkLimiterTimeoutsFastPathStdContext is the acceptance chain with
// StdContext, to show what context.WithDeadline would cost.
func BenchmarkLimiterTimeoutsFastPathStdContext(b *testing.B) {
	benchProcess(b, ltChain(noopNext, ltBenchTimeouts(b, TimeoutOptions{StdContext: true}), ltBenchLimiter(b)))
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
	benchProcess(b, ltChain(ltGoRedisCtxUse, ltBenchTimeouts(b, TimeoutOptions{}), ltBenchLimiter(b)))
}

func BenchmarkLimiterTimeoutsGoRedisCtxUseStdContext(b *testing.B) {
	benchProcess(b, ltChain(ltGoRedisCtxUse, ltBenchTimeouts(b, TimeoutOptions{StdContext: true}), ltBenchLimiter(b)))
}

// BenchmarkLimiterContended runs 16 goroutines per core through a limiter
// of 2 permits, so most commands take the waiting path (queue, timer,
// hand-off).
func BenchmarkLimiterContended(b *testing.B) {
	l, err := NewLimiter(LimiterOptions{MaxInFlight: 2, MaxBlocking: 1, MaxWait: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	h := l.processHook(func(context.Context, redis.Cmder) error {
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
