package profiles_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/health"
	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
	"github.com/redisguard/redisguard/profiles"
)

// TestPresetsBudgetRetries checks that both presets budget their retries:
// when every STRLEN fails after the server ran it (the proxy cuts integer
// replies), the preset's Retry stops re-sending once the calls have used up
// the default budget, says so in its error and in its figures, and health
// reports them; with NoBudget every call is retried.
func TestPresetsBudgetRetries(t *testing.T) {
	quietRetries(t)
	// The default budget is 100 tokens, a tenth of a token per call and 10
	// a second: 300 calls of one retry each spend it unless they take more
	// than 17 s.
	const calls = 300
	for _, preset := range []profiles.Config{profiles.API(), profiles.Worker()} {
		for _, off := range []bool{false, true} {
			name := preset.Name
			if off {
				name += "/NoBudget"
			}
			t.Run(name, func(t *testing.T) {
				cfg := preset
				cfg.Retry.MaxAttempts, cfg.Retry.InitialInterval, cfg.Retry.MaxInterval = 2, time.Millisecond, time.Millisecond
				cfg.Retry.NoBudget = off
				budgetRun(t, cfg, calls)
			})
		}
	}
}

func budgetRun(t *testing.T, cfg profiles.Config, calls int) {
	srv := redistest.Start(t)
	px := redistest.NewProxy(t, srv.Addr())
	cfg.Addr = px.Addr()
	h, err := profiles.NewHooks(cfg)
	if err != nil {
		t.Fatal(err)
	}
	opt, err := cfg.ClientOptions()
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	// The Retry hook alone: the Breaker would open on the failures and
	// stop the retries itself.
	if err := hooks.Attach(rdb, h.Retry); err != nil {
		t.Fatal(err)
	}
	mon, err := health.NewMonitor(rdb, health.Options{Retry: h.Retry})
	if err != nil {
		t.Fatal(err)
	}
	px.CutIntegerReplies()
	ctx := context.Background()
	refused := 0
	for range calls {
		err := rdb.StrLen(ctx, "k").Err()
		if !errors.Is(err, hooks.ErrMaybeApplied) {
			t.Fatalf("STRLEN: %v, want its cut reply's error", err)
		}
		if errors.Is(err, hooks.ErrRetryBudget) {
			refused++
		}
	}
	st := h.Retry.Stats()
	if st.BudgetSpent != uint64(refused) || st.Retries+st.BudgetSpent != uint64(calls) {
		t.Fatalf("stats %+v after %d calls, %d refused by the budget", st, calls, refused)
	}
	if cfg.Retry.NoBudget {
		if refused != 0 {
			t.Fatalf("%d calls refused by a budget that is off", refused)
		}
		return
	}
	if refused == 0 {
		t.Fatalf("no call refused by the budget after %d failed calls: %+v", calls, st)
	}
	r := mon.Check(ctx)
	if r.Hooks.Retry == nil || r.Hooks.Retry.BudgetSpent != st.BudgetSpent {
		t.Fatalf("health report's retry figures %+v, want BudgetSpent %d", r.Hooks.Retry, st.BudgetSpent)
	}
}
