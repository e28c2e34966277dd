package hooks_test

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
)

// replyErr is an error reply of the server, as go-redis reports one.
type replyErr string

func (e replyErr) Error() string { return string(e) }
func (replyErr) RedisError()     {}

type ctxKey struct{}

// The metrics adapters follow a Retry built elsewhere: they need each retry
// with the command's context (for its trace span), the class of the error
// that allowed it, and counters of retries by that class.
func TestRetrySubscribersGetContextAndOutcomeOfEachRetry(t *testing.T) {
	r, err := hooks.NewRetry(hooks.RetryOptions{
		MaxAttempts: 5, InitialInterval: time.Millisecond, MaxInterval: time.Millisecond,
		RandomizationFactor: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	type seen struct {
		val any
		ev  hooks.RetryEvent
	}
	var got []seen
	unsubscribe := r.Subscribe(func(ctx context.Context, ev hooks.RetryEvent) {
		got = append(got, seen{val: ctx.Value(ctxKey{}), ev: ev})
	})
	dialErr := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	errs := []error{dialErr, replyErr("LOADING Redis is loading the dataset in memory"), io.EOF, nil}
	calls := 0
	next := func(ctx context.Context, cmd redis.Cmder) error {
		e := errs[calls]
		calls++
		return e
	}
	ctx := context.WithValue(context.Background(), ctxKey{}, "span")
	if err := hooks.RawHook(r).ProcessHook(next)(ctx, redis.NewStringCmd(ctx, "get", "k")); err != nil {
		t.Fatalf("GET: %v, want recovered", err)
	}
	want := []struct {
		o     error
		maybe bool
	}{{hooks.ErrNotSent, false}, {hooks.ErrRejected, false}, {hooks.ErrMaybeApplied, true}}
	if len(got) != len(want) {
		t.Fatalf("subscriber saw %d retries, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		s := got[i]
		if s.val != "span" || s.ev.Attempt != i+1 || s.ev.Command != "get" || s.ev.Outcome != w.o ||
			s.ev.MaybeApplied != w.maybe || !errors.Is(s.ev.Err, errs[i]) {
			t.Errorf("retry %d: ctx value %v, event %+v; want the call's context, attempt %d, outcome %v, maybe applied %v",
				i, s.val, s.ev, i+1, w.o, w.maybe)
		}
	}
	st := r.Stats()
	if st.NotSent != 1 || st.Rejected != 1 || st.MaybeApplied != 1 || st.Retries != 3 || st.Recovered != 1 {
		t.Errorf("Stats() = %+v, want 1 retry of each outcome, 3 retries, 1 recovered", st)
	}

	unsubscribe()
	unsubscribe()
	calls = 0
	errs = []error{dialErr, nil}
	if err := hooks.RawHook(r).ProcessHook(next)(ctx, redis.NewStringCmd(ctx, "get", "k")); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Errorf("an unsubscribed listener saw %d retries, want still 3", len(got))
	}
	if st := r.Stats(); st.NotSent != 2 {
		t.Errorf("NotSent = %d after a second not-sent retry, want 2", st.NotSent)
	}
}

// The limiter's figures tell waiting blocking commands from short ones, as
// they tell the commands in flight.
func TestLimiterStatsCountWaitingBlockingCommands(t *testing.T) {
	lim, err := hooks.NewLimiter(hooks.LimiterOptions{MaxInFlight: 3, MaxBlocking: 1})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	next := func(ctx context.Context, cmd redis.Cmder) error {
		<-release
		return nil
	}
	ctx := context.Background()
	hook := hooks.RawHook(lim).ProcessHook(next)
	done := make(chan error, 2)
	for range 2 {
		go func() { done <- hook(ctx, redis.NewStringSliceCmd(ctx, "blpop", "q", 0)) }()
	}
	for lim.Stats().Waiting != 1 {
		time.Sleep(time.Millisecond)
	}
	st := lim.Stats()
	if st.InFlightBlocking != 1 || st.WaitingBlocking != 1 {
		t.Errorf("Stats() = %+v, want 1 blocking command in flight and 1 waiting", st)
	}
	if ns := lim.NodeStats()[""]; ns.WaitingBlocking != 1 {
		t.Errorf(`NodeStats()[""] = %+v, want 1 blocking command waiting`, ns)
	}
	close(release)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if st := lim.Stats(); st.Waiting != 0 || st.WaitingBlocking != 0 {
		t.Errorf("Stats() = %+v after the commands ended, want nobody waiting", st)
	}
}
