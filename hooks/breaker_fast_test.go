package hooks

import (
	"context"
	"io"
	"testing"
	"time"
)

// TestBreakerFastPathSkipsGobreaker: successes and calls not counted on a
// closed, healthy circuit do not go through gobreaker (its mutex), yet the
// successes count for FailureRatio; a
// failure streak sends calls through gobreaker until a success ends it.
func TestBreakerFastPathSkipsGobreaker(t *testing.T) {
	b := newTestBreaker(t, BreakerOptions{ConsecutiveFailures: 3, FailureRatio: 0.5, MinRequests: 10, OpenTimeout: time.Hour})
	h := b.forNode("n")
	nb, _ := b.nodes.Peek("n")
	ctx := context.Background()
	for i := 0; i < 30; i++ {
		callWith(h, ctx, nil)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	callWith(h, cancelled, context.Canceled)
	if c := nb.cb.Counts(); c.Requests != 0 {
		t.Errorf("gobreaker counts %+v after 30 successes and a cancelled call on a closed circuit, want none (fast path)", c)
	}
	if c := counts(b, "n"); c.TotalSuccesses != 30 {
		t.Errorf("counts %+v, want the 30 successes", c)
	}
	// Failures and successes alternate: every success ends the streak, so
	// ConsecutiveFailures (3) is never reached; 10 failures of 40 calls is
	// under the ratio only if the fast path's 30 successes count.
	for i := 0; i < 10; i++ {
		callWith(h, ctx, io.EOF)
		if i%2 == 1 {
			callWith(h, ctx, nil)
		}
	}
	if s := b.state("n"); s != BreakerClosed {
		t.Fatalf("state %v, counts %+v: want closed (failures 10 of 45)", s, counts(b, "n"))
	}
	callWith(h, ctx, io.EOF)
	if nb.fast.streak.Load() == 0 {
		t.Errorf("fast path open right after a failure")
	}
	callWith(h, ctx, nil)
	if nb.fast.streak.Load() != 0 {
		t.Errorf("a success through gobreaker did not end the streak: counts %+v", nb.cb.Counts())
	}
	for i := 0; i < 3; i++ {
		callWith(h, ctx, io.EOF)
	}
	if s := b.state("n"); s != BreakerOpen {
		t.Fatalf("state %v after 3 failures in a row, want open; counts %+v", s, counts(b, "n"))
	}
	if c := counts(b, "n"); c.TotalSuccesses != 0 {
		t.Errorf("counts %+v after the circuit opened, want the fast path's successes forgotten", c)
	}
}
