package hooks_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
)

// TestShedIsNotRetried: a command the Limiter refuses because its queue is
// full comes back from Retry after that one refusal, as ErrLimited and
// ErrNotSent, while a refusal after MaxWait is still tried again. Retrying
// a shed command would hold the caller through the backoffs the bound was
// set to spare it, and send the load back to the full queue.
func TestShedIsNotRetried(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1, ContextTimeoutEnabled: true, PoolSize: 4})
	defer rdb.Close()
	retry, err := hooks.NewRetry(hooks.RetryOptions{MaxAttempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	lim, err := hooks.NewLimiter(hooks.LimiterOptions{MaxInFlight: 2, MaxBlocking: 1, MaxWaiting: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := hooks.Attach(rdb, retry, lim); err != nil {
		t.Fatal(err)
	}

	// A paused server holds two SETs in flight and a third in the queue.
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer admin.Close()
	if err := admin.Do(ctx, "client", "pause", 60000, "write").Err(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for i := range 3 {
		wg.Go(func() { errs <- rdb.Set(ctx, fmt.Sprint("k", i), "v", 0).Err() })
		waitFor(t, func() bool {
			st := lim.Stats()
			return st.InFlight+st.Waiting == int64(i+1)
		})
	}

	before := retry.Stats()
	err = rdb.Set(ctx, "shed", "v", 0).Err()
	var re *hooks.RetryError
	if !errors.Is(err, hooks.ErrLimited) || !errors.Is(err, hooks.ErrNotSent) || !errors.As(err, &re) {
		t.Fatalf("SET past a full queue: %v; want a *RetryError matching ErrLimited and ErrNotSent", err)
	}
	if re.Attempts != 1 {
		t.Errorf("SET past a full queue took %d attempts; want 1 (a shed command is not retried)", re.Attempts)
	}
	if after := retry.Stats(); after.Retries != before.Retries {
		t.Errorf("retries went from %d to %d on a shed command", before.Retries, after.Retries)
	}

	if err := admin.Do(ctx, "client", "unpause").Err(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("SET held by the paused server: %v", err)
		}
	}
	if got, err := rdb.Exists(ctx, "shed").Result(); err != nil || got != 0 {
		t.Errorf("EXISTS shed = %d, %v; want 0: the shed SET was never sent", got, err)
	}
}
