package hooks

import (
	"context"
	"errors"
	"sync"

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
// the error is replaced by a *maybeAppliedError, which go-redis does not
// recognise as retryable (it does not unwrap to the network error). The
// Retry hook, outside, classifies it as outcomeMaybeApplied and does not
// re-send either. Idempotent commands keep their error, and go-redis may
// re-send them (moving to another node after a second failure), which is
// safe.
//
// Pipelines: ClusterClient.processPipeline decides inside the node's
// pipeline call which commands to send again (after a read timeout, EOF or
// reset it re-queues the node's whole batch, commands that already got
// their reply included) and sends them again through the node's
// ProcessPipelineHook, up to MaxRedirects times. The guard's pipeline hook
// sees each of those sends. After a send it marks every command that is not
// idempotent and may have run: a command whose error says it may have been
// applied gets a *maybeAppliedError, and a command that got its reply in a
// batch that failed is remembered in the call's resendScope. On a later
// send of the same command (the same Cmder) it leaves that command out of
// the batch: a command that got its reply keeps it, the others keep their
// *maybeAppliedError. Idempotent commands are sent again. A MULTI/EXEC is
// passed through: the cluster client sends it again only after a failed
// write or a failed connection, when EXEC never reached the server.
//
// Retry budget: when the Retry hook has a budget, a single command that
// go-redis's loop sends again after a failure that draws on the budget
// (see RetryBudget) takes a token first; without one it is not sent, and
// the loop ends (see budgetStop).
type resendGuard struct {
	table  *CommandTable
	budget *retryBudget
	node   string
}

var _ nodeHook = (*resendGuard)(nil)

func (g *resendGuard) hookOrder() int { return orderResendGuard }

func (g *resendGuard) redisHook() redis.Hook { return g }

func (g *resendGuard) forNode(addr string) redis.Hook {
	return &resendGuard{table: g.table, budget: g.budget, node: addr}
}

// resendGuardFor returns the guard Attach adds to a cluster's or ring's node
// clients, classifying commands with the Retry hook's table when one is
// among hs.
func resendGuardFor(hs []Guard) *resendGuard {
	for _, h := range hs {
		if r, ok := h.(*Retry); ok {
			return &resendGuard{table: r.table, budget: r.budget}
		}
	}
	return &resendGuard{}
}

func (g *resendGuard) DialHook(next redis.DialHook) redis.DialHook { return next }

func (g *resendGuard) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	if heldConnChain() {
		return g.heldProcessHook(next)
	}
	return func(ctx context.Context, cmd redis.Cmder) error {
		if g.budget != nil {
			if err := g.budget.resend(cmd); err != nil {
				return err
			}
		}
		err := next(ctx, cmd)
		if err == nil || err == redis.Nil {
			return err
		}
		if o, _ := classify(err, false); o != outcomeMaybeApplied {
			return err
		}
		if c := callOf(ctx, g.table, cmd, nil); c.handshake || c.info.IsIdempotent() {
			return err
		}
		return &maybeAppliedError{Command: cmd.Name(), Node: g.node, cause: err}
	}
}

func (g *resendGuard) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	if heldConnChain() {
		return g.heldPipelineHook(next)
	}
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) == 0 || isTx(cmds) || isAskingTx(cmds) || allHandshake(cmds) {
			return next(ctx, cmds)
		}
		scope, _ := ctx.Value(resendScopeKey{}).(*resendScope)
		call := callOf(ctx, g.table, nil, cmds)
		send := cmds
		for i, c := range cmds {
			if !sentBefore(scope, c, call.infos[i]) {
				if len(send) < len(cmds) {
					send = append(send, c)
				}
				continue
			}
			if len(send) == len(cmds) {
				send = append(make([]redis.Cmder, 0, len(cmds)), cmds[:i]...)
			}
		}
		if len(send) == 0 {
			// Everything was sent before: nothing goes out, and each
			// command keeps what its earlier send left (a reply, or a
			// *maybeAppliedError). go-redis sets a hook's error on every
			// command without one when the hook does not call next, so
			// return nil: the commands carry the outcome.
			return nil
		}
		err := next(ctx, send)
		if err == nil {
			return nil
		}
		scope.recordMaybe(send, g.node)
		sent := call
		if len(send) < len(cmds) {
			sent = classifyBatch(g.table, send, &call)
		}
		marked := g.markSent(scope, sent)
		if !marked && len(send) == len(cmds) {
			return err
		}
		return firstGuardErr(cmds)
	}
}

// sentBefore reports whether c, of which the table says info, is not
// idempotent and an earlier send of it in this call may have applied it.
func sentBefore(scope *resendScope, c redis.Cmder, info cmdInfo) bool {
	if err := c.Err(); err != nil {
		if !isMaybeAppliedGuard(err) {
			return false
		}
	} else if !scope.has(c) {
		return false
	}
	return !isHandshake(c) && !info.IsIdempotent()
}

// markSent runs after a send of the batch sent that failed: every command
// that is not idempotent and may have run is marked, so that a later send of
// the batch leaves it out. It reports whether it marked any.
func (g *resendGuard) markSent(scope *resendScope, sent callInfo) bool {
	cmds := sent.cmds
	failed := false
	for _, c := range cmds {
		if err := c.Err(); err != nil && err != redis.Nil && !isMaybeAppliedGuard(err) {
			if o, _ := classify(err, true); o == outcomeMaybeApplied {
				failed = true
				break
			}
		}
	}
	if !failed {
		return false // answers, or nothing sent: go-redis re-sends nothing that ran
	}
	marked := false
	for i, c := range cmds {
		err := c.Err()
		if err != nil && err != redis.Nil {
			if o, _ := classify(err, true); o != outcomeMaybeApplied || isMaybeAppliedGuard(err) {
				continue
			}
		}
		if isHandshake(c) || sent.infos[i].IsIdempotent() {
			continue
		}
		if err == nil || err == redis.Nil {
			// It got its reply, in a batch that failed: go-redis may
			// re-queue the whole batch.
			if scope == nil {
				continue
			}
			scope.add(c)
		} else {
			c.SetErr(&maybeAppliedError{Command: c.Name(), Node: g.node, cause: err})
		}
		marked = true
	}
	return marked
}

// firstGuardErr is the first command error in cmds, the error a pipeline's
// next returns, redis.Nil and other answers excluded when a
// *maybeAppliedError is among them (that one tells the caller what matters).
func firstGuardErr(cmds []redis.Cmder) error {
	var first error
	for _, c := range cmds {
		err := c.Err()
		if err == nil {
			continue
		}
		if isMaybeAppliedGuard(err) {
			return err
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// isAskingTx reports ASKING followed by a MULTI ... EXEC batch.
func isAskingTx(cmds []redis.Cmder) bool {
	return len(cmds) >= 3 && cmds[0].Name() == "asking" && isTx(cmds[1:])
}

// resendScope remembers, for one pipeline call on a ClusterClient or Ring,
// the commands that got their reply in a node batch that then failed, so
// that a re-send of the batch by go-redis's cluster loop leaves them out.
// It lives in the call's context and goes away with it: nothing outlives
// the call, whatever happens below it.
type resendScope struct {
	mu   sync.Mutex
	sent map[redis.Cmder]struct{}
	// maybe holds every command (idempotent ones too) that a send in this
	// call may have applied, with the node it went to: a later attempt's
	// refusal (an open circuit, a dial error) must not hide it.
	maybe map[redis.Cmder]string
}

// recordMaybe remembers the commands of a failed send that may have run.
func (s *resendScope) recordMaybe(cmds []redis.Cmder, node string) {
	if s == nil {
		return
	}
	for _, c := range cmds {
		err := c.Err()
		if err == nil || err == redis.Nil {
			continue
		}
		if o, _ := classify(err, true); o != outcomeMaybeApplied {
			continue
		}
		s.mu.Lock()
		if s.maybe == nil {
			s.maybe = make(map[redis.Cmder]string)
		}
		s.maybe[c] = node
		s.mu.Unlock()
	}
}

// correct runs when the call is over: a command that an earlier send may
// have applied and that ended with an error saying it was not sent (the
// last attempt's refusal or failed dial) gets a *maybeAppliedError instead,
// so that no error of the call claims less than what happened. It reports
// whether it changed any.
func (s *resendScope) correct(cmds []redis.Cmder) bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := false
	for _, c := range cmds {
		node, ok := s.maybe[c]
		if !ok {
			continue
		}
		err := c.Err()
		if err == nil || err == redis.Nil || isReplyErr(err) {
			continue
		}
		if o, _ := classify(err, true); o == outcomeMaybeApplied {
			continue
		}
		c.SetErr(&maybeAppliedError{Command: c.Name(), Node: node, cause: err})
		changed = true
	}
	return changed
}

type resendScopeKey struct{}

func (s *resendScope) add(c redis.Cmder) {
	s.mu.Lock()
	if s.sent == nil {
		s.sent = make(map[redis.Cmder]struct{})
	}
	s.sent[c] = struct{}{}
	s.mu.Unlock()
}

func (s *resendScope) has(c redis.Cmder) bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	_, ok := s.sent[c]
	s.mu.Unlock()
	return ok
}

// resendScopeHook is added by Attach to a ClusterClient or Ring, innermost
// among the hooks that wrap the whole call: it gives each pipeline call
// (Pipelined, TxPipelined, an AutoPipeline batch) its own resendScope for
// the node guards below to record in. Single commands need none.
type resendScopeHook struct{}

func (resendScopeHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (resendScopeHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (resendScopeHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		scope := new(resendScope)
		err := next(context.WithValue(ctx, resendScopeKey{}, scope), cmds)
		if err != nil && scope.correct(cmds) {
			err = firstGuardErr(cmds)
		}
		return err
	}
}

// maybeAppliedError is the error of a command that is not idempotent and
// failed on a cluster or ring node after it may have been applied (a read
// timeout, EOF or reset after the write). It matches ErrMaybeApplied with
// errors.Is. It deliberately does not unwrap to the network error, nor
// answer Timeout, so that go-redis's cluster and ring loops do not send the
// command again; Cause returns that error. The error Retry returns for it
// reaches the network error again (see RetryError).
type maybeAppliedError struct {
	// Command is the command's name.
	Command string
	// Node is the address of the node it was sent to.
	Node  string
	cause error
}

// Error names the command, the node and the cause.
func (e *maybeAppliedError) Error() string {
	return "hooks: " + e.Command + " may have been applied on " + e.Node + " (not sent again): " + e.cause.Error()
}

// Is matches ErrMaybeApplied.
func (e *maybeAppliedError) Is(target error) bool { return target == ErrMaybeApplied }

// Cause returns the network error the command failed with.
func (e *maybeAppliedError) Cause() error { return e.cause }

// isMaybeAppliedGuard reports an error made by resendGuard.
func isMaybeAppliedGuard(err error) bool {
	var m *maybeAppliedError
	return errors.As(err, &m)
}

// A session that holds its connection on a cluster or ring node (a WATCH
// transaction: ClusterClient.Watch and Ring.Watch run it on the node
// client, Conn on a shard) has only the node's hooks: no Retry above it
// classifies its errors. So on such a chain the guard gives each transport
// or server-state error the class Retry would have given it, as a
// one-attempt *RetryError (a net.Error where the cause is one), and sends
// nothing again: a held connection that failed is not reused.

func (g *resendGuard) heldProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err == nil || err == redis.Nil || isHandshake(cmd) {
			return err
		}
		return heldErr(cmd.Name(), err, false)
	}
}

func (g *resendGuard) heldPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if err == nil || err == redis.Nil || allHandshake(cmds) {
			return err
		}
		name := "pipeline"
		if isTx(cmds) {
			name = "multi"
		}
		err = heldErr(name, err, true)
		wrapCmds(cmds, false, 1)
		return err
	}
}

// heldErr classifies err, the error of a command or batch on a held
// connection, as one attempt; answers and context errors are returned as
// they are.
func heldErr(name string, err error, pipeline bool) error {
	var re *RetryError
	if errors.As(err, &re) {
		return err
	}
	o, fault := classify(err, pipeline)
	if !isFailure(o) {
		return err
	}
	return newRetryError(&RetryError{outcome: o, Command: name, Attempts: 1, Err: err, nodeFault: fault}, nil)
}

// isReplyErr reports an error reply of the server.
func isReplyErr(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr)
}
