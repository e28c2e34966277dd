package hooks

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ltEndsWithin runs call in a goroutine and returns its error, failing the
// test if it has not returned after a guard far longer than any deadline
// here: a wait nothing ends would hang.
func ltEndsWithin(t *testing.T, what string, call func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- call() }()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatalf("%s never ended", what)
		return nil
	}
}

// ltBothPermitsHeld returns a Limiter of two permits, both held by GETs
// of "a" and "b" in its gate g until let, whose results come on held.
func ltBothPermitsHeld(t *testing.T) (*Limiter, *ltGate, redis.ProcessHook, chan error) {
	t.Helper()
	l := ltNewLimiter(t, LimiterOptions{MaxInFlight: 2, MaxBlocking: 1})
	g := newLtGate()
	h := l.processHook(g.next)
	held := make(chan error, 2)
	for _, id := range []string{"a", "b"} {
		go func() { held <- h(context.Background(), ltGet(id)) }()
	}
	ltWaitFor(t, "both permits held", func() bool { return l.Stats().InFlight == 2 })
	return l, g, h, held
}

// TestLimiterExpiryMovesForwardForAnEarlierDeadline: a wait queued behind
// one with a later deadline still ends at its own. The first wait's
// deadline is an hour (Timeouts' own context, which has no Done channel:
// only the expiry timer can end either wait), the second's 20 ms; were the
// timer left at the hour, the second wait would hang.
func TestLimiterExpiryMovesForwardForAnEarlierDeadline(t *testing.T) {
	l, g, h, held := ltBothPermitsHeld(t)

	long := newDeadlineCtx(context.Background(), time.Hour, false)
	g.let("long")
	first := make(chan error, 1)
	go func() { first <- h(long, ltGet("long")) }()
	ltWaitFor(t, "the first wait", func() bool { return l.Stats().Waiting == 1 })

	short := newDeadlineCtx(context.Background(), 20*time.Millisecond, false)
	err := ltEndsWithin(t, "the wait with the earlier deadline", func() error { return h(short, ltGet("short")) })
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrNotSent) {
		t.Fatalf("err = %v, want the context's deadline (not sent)", err)
	}
	if st := l.Stats(); st.Waiting != 1 {
		t.Fatalf("waiting %d after the second wait ended, want the first still queued", st.Waiting)
	}

	g.let("a")
	g.let("b")
	for range 2 {
		if err := <-held; err != nil {
			t.Fatal(err)
		}
	}
	if err := <-first; err != nil {
		t.Fatalf("the first wait, given a permit: %v", err)
	}
	ltCheckIdle(t, l, 3, 0, 1)
}

// TestLimiterExpiryRearmsAfterAGrantedWait: the timer armed for a wait
// that got its permit first fires for nobody, and must then be armed
// again for the waits left. Both waits below have Timeouts' own context
// (no Done channel); the first is granted well before its deadline (2 s)
// and holds its permit, so the second (3 s) ends only if the timer is
// armed again.
func TestLimiterExpiryRearmsAfterAGrantedWait(t *testing.T) {
	l, g, h, held := ltBothPermitsHeld(t)

	ctx1 := newDeadlineCtx(context.Background(), 2*time.Second, false)
	first := make(chan error, 1)
	go func() { first <- h(ctx1, ltGet("w1")) }()
	ltWaitFor(t, "the first wait", func() bool { return l.Stats().Waiting == 1 })
	ctx2 := newDeadlineCtx(context.Background(), 3*time.Second, false)
	second := make(chan error, 1)
	go func() { second <- h(ctx2, ltGet("w2")) }()
	ltWaitFor(t, "the second wait", func() bool { return l.Stats().Waiting == 2 })

	g.let("a") // its permit goes to the first wait, which holds it
	ltWaitFor(t, "the first wait granted", func() bool { st := l.Stats(); return st.InFlight == 2 && st.Waiting == 1 })
	err := ltEndsWithin(t, "the second wait", func() error { return <-second })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
	g.let("w1")
	if err := <-first; err != nil {
		t.Fatalf("the first wait, given a permit: %v", err)
	}
	g.let("b")
	for range 2 {
		if err := <-held; err != nil {
			t.Fatal(err)
		}
	}
	ltCheckIdle(t, l, 3, 0, 1)
}

// TestLimiterExpiryEndsOnlyWaitsPastTheirDeadline: the node's expiry
// timer, fired or left armed for one wait, must end no other wait early.
// Each round below ends a wait by a short deadline (the timer fires for
// it), then queues a wait under a MaxWait of a minute, which must end only
// with the permit it is given; waiters are pooled, so a deadline left on a
// recycled one would show too.
func TestLimiterExpiryEndsOnlyWaitsPastTheirDeadline(t *testing.T) {
	l := ltNewLimiter(t, LimiterOptions{MaxInFlight: 2, MaxBlocking: 1, MaxWait: time.Minute})
	g := newLtGate()
	h := l.processHook(g.next)
	held := make(chan error, 1)
	go func() { held <- h(context.Background(), ltGet("p")) }()
	ltWaitFor(t, "the first holder", func() bool { return l.Stats().InFlight == 1 })
	for round := range 20 {
		holder, waiter := fmt.Sprint("h", round), fmt.Sprint("w", round)
		released := make(chan error, 1)
		go func() { released <- h(context.Background(), ltGet(holder)) }()
		ltWaitFor(t, "both permits held", func() bool { return l.Stats().InFlight == 2 })

		// Timeouts' own context: no Done channel, the expiry timer alone
		// ends the wait.
		ctx := newDeadlineCtx(context.Background(), time.Millisecond, false)
		if err := h(ctx, ltGet("late")); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("round %d: wait past its deadline: %v", round, err)
		}
		ctx.release()

		g.let(waiter)
		done := make(chan error, 1)
		go func() { done <- h(context.Background(), ltGet(waiter)) }()
		ltWaitFor(t, "a waiter", func() bool { return l.Stats().Waiting == 1 })
		g.let(holder)
		if err := <-released; err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("round %d: wait ended by a permit: %v; an expiry meant for another wait ended it", round, err)
		}
	}
	g.let("p")
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	ltCheckIdle(t, l, 41, 0, 20)
}
