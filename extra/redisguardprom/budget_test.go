package redisguardprom_test

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/extra/redisguardprom"
	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/profiles"
)

// masterDown starts a replica of a master that does not exist, set not to
// serve stale data: it answers GET with MASTERDOWN, a refusal the retry
// budget counts.
func masterDown(t *testing.T) string {
	addr := startRedis(t)
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	ctx := context.Background()
	if err := c.ConfigSet(ctx, "replica-serve-stale-data", "no").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.ReplicaOf(ctx, "127.0.0.1", strconv.Itoa(freePort(t))).Err(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// A call whose retry the budget refused shows as budget_spent.
func TestCollectorCountsCallsRefusedByTheRetryBudget(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: masterDown(t), MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	// One token, and next to nothing earned back while the test runs.
	r, err := hooks.NewRetry(hooks.RetryOptions{MaxAttempts: 2, InitialInterval: time.Millisecond,
		MaxInterval: time.Millisecond, Logger: slog.New(slog.DiscardHandler),
		Budget: &hooks.RetryBudget{Ratio: 0.01, MinPerSecond: 0.01, Burst: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := hooks.Attach(rdb, r); err != nil {
		t.Fatal(err)
	}
	col, err := redisguardprom.NewCollector(rdb, redisguardprom.Options{Hooks: profiles.Hooks{Retry: r}})
	if err != nil {
		t.Fatal(err)
	}
	defer col.Close()
	ctx := context.Background()
	if err := rdb.Get(ctx, "k").Err(); !redis.IsMasterDownError(err) || errors.Is(err, hooks.ErrRetryBudget) {
		t.Fatalf("first GET: %v, want MASTERDOWN after a retry", err)
	}
	if err := rdb.Get(ctx, "k").Err(); !redis.IsMasterDownError(err) || !errors.Is(err, hooks.ErrRetryBudget) {
		t.Fatalf("second GET: %v, want MASTERDOWN with the budget spent", err)
	}
	want := `# HELP redisguard_retry_calls_total Failed calls, by how they ended (recovered, gave_up, not_retried, budget_spent).
# TYPE redisguard_retry_calls_total counter
redisguard_retry_calls_total{outcome="budget_spent"} 1
redisguard_retry_calls_total{outcome="gave_up"} 1
redisguard_retry_calls_total{outcome="not_retried"} 0
redisguard_retry_calls_total{outcome="recovered"} 0
`
	if err := testutil.CollectAndCompare(col, strings.NewReader(want), "redisguard_retry_calls_total"); err != nil {
		t.Error(err)
	}
}
