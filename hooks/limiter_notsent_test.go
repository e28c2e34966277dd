package hooks_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
)

// TestLimiterWaitEndedByContextSaysNotSent is the regression test for the
// Limiter's error when a command's context ends while it waits for a
// permit: it matched only the context's error, so nothing told a caller
// (batch's report) that the command was never sent.
func TestLimiterWaitEndedByContextSaysNotSent(t *testing.T) {
	lim, err := hooks.NewLimiter(hooks.LimiterOptions{MaxInFlight: 2, MaxBlocking: 1})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	hold := hooks.RawHook(lim).ProcessHook(func(context.Context, redis.Cmder) error { <-release; return nil })
	var held sync.WaitGroup
	for range 2 {
		held.Add(1)
		go func() {
			defer held.Done()
			_ = hold(context.Background(), redis.NewStatusCmd(context.Background(), "get", "k"))
		}()
	}
	for lim.Stats().InFlight < 2 {
		time.Sleep(time.Millisecond)
	}
	process := hooks.RawHook(lim).ProcessHook(func(context.Context, redis.Cmder) error { t.Error("sent"); return nil })
	pipeline := hooks.RawHook(lim).ProcessPipelineHook(func(context.Context, []redis.Cmder) error { t.Error("sent"); return nil })

	done, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	cancelLater, cancel3 := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel3)

	tests := []struct {
		name string
		ctx  context.Context
		want error
	}{
		{"context already done", done, context.Canceled},
		{"deadline during the wait", expired, context.DeadlineExceeded},
		{"cancelled during the wait", cancelLater, context.Canceled},
	}
	for _, tc := range tests {
		errs := map[string]error{"command": process(tc.ctx, redis.NewStatusCmd(tc.ctx, "set", "k", "v"))}
		cmds := []redis.Cmder{redis.NewIntCmd(tc.ctx, "rpush", "l", "a"), redis.NewIntCmd(tc.ctx, "rpush", "l", "b")}
		errs["pipeline"] = pipeline(tc.ctx, cmds)
		errs["pipeline's command"] = cmds[1].Err()
		for what, err := range errs {
			if !errors.Is(err, hooks.ErrNotSent) || !errors.Is(err, tc.want) || errors.Is(err, hooks.ErrLimited) {
				t.Errorf("%s, %s: %v; want a match for ErrNotSent and %v, not ErrLimited", tc.name, what, err, tc.want)
			}
			if !hooks.Stopped(err) {
				t.Errorf("%s, %s: %v does not classify as stopped (the caller's context ended)", tc.name, what, err)
			}
		}
	}
	close(release)
	held.Wait()
	if s := lim.Stats(); s.Cancelled != 6 || s.Rejected != 0 || s.InFlight != 0 {
		t.Fatalf("stats %+v: want 6 cancelled, none rejected, none in flight", s)
	}
}
