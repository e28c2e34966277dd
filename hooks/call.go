package hooks

import (
	"context"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// callInfo is what the command table says of one call: a command, or a
// batch (a pipeline or a MULTI/EXEC). The classify hook, which Attach puts
// at the top of every chain it builds, works it out once and puts it in the
// context (withCall); every hook below reads it with callOf. Nothing else
// classifies a call that went through Attach.
type callInfo struct {
	table *CommandTable // the table it was classified with, never nil
	cmd   redis.Cmder   // the command; nil for a batch
	cmds  []redis.Cmder // the batch
	// info is the command's (a single command); infos are the batch's
	// commands', in order.
	info  cmdInfo
	infos []cmdInfo
	// any and all are the union and the intersection of the flags (of the
	// command alone for a single command; all is every flag for an empty
	// batch).
	any, all flagSet
	// handshake marks go-redis's set-up of a new connection (see
	// isHandshake): a single handshake command, or a batch of them. Retry,
	// Breaker, Limiter and the resend guard pass it through.
	handshake bool
}

// classifyObserver, when set (by tests), is told of every command a table
// classifies.
var classifyObserver atomic.Pointer[func(redis.Cmder)]

// classifyCmd classifies cmd with table: the one place where a hook asks
// the table about a single command.
func classifyCmd(table *CommandTable, cmd redis.Cmder) callInfo {
	table = table.orDefault()
	info := table.info(cmd)
	return callInfo{table: table, cmd: cmd, info: info, any: info.Flags, all: info.Flags, handshake: isHandshake(cmd)}
}

// classifyBatch classifies each command of cmds with table. Commands that
// within, the call classified already (a node's share of a cluster
// pipeline, in the pipeline's order), are not classified again.
func classifyBatch(table *CommandTable, cmds []redis.Cmder, within *callInfo) callInfo {
	table = table.orDefault()
	c := callInfo{table: table, cmds: cmds, infos: make([]cmdInfo, len(cmds)), all: ^flagSet(0), handshake: allHandshake(cmds)}
	j := 0
	for i, cmd := range cmds {
		found := false
		if within != nil {
			for k := j; k < len(within.cmds); k++ {
				if within.cmds[k] == cmd {
					c.infos[i], j, found = within.infos[k], k+1, true
					break
				}
			}
		}
		if !found {
			c.infos[i] = table.info(cmd)
		}
		c.any |= c.infos[i].Flags
		c.all &= c.infos[i].Flags
	}
	return c
}

// callKey is the context key of a callInfo.
type callKey struct{}

// callCtx carries a callInfo in one allocation.
type callCtx struct {
	context.Context
	call callInfo
}

func (c *callCtx) Value(key any) any {
	if _, ok := key.(callKey); ok {
		return &c.call
	}
	return c.Context.Value(key)
}

// withCall returns ctx carrying c, for the hooks below.
func withCall(ctx context.Context, c callInfo) context.Context {
	return &callCtx{Context: ctx, call: c}
}

// carried returns the callInfo in ctx, or nil.
func carried(ctx context.Context) *callInfo {
	c, _ := ctx.Value(callKey{}).(*callInfo)
	return c
}

// callOf returns what the top of the chain found for the call of cmd (a
// single command) or cmds (a batch; cmd nil), classified with table (nil:
// the default table). A hook whose chain did not start at Attach's
// classify hook, or that uses another table, classifies the call itself.
func callOf(ctx context.Context, table *CommandTable, cmd redis.Cmder, cmds []redis.Cmder) callInfo {
	table = table.orDefault()
	c := carried(ctx)
	if c.matches(table, cmd, cmds) {
		return *c
	}
	if cmd != nil {
		return classifyCmd(table, cmd)
	}
	if c != nil && c.table != table {
		c = nil
	}
	return classifyBatch(table, cmds, c)
}

// matches reports whether c is the call of cmd or cmds, classified with
// table (not nil).
func (c *callInfo) matches(table *CommandTable, cmd redis.Cmder, cmds []redis.Cmder) bool {
	return c.isCall(cmd, cmds) && c.table == table
}

// isCall reports whether c is the call of cmd (a single command) or cmds
// (a batch; cmd nil).
func (c *callInfo) isCall(cmd redis.Cmder, cmds []redis.Cmder) bool {
	switch {
	case c == nil:
		return false
	case cmd != nil:
		return c.cmd == cmd
	default:
		return c.cmd == nil && len(c.cmds) == len(cmds) && len(cmds) > 0 && &c.cmds[0] == &cmds[0]
	}
}

// handshakeCall reports whether the call of cmd (or of cmds, cmd nil) is
// go-redis's set-up of a new connection, as the top of the chain found, for
// a hook that needs to know nothing else of the call.
func handshakeCall(ctx context.Context, cmd redis.Cmder, cmds []redis.Cmder) bool {
	if c := carried(ctx); c.isCall(cmd, cmds) {
		return c.handshake
	}
	if cmd != nil {
		return isHandshake(cmd)
	}
	return allHandshake(cmds)
}

// classifyHook is the top of every chain Attach builds: it classifies each
// call once, with the table of the chain's hooks (see chainTable), for the
// hooks below. A call classified already above it (a command routed by a
// ClusterClient to a node client) passes through as it is.
type classifyHook struct {
	table *CommandTable
}

var _ orderedHook = classifyHook{}

func (h classifyHook) hookOrder() int { return orderClassify }

func (h classifyHook) redisHook() redis.Hook { return rawHook{h} }

func (h classifyHook) dialHook(next redis.DialHook) redis.DialHook { return next }

func (h classifyHook) processHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if carried(ctx).matches(h.table.orDefault(), cmd, nil) {
			return next(ctx, cmd)
		}
		return next(withCall(ctx, classifyCmd(h.table, cmd)), cmd)
	}
}

func (h classifyHook) processPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) == 0 || carried(ctx).matches(h.table.orDefault(), nil, cmds) {
			return next(ctx, cmds)
		}
		return next(withCall(ctx, callOf(ctx, h.table, nil, cmds)), cmds)
	}
}

// chainTable is the command table the hooks of a chain classify with: the
// first table set on Timeouts, Retry or Limiter, in chain order (nil: the
// default table). A hook with another table classifies for itself.
func chainTable(hs []Guard) *CommandTable {
	var tmo, retry, lim *CommandTable
	for _, h := range hs {
		switch h := h.(type) {
		case *Timeouts:
			tmo = h.table
		case *Retry:
			retry = h.table
		case *Limiter:
			lim = h.table
		}
	}
	for _, t := range []*CommandTable{tmo, retry, lim} {
		if t != nil {
			return t
		}
	}
	return nil
}
