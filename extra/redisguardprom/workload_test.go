package redisguardprom_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/batch"
	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/profiles"
)

// guarded is a client with its redisguard hooks.
type guarded struct {
	rdb *redis.Client
	h   profiles.Hooks
}

func newGuarded(t *testing.T, addr string, ro hooks.RetryOptions, bo hooks.BreakerOptions, lo hooks.LimiterOptions) guarded {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 10, MaxRetries: -1, ContextTimeoutEnabled: true,
		DialerRetries: 1})
	t.Cleanup(func() { rdb.Close() })
	var g guarded
	var err error
	g.rdb = rdb
	if g.h.Timeouts, err = hooks.NewTimeouts(hooks.TimeoutOptions{}); err != nil {
		t.Fatal(err)
	}
	if g.h.Retry, err = hooks.NewRetry(ro); err != nil {
		t.Fatal(err)
	}
	if g.h.Breaker, err = hooks.NewBreaker(bo); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.h.Breaker.Close() })
	if g.h.Limiter, err = hooks.NewLimiter(lo); err != nil {
		t.Fatal(err)
	}
	if err := hooks.Attach(rdb, g.h.List()...); err != nil {
		t.Fatal(err)
	}
	return g
}

// workload runs the known workload on a (a healthy server) and b (a port
// that refuses connections). In the middle, while two BLPOPs hold the
// blocking budget of a and a third one waits, it calls during. After it,
// on a: 3 SET, 2 GET of a missing key (one first refused with BUSY, then
// retried and recovered), 4 BLPOP (two served, one cancelled while
// waiting, one shed by the limiter's full queue, which Retry does not
// retry), a batch of 10
// items written; on b: one GET whose dial is refused (the breaker opens; the
// retry finds the circuit open and gives up), a batch of 10 items not
// written.
func workload(t *testing.T, a, b guarded, plain *redis.Client, during func(), recordBatch func(guarded, batch.Result), spanCtx context.Context) {
	t.Helper()
	ctx := context.Background()
	for i := range 3 {
		if err := a.rdb.Set(ctx, "k"+strconv.Itoa(i), "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}

	// A forced retry: a script keeps the server BUSY; the first retry kills
	// it, and the second attempt gets the answer.
	if err := plain.ConfigSet(ctx, "busy-reply-threshold", "1").Err(); err != nil {
		t.Fatal(err)
	}
	scriptDone := make(chan error, 1)
	scripter := redis.NewClient(&redis.Options{Addr: plain.Options().Addr, ReadTimeout: -1})
	defer scripter.Close()
	go func() { scriptDone <- scripter.Eval(ctx, "while true do end", nil).Err() }()
	for {
		err := plain.Ping(ctx).Err()
		if err != nil && strings.HasPrefix(err.Error(), "BUSY") {
			break
		}
		time.Sleep(time.Millisecond)
	}
	var once sync.Once
	unsub := a.h.Retry.Subscribe(func(context.Context, hooks.RetryEvent) {
		once.Do(func() {
			if err := plain.ScriptKill(ctx).Err(); err != nil {
				t.Errorf("SCRIPT KILL: %v", err)
			}
		})
	})
	if err := a.rdb.Get(spanCtx, "missing").Err(); err != redis.Nil {
		t.Fatalf("GET during BUSY: %v, want redis.Nil after a retry", err)
	}
	unsub()
	if err := <-scriptDone; err == nil {
		t.Fatal("the killed script returned no error")
	}
	if err := a.rdb.Get(ctx, "missing").Err(); err != redis.Nil {
		t.Fatal(err)
	}

	// The limiter: two BLPOPs take the blocking budget, a third waits, a
	// fourth finds the queue full (MaxWaiting 1) and is refused.
	served := make(chan error, 2)
	for range 2 {
		go func() { served <- a.rdb.BLPop(ctx, 0, "q").Err() }()
	}
	for a.h.Limiter.Stats().InFlightBlocking != 2 {
		time.Sleep(time.Millisecond)
	}
	waitCtx, cancelWait := context.WithCancel(ctx)
	waited := make(chan error, 1)
	go func() { waited <- a.rdb.BLPop(waitCtx, 0, "q").Err() }()
	for a.h.Limiter.Stats().Waiting != 1 {
		time.Sleep(time.Millisecond)
	}
	if err := a.rdb.BLPop(ctx, 0, "q").Err(); !errors.Is(err, hooks.ErrLimited) {
		t.Fatalf("BLPOP past MaxWaiting: %v, want ErrLimited", err)
	}
	during()
	cancelWait()
	if err := <-waited; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled BLPOP: %v", err)
	}
	if err := plain.RPush(ctx, "q", "x", "y").Err(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-served; err != nil {
			t.Fatal(err)
		}
	}

	// The open circuit: b's first dial is refused, which opens its breaker
	// (ConsecutiveFailures 1); the retry then finds the circuit open.
	if err := b.rdb.Get(ctx, "k").Err(); !errors.Is(err, hooks.ErrCircuitOpen) {
		t.Fatalf("GET on a refusing port: %v, want ErrCircuitOpen after one retry", err)
	}

	items := []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
	for _, g := range []guarded{a, b} {
		res, _ := batch.RPush(ctx, g.rdb, "list", items, batch.Options{ChunkSize: 5})
		recordBatch(g, res)
	}
}

func clientsForWorkload(t *testing.T) (a, b guarded, plain *redis.Client) {
	addr := startRedis(t)
	plain = redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { plain.Close() })
	fast := hooks.RetryOptions{MaxAttempts: 5, InitialInterval: time.Millisecond, MaxInterval: time.Millisecond,
		RandomizationFactor: -1}
	a = newGuarded(t, addr, fast, hooks.BreakerOptions{},
		hooks.LimiterOptions{MaxInFlight: 3, MaxBlocking: 2, MaxWaiting: 1})
	fast.MaxAttempts = 3
	b = newGuarded(t, "127.0.0.1:"+strconv.Itoa(freePort(t)), fast, hooks.BreakerOptions{ConsecutiveFailures: 1},
		hooks.LimiterOptions{MaxInFlight: 3})
	return a, b, plain
}
