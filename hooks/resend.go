package hooks

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"
)

// resendGuard stops go-redis's own cluster and ring loops from sending a
// command again after a failure that leaves its outcome unknown.
//
// ClusterClient.process re-sends a command after a read timeout, EOF or
// reset up to MaxRedirects times (default 3), whatever MaxRetries says, and
// Ring.process does the same up to its MaxRetries. MaxRedirects cannot be
// turned off without losing MOVED and ASK handling. So Attach puts this
// hook innermost on every node client of a ClusterClient or Ring: when a
// command that is not idempotent fails in a way that may have applied it,
// the error is replaced by a *MaybeAppliedError, which go-redis does not
// recognise as retryable (it does not unwrap to the network error). The
// Retry hook, outside, classifies it as OutcomeMaybeApplied and does not
// re-send either. Idempotent commands keep their error, and go-redis may
// re-send them (moving to another node after a second failure), which is
// safe.
//
// Pipelines are not covered: the cluster client decides which commands of a
// node's pipeline to re-send inside the node's pipeline call, before any
// hook sees the result.
type resendGuard struct {
	table *CommandTable
	node  string
}

var _ nodeHook = (*resendGuard)(nil)

const orderResendGuard = 50 // innermost: it must see go-redis's own error

func (g *resendGuard) hookOrder() int { return orderResendGuard }

func (g *resendGuard) forNode(addr string) redis.Hook {
	return &resendGuard{table: g.table, node: addr}
}

// resendGuardFor returns the guard Attach adds to a cluster's or ring's node
// clients, classifying commands with the Retry hook's table when one is
// among hs.
func resendGuardFor(hs []redis.Hook) *resendGuard {
	for _, h := range hs {
		if r, ok := h.(*Retry); ok {
			return &resendGuard{table: r.table}
		}
	}
	return &resendGuard{}
}

func (g *resendGuard) DialHook(next redis.DialHook) redis.DialHook { return next }

func (g *resendGuard) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err == nil || err == redis.Nil {
			return err
		}
		if o, _ := classify(err, false); o != OutcomeMaybeApplied {
			return err
		}
		if isHandshake(cmd) || g.table.Classify(cmd).IsIdempotent() {
			return err
		}
		return &MaybeAppliedError{Command: cmd.Name(), Node: g.node, cause: err}
	}
}

func (g *resendGuard) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// MaybeAppliedError is the error of a command that is not idempotent and
// failed on a cluster or ring node after it may have been applied (a read
// timeout, EOF or reset after the write). It matches ErrMaybeApplied with
// errors.Is. It deliberately does not unwrap to the network error, so that
// go-redis's cluster and ring loops do not send the command again; Cause
// returns that error.
type MaybeAppliedError struct {
	// Command is the command's name.
	Command string
	// Node is the address of the node it was sent to.
	Node  string
	cause error
}

// Error names the command, the node and the cause.
func (e *MaybeAppliedError) Error() string {
	return "hooks: " + e.Command + " may have been applied on " + e.Node + " (not sent again): " + e.cause.Error()
}

// Is matches ErrMaybeApplied.
func (e *MaybeAppliedError) Is(target error) bool { return target == ErrMaybeApplied }

// Cause returns the network error the command failed with.
func (e *MaybeAppliedError) Cause() error { return e.cause }

// isMaybeAppliedGuard reports an error made by resendGuard.
func isMaybeAppliedGuard(err error) bool {
	var m *MaybeAppliedError
	return errors.As(err, &m)
}
