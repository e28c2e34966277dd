package redisguardotel_test

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/redisguard/redisguard/extra/redisguardotel"
	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/profiles"
)

// A call whose retry the budget refused shows as budget_spent. The server
// is a replica of a master that does not exist, set not to serve stale
// data: it answers GET with MASTERDOWN, a refusal the budget counts.
func TestInstrumentCountsCallsRefusedByTheRetryBudget(t *testing.T) {
	addr := startRedis(t)
	plain := redis.NewClient(&redis.Options{Addr: addr})
	defer plain.Close()
	ctx := context.Background()
	if err := plain.ConfigSet(ctx, "replica-serve-stale-data", "no").Err(); err != nil {
		t.Fatal(err)
	}
	if err := plain.ReplicaOf(ctx, "127.0.0.1", strconv.Itoa(freePort(t))).Err(); err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
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
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	inst, err := redisguardotel.Instrument(rdb, redisguardotel.Options{MeterProvider: mp, Hooks: profiles.Hooks{Retry: r}})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	if err := rdb.Get(ctx, "k").Err(); !redis.IsMasterDownError(err) || errors.Is(err, hooks.ErrRetryBudget) {
		t.Fatalf("first GET: %v, want MASTERDOWN after a retry", err)
	}
	if err := rdb.Get(ctx, "k").Err(); !redis.IsMasterDownError(err) || !errors.Is(err, hooks.ErrRetryBudget) {
		t.Fatalf("second GET: %v, want MASTERDOWN with the budget spent", err)
	}
	ms := collect(t, reader)
	expect(t, ms, "redisguard.retry.calls", 1, str("redisguard.retry.outcome", "budget_spent"))
	expect(t, ms, "redisguard.retry.calls", 1, str("redisguard.retry.outcome", "gave_up"))
	expect(t, ms, "redisguard.retry.attempts", 1, str("redisguard.retry.outcome", "rejected"))
}
