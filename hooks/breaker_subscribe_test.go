package hooks_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
)

// TestBreakerSubscribers: every subscriber and the user's own
// OnStateChange see each state change, with no lock held (they may call
// State and States), and a removed subscriber sees no more.
func TestBreakerSubscribers(t *testing.T) {
	type event struct {
		node     string
		from, to hooks.BreakerState
	}
	var mu sync.Mutex
	got := map[string][]event{}
	record := func(who string) func(string, hooks.BreakerState, hooks.BreakerState) {
		return func(node string, from, to hooks.BreakerState) {
			mu.Lock()
			got[who] = append(got[who], event{node, from, to})
			mu.Unlock()
		}
	}
	var brk *hooks.Breaker
	var err error
	brk, err = hooks.NewBreaker(hooks.BreakerOptions{
		ConsecutiveFailures: 1,
		OpenTimeout:         time.Hour,
		OnStateChange: func(node string, from, to hooks.BreakerState) {
			_ = brk.States()
			record("user")(node, from, to)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = brk.Close() })
	unsubA := brk.Subscribe(func(node string, from, to hooks.BreakerState) {
		_ = hooks.StateOf(brk, node)
		record("a")(node, from, to)
	})
	brk.Subscribe(record("b"))

	// Dead addresses: one refused command opens a node's breaker.
	open := func() string {
		s := redistest.Start(t)
		s.Kill()
		rdb := s.Client(t, &redis.Options{MaxRetries: -1, DialerRetries: 1})
		if err := hooks.Attach(rdb, brk); err != nil {
			t.Fatal(err)
		}
		_ = rdb.Get(context.Background(), "k").Err()
		if st := hooks.StateOf(brk, s.Addr()); st != hooks.BreakerOpen {
			t.Fatalf("breaker %v, want open", st)
		}
		return s.Addr()
	}
	first := open()
	unsubA()
	unsubA()
	second := open()
	mu.Lock()
	defer mu.Unlock()
	opened := func(addr string) event { return event{addr, hooks.BreakerClosed, hooks.BreakerOpen} }
	want := map[string][]event{
		"user": {opened(first), opened(second)},
		"a":    {opened(first)},
		"b":    {opened(first), opened(second)},
	}
	for who, w := range want {
		if !slices.Equal(got[who], w) {
			t.Errorf("%s saw %v, want %v", who, got[who], w)
		}
	}
}
