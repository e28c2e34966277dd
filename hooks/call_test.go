package hooks

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/internal/redistest"
)

// classifyCounter counts the classifications of the commands it watches.
type classifyCounter struct {
	mu     sync.Mutex
	counts map[redis.Cmder]int
}

// watchClassify counts, until the test ends, how many times a table
// classifies each command of cmds.
func watchClassify(t *testing.T, cmds ...redis.Cmder) *classifyCounter {
	c := &classifyCounter{counts: make(map[redis.Cmder]int)}
	for _, cmd := range cmds {
		c.counts[cmd] = 0
	}
	f := func(cmd redis.Cmder) {
		c.mu.Lock()
		if _, ok := c.counts[cmd]; ok {
			c.counts[cmd]++
		}
		c.mu.Unlock()
	}
	classifyObserver.Store(&f)
	t.Cleanup(func() { classifyObserver.Store(nil) })
	return c
}

func (c *classifyCounter) check(t *testing.T, name string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for cmd, n := range c.counts {
		if n != 1 {
			t.Errorf("%s: %v classified %d times, want once", name, cmd.Args(), n)
		}
	}
}

// TestCallClassifiedOnce checks that a call through the hooks Attach adds
// is classified once, however many hooks ask what it is: on success, with
// Timeouts on context.WithTimeout (which once made the Limiter classify
// again), in a pipeline, and after a read timeout Retry decides about.
func TestCallClassifiedOnce(t *testing.T) {
	srv := redistest.Start(t)
	px := redistest.NewProxy(t, srv.Addr())
	ctx := context.Background()
	client := func(t *testing.T, addr string, to TimeoutOptions) *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, ContextTimeoutEnabled: true})
		t.Cleanup(func() { _ = c.Close() })
		b, err := NewBreaker(BreakerOptions{ProbeInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		r, err := NewRetry(RetryOptions{MaxAttempts: 2, InitialInterval: time.Millisecond, MaxInterval: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := Attach(c, ltNewTimeouts(t, to), r, b, ltNewLimiter(t, LimiterOptions{MaxInFlight: 4})); err != nil {
			t.Fatal(err)
		}
		if err := c.Ping(ctx).Err(); err != nil { // the connection's handshake
			t.Fatal(err)
		}
		return c
	}
	for _, std := range []bool{false, true} {
		name := map[bool]string{false: "pooled deadline", true: "context.WithTimeout"}[std]
		c := client(t, srv.Addr(), TimeoutOptions{StdContext: std})
		get := redis.NewStringCmd(ctx, "get", "k")
		n := watchClassify(t, get)
		if err := c.Process(ctx, get); err != redis.Nil {
			t.Fatalf("%s: GET: %v", name, err)
		}
		n.check(t, name+", GET")

		cmds := []redis.Cmder{redis.NewStringCmd(ctx, "get", "a"), redis.NewIntCmd(ctx, "incr", "n"), redis.NewStringCmd(ctx, "get", "b")}
		n = watchClassify(t, cmds...)
		if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, cmd := range cmds {
				_ = p.Process(ctx, cmd)
			}
			return nil
		}); err != nil && err != redis.Nil {
			t.Fatalf("%s: pipeline: %v", name, err)
		}
		n.check(t, name+", pipeline")
	}

	// A read timeout: Retry asks whether the command may be sent again.
	c := client(t, px.Addr(), TimeoutOptions{Read: 200 * time.Millisecond})
	px.Blackhole("downstream")
	get := redis.NewStringCmd(ctx, "get", "k")
	n := watchClassify(t, get)
	if err := c.Process(ctx, get); err == nil || err == redis.Nil {
		t.Fatalf("GET through a black hole: %v", err)
	}
	px.RemoveToxics()
	n.check(t, "read timeout")
}
