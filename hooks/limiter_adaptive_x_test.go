package hooks_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
)

// TestLimiterAdaptiveFollowsLatency: with MinInFlight set, the limit for
// short commands goes down when the server's replies get slower (a latency
// toxic) and back up to MaxInFlight once they are fast again; it stays
// within its bounds, changed at run time with SetLimits, and Stats shows it.
func TestLimiterAdaptiveFollowsLatency(t *testing.T) {
	srv := redistest.Start(t)
	px := redistest.NewProxy(t, srv.Addr())
	const maxIn, minIn = 16, 2
	lim, err := hooks.NewLimiter(hooks.LimiterOptions{MaxInFlight: maxIn, MinInFlight: minIn})
	if err != nil {
		t.Fatal(err)
	}
	if st := lim.Stats(); st.MinInFlight != minIn {
		t.Fatalf("stats %+v, want MinInFlight %d", st, minIn)
	}
	rdb := redis.NewClient(&redis.Options{Addr: px.Addr(), PoolSize: 2 * maxIn, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	if err := hooks.Attach(rdb, lim); err != nil {
		t.Fatal(err)
	}

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var other atomic.Value
	for g := 0; g < 3*maxIn; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				err := rdb.Get(ctx, "k").Err()
				switch {
				case errors.Is(err, hooks.ErrLimited):
					time.Sleep(time.Millisecond) // refused at once: do not spin
				case err != nil && err != redis.Nil && ctx.Err() == nil:
					other.Store(err)
				}
			}
		}()
	}
	defer func() {
		stop()
		wg.Wait()
		if err, _ := other.Load().(error); err != nil {
			t.Errorf("a command failed: %v", err)
		}
	}()

	// waitLimit polls Stats until ok holds for its Limit; the bound only
	// keeps a broken limiter from hanging the test.
	waitLimit := func(what string, ok func(int64) bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			st := lim.Stats()
			if st.Limit < minIn || st.Limit > maxIn {
				t.Fatalf("limit %d outside [%d, %d]", st.Limit, minIn, maxIn)
			}
			if ok(st.Limit) {
				t.Logf("%s: limit %d (admitted %d, rejected %d)", what, st.Limit, st.Admitted, st.Rejected)
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: limit still %d; stats %+v", what, st.Limit, st)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	// Fast replies long enough for the limiter to learn their latency (its
	// first windows of 100ms are its baseline), and the limit at the top.
	time.Sleep(2 * time.Second)
	waitLimit("before", func(l int64) bool { return l == maxIn })
	toxic := px.Latency("downstream", 20*time.Millisecond, 0)
	waitLimit("slow replies", func(l int64) bool { return l <= maxIn/2+2 })
	px.RemoveToxic(toxic)
	waitLimit("fast again", func(l int64) bool { return l == maxIn })

	// The bounds change at run time: a higher floor lifts the limit.
	if err := lim.SetLimits(hooks.LimiterLimits{MaxInFlight: maxIn, MinInFlight: maxIn - 1}); err != nil {
		t.Fatal(err)
	}
	if st := lim.Stats(); st.Limit < maxIn-1 || st.MinInFlight != maxIn-1 {
		t.Errorf("after SetLimits: stats %+v, want the limit within the new bounds", st)
	}
}
