package hooks

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/redis/go-redis/v9"
)

// retryTarget is what is being retried: one command or a batch.
type retryTarget struct {
	cmd      redis.Cmder
	next     redis.ProcessHook
	cmds     []redis.Cmder
	nextPipe redis.ProcessPipelineHook
	pipeline bool
	name     string
	// call is what the command table says of the call (set by retry).
	call callInfo
	// bounded: each attempt gets AttemptTimeout; cut: it ended the last
	// attempt.
	bounded, cut bool
	// netErr is the network error of an attempt that may have applied the
	// call: go-redis alone would have returned it, so the error Retry
	// returns stays a net.Error even when a later attempt met a refusal
	// of ours (an open circuit).
	netErr net.Error
}

// noteNet keeps err's network error when err may have applied the call.
func (t *retryTarget) noteNet(err error, o outcome) {
	var ne net.Error
	if o == outcomeMaybeApplied && errors.As(err, &ne) {
		t.netErr = ne
	}
}

// run makes one attempt, bounded by d (AttemptTimeout) when the call's
// attempts are.
func (t *retryTarget) run(ctx context.Context, d time.Duration) error {
	var err error
	if t.pipeline {
		t.cut, err = attempt(ctx, d, t.bounded, t.nextPipe, t.cmds)
	} else {
		t.cut, err = attempt(ctx, d, t.bounded, t.next, t.cmd)
	}
	return err
}

// reset clears what the last attempt left on the commands.
func (t *retryTarget) reset() {
	if t.pipeline {
		for _, c := range t.cmds {
			resetCmd(c)
		}
		return
	}
	resetCmd(t.cmd)
}

// errNoReply is set on a single command before it is sent again. go-redis
// sets the command's error from the reply, or returns the error of the
// attempt; a next that returns it came back without sending anything.
var errNoReply = errors.New("hooks: no reply to the re-sent command")

// arm marks a single command before a re-send, so that notResent can tell a
// real re-send from a next that returned at once. Batches need no mark:
// every go-redis pipeline path (plain, MULTI/EXEC, cluster, AutoPipeline
// batches, full-duplex Pipeline and FDPipelined) runs the whole batch again
// when its pipeline hook calls next.
func (t *retryTarget) arm() {
	if !t.pipeline {
		t.cmd.SetErr(errNoReply)
	}
}

// notResent reports, after a re-send, that next returned without sending:
// go-redis's full-duplex engine runs a command's process hooks after the
// command was written, and its next only hands back the command's state,
// which arm set. A command sent for real leaves the mark behind only when
// next succeeded (go-redis sets the error after the hooks return), and the
// mark is then cleared here.
func (t *retryTarget) notResent(err error) bool {
	if t.pipeline {
		return false
	}
	if errors.Is(err, errNoReply) {
		t.cmd.SetErr(nil)
		return true
	}
	if t.cmd.Err() == errNoReply {
		t.cmd.SetErr(err)
	}
	return false
}

func (t *retryTarget) commandName() string {
	if t.name == "" {
		switch {
		case !t.pipeline:
			t.name = t.cmd.Name()
		case isTx(t.cmds):
			t.name = "multi"
		default:
			t.name = "pipeline"
		}
	}
	return t.name
}
