package hooks_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
)

// attemptClient is a client through px with Timeouts (the API preset's
// class deadlines unless to says otherwise) and a Retry with opt.
func attemptClient(t *testing.T, px *redistest.Proxy, to hooks.TimeoutOptions, opt hooks.RetryOptions) (*redis.Client, *hooks.Retry) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: px.Addr(), MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	tmo, err := hooks.NewTimeouts(to)
	if err != nil {
		t.Fatal(err)
	}
	r, err := hooks.NewRetry(opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := hooks.Attach(c, tmo, r); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	return c, r
}

// TestAttemptTimeoutRetriesAStalledRead sends a read whose reply is lost
// (the proxy drops what the server sends back) with the API preset's read
// deadline (3s) and a per-attempt limit: the attempt is cut at the limit and
// the read is sent again, inside the deadline, and answers. With one
// deadline for all attempts the read would wait out its 3s and fail.
func TestAttemptTimeoutRetriesAStalledRead(t *testing.T) {
	srv := redistest.Start(t)
	px := redistest.NewProxy(t, srv.Addr())
	ctx := context.Background()
	if _, err := redistest.Do(srv.Addr(), time.Second, "SET", "k", "v"); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	c, r := attemptClient(t, px, hooks.TimeoutOptions{}, hooks.RetryOptions{
		AttemptTimeout: 300 * time.Millisecond,
		// The proxy lets replies through again once Retry has given up
		// on the first attempt.
		OnRetry: func(hooks.RetryEvent) { once.Do(px.RemoveToxics) },
	})
	px.Blackhole("downstream")
	got, err := c.Get(ctx, "k").Result()
	px.RemoveToxics()
	if err != nil || got != "v" {
		t.Fatalf("GET = %q, %v; want \"v\" after a retry", got, err)
	}
	if s := r.Stats(); s.Retries != 1 || s.Recovered != 1 || s.MaybeApplied != 1 {
		t.Fatalf("retry stats %+v: want one retry after a timeout that may have applied, recovered", s)
	}
}

// TestAttemptTimeoutSparesWrites checks that a write that is not
// idempotent is neither cut by the per-attempt limit nor sent again: its
// one attempt has the whole class deadline. The reply comes late (after
// the per-attempt limit, before the deadline), and the counter moves once;
// when the reply never comes, the write fails as one that may have applied,
// after one attempt, and still moved the counter once.
func TestAttemptTimeoutSparesWrites(t *testing.T) {
	srv := redistest.Start(t)
	px := redistest.NewProxy(t, srv.Addr())
	ctx := context.Background()
	c, r := attemptClient(t, px, hooks.TimeoutOptions{Write: 3 * time.Second},
		hooks.RetryOptions{AttemptTimeout: 100 * time.Millisecond, InitialInterval: time.Millisecond})

	late := px.Latency("downstream", 500*time.Millisecond, 0)
	n, err := c.Incr(ctx, "slow").Result()
	px.RemoveToxic(late)
	if err != nil || n != 1 {
		t.Fatalf("INCR with a late reply = %d, %v; want 1 in one attempt", n, err)
	}

	c2, r2 := attemptClient(t, px, hooks.TimeoutOptions{Write: 500 * time.Millisecond},
		hooks.RetryOptions{AttemptTimeout: 100 * time.Millisecond, InitialInterval: time.Millisecond})
	px.Blackhole("downstream")
	err = c2.Incr(ctx, "lost").Err()
	px.RemoveToxics()
	var re *hooks.RetryError
	if !errors.Is(err, hooks.ErrMaybeApplied) || !errors.As(err, &re) || re.Attempts != 1 {
		t.Fatalf("INCR with a lost reply: %v; want ErrMaybeApplied after one attempt", err)
	}
	for _, s := range []hooks.RetryStats{r.Stats(), r2.Stats()} {
		if s.Retries != 0 {
			t.Fatalf("retry stats %+v: a write that is not idempotent was sent again", s)
		}
	}
	if v, err := redistest.Do(srv.Addr(), time.Second, "GET", "lost"); err != nil || v != "1" {
		t.Fatalf("counter after the lost reply = %q, %v; want 1", v, err)
	}
}
