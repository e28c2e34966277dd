package hooks

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestResendGuardKeepsRepliedCommandOutOfClusterResend plays go-redis's
// cluster pipeline loop against the guard: the first send of a node batch
// gets INCR's reply and then a read timeout on GET, and go-redis sends the
// whole batch again (it re-queues every command of the node). The INCR that
// already ran must not go out again and keeps its reply; GET, idempotent,
// is sent again; an INCR that timed out is not sent again and matches
// ErrMaybeApplied.
func TestResendGuardKeepsRepliedCommandOutOfClusterResend(t *testing.T) {
	ctx := context.Background()
	timeout := &net.OpError{Op: "read", Net: "tcp", Err: timeoutErr{}}
	incrDone := redis.NewIntCmd(ctx, "incr", "a")
	get := redis.NewStringCmd(ctx, "get", "b")
	incrLost := redis.NewIntCmd(ctx, "incr", "c")
	cmds := []redis.Cmder{incrDone, get, incrLost}

	var sends [][]string
	g := (&resendGuard{}).forNode("10.0.0.1:6379").(*resendGuard)
	node := g.ProcessPipelineHook(func(_ context.Context, batch []redis.Cmder) error {
		var names []string
		for _, c := range batch {
			names = append(names, c.Name()+" "+c.Args()[1].(string))
		}
		sends = append(sends, names)
		if len(sends) == 1 {
			incrDone.SetVal(1)
			incrDone.SetErr(nil)
			for _, c := range batch[1:] {
				c.SetErr(timeout)
			}
			return timeout
		}
		for _, c := range batch {
			c.SetErr(nil)
		}
		get.SetVal("v")
		return nil
	})
	// The top of the chain gives the call its scope; go-redis's loop sends
	// the node batch up to MaxRedirects+1 times.
	top := resendScopeHook{}.ProcessPipelineHook(func(ctx context.Context, cmds []redis.Cmder) error {
		for i := 0; i < 4; i++ {
			_ = node(ctx, cmds)
		}
		return nil
	})
	_ = top(ctx, cmds)

	if len(sends) != 4 || len(sends[0]) != 3 {
		t.Fatalf("sends %v", sends)
	}
	for _, s := range sends[1:] {
		if len(s) != 1 || s[0] != "get b" {
			t.Fatalf("re-send %v: want only the idempotent GET (all sends %v)", s, sends)
		}
	}
	if incrDone.Err() != nil || incrDone.Val() != 1 {
		t.Fatalf("the INCR that ran: %v %d, want its reply kept", incrDone.Err(), incrDone.Val())
	}
	if get.Err() != nil || get.Val() != "v" {
		t.Fatalf("GET: %v %q", get.Err(), get.Val())
	}
	var m *maybeAppliedError
	if !errors.As(incrLost.Err(), &m) || !errors.Is(incrLost.Err(), ErrMaybeApplied) || m.Cause() != timeout {
		t.Fatalf("the INCR that timed out: %v, want a *MaybeAppliedError", incrLost.Err())
	}
}

// TestResendScopeEndsWithTheCall checks that nothing the guard remembers
// outlives the call: without the scope hook above it, the guard keeps no
// memory of replied commands, and the scope of one call is not seen by the
// next.
func TestResendScopeEndsWithTheCall(t *testing.T) {
	ctx := context.Background()
	var seen []*resendScope
	h := resendScopeHook{}.ProcessPipelineHook(func(ctx context.Context, _ []redis.Cmder) error {
		s, _ := ctx.Value(resendScopeKey{}).(*resendScope)
		seen = append(seen, s)
		return nil
	})
	_ = h(ctx, nil)
	_ = h(ctx, nil)
	if len(seen) != 2 || seen[0] == nil || seen[0] == seen[1] {
		t.Fatalf("scopes %v: want a fresh one per call", seen)
	}
	if ctx.Value(resendScopeKey{}) != nil {
		t.Fatal("the caller's context gained a scope")
	}
}
