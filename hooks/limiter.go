package hooks

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// LimiterOptions configure NewLimiter. Every budget is per node: on a
// ClusterClient or Ring attached with Attach, each node client has budgets
// of its own.
type LimiterOptions struct {
	// MaxInFlight is how many commands may be in flight at once per node. A
	// pipeline or a MULTI/EXEC transaction counts once. It is required, must
	// be above 1, and should stay below the client's PoolSize so that the
	// pool never becomes the queue. At most 1<<20.
	MaxInFlight int
	// MaxBlocking is how many of those may be blocking commands (BLPOP,
	// BLMOVE, XREAD BLOCK, WAIT, ...). A blocking command takes a permit
	// from both budgets, so MaxInFlight-MaxBlocking permits always stay
	// for short commands. 0 means MaxInFlight/4 (at least 1). It must be
	// below MaxInFlight.
	MaxBlocking int
	// MaxWait is the longest a command waits for a permit; it then fails
	// with an error wrapping ErrLimited. 0 means wait until the context
	// ends. A context deadline shorter than MaxWait ends the wait too (with
	// an error matching the context's error and ErrNotSent, not ErrLimited).
	MaxWait time.Duration
	// MaxWaiting sheds load: when that many commands are already waiting
	// for a permit on a node, the next one fails at once with ErrLimited,
	// which Retry does not try again. 0 means no bound.
	MaxWaiting int
	// MinInFlight turns on the adaptive limit: the limit for short
	// (non-blocking) commands then follows their latency, between
	// MinInFlight and MaxInFlight, and at most as many commands as that
	// limit may wait (MaxWaiting, if lower, still applies); see
	// limiter_adaptive.go. 0 means a fixed limit (MaxInFlight). It must be
	// at most MaxInFlight.
	MinInFlight int
	// Commands classifies commands (which ones are blocking). nil means
	// the built-in table (see NewCommandTable).
	Commands *CommandTable
}

// LimiterLimits are the budgets of a Limiter that SetLimits changes on a
// live client. Each field means what the LimiterOptions field of the same
// name means, with the same rules and defaults.
type LimiterLimits struct {
	MaxInFlight int
	MaxBlocking int
	MaxWait     time.Duration
	MaxWaiting  int
	MinInFlight int
}

// maxLimiterBudget bounds MaxInFlight so that the counters fit the packed
// state word.
const maxLimiterBudget = 1 << 20

// resolve checks lim by the rules of LimiterOptions and fills in the
// defaults. A bad field is an error naming it, as a field of typ (the
// struct the caller passed), and the value it got.
func (lim LimiterLimits) resolve(typ string) (LimiterLimits, error) {
	switch {
	case lim.MaxInFlight < 2:
		return lim, fmt.Errorf("hooks: %s.MaxInFlight is %d; it must be at least 2", typ, lim.MaxInFlight)
	case lim.MaxInFlight > maxLimiterBudget:
		return lim, fmt.Errorf("hooks: %s.MaxInFlight is %d; it must be at most %d", typ, lim.MaxInFlight, maxLimiterBudget)
	case lim.MaxBlocking < 0:
		return lim, fmt.Errorf("hooks: %s.MaxBlocking is %d; it must not be negative", typ, lim.MaxBlocking)
	case lim.MaxWait < 0:
		return lim, fmt.Errorf("hooks: %s.MaxWait is %s; it must not be negative", typ, lim.MaxWait)
	case lim.MaxWaiting < 0:
		return lim, fmt.Errorf("hooks: %s.MaxWaiting is %d; it must not be negative", typ, lim.MaxWaiting)
	case lim.MinInFlight < 0 || lim.MinInFlight > lim.MaxInFlight:
		return lim, fmt.Errorf("hooks: %s.MinInFlight is %d; it must be between 0 and MaxInFlight (%d)",
			typ, lim.MinInFlight, lim.MaxInFlight)
	}
	if lim.MaxBlocking == 0 {
		lim.MaxBlocking = max(lim.MaxInFlight/4, 1)
	}
	if lim.MaxBlocking >= lim.MaxInFlight {
		return lim, fmt.Errorf("hooks: %s.MaxBlocking is %d; it must be below MaxInFlight (%d)",
			typ, lim.MaxBlocking, lim.MaxInFlight)
	}
	return lim, nil
}

// Limiter bounds the commands in flight per node, with a separate, smaller
// budget for blocking commands, so that consumers blocked in BLPOP or
// XREAD BLOCK can never take every connection of the pool from GET and SET.
//
// Waiters are admitted in arrival order (FIFO), with one refinement: a
// short command never queues behind a blocking command that is waiting for
// the blocking budget, since it could not use the permit anyway. A command
// waits at most MaxWait, and never past its context's end or deadline; a
// command that gets no permit fails with an error wrapping ErrLimited and
// is never sent, so it is safe to retry.
//
// When a permit is free and nobody waits, admission is one atomic
// compare-and-swap: no lock, no allocation. Locks, waiter records and
// timers are used only when a command has to wait.
//
// # Connections already held
//
// A permit stands for a connection the command is about to take from the
// pool. A command sent on a connection that is already out of the pool
// takes no permit: the commands of a transaction (Client.Watch, on a
// client, a cluster's node or a ring's shard), of a Conn or EphemeralConn,
// and of a new connection's handshake, OnConnect callback included. Each
// of these holds its connection from one command to the next; if its next
// command had to wait for a permit, and the permits were held by commands
// waiting for a pool connection that such sessions hold, neither side could
// move (go-redis's own "Tx should Watch" test, 100 goroutines on a pool of
// 10: every increment failed). Such sessions hold connections outside the
// Limiter's budgets, between commands as well as during them: size the
// pool for them, above MaxInFlight.
//
// go-redis builds the hook chain of such a session by calling each hook's
// ProcessHook and ProcessPipelineHook from (*Tx).init or newConn, the two
// places where it makes a client bound to one connection; the Limiter
// recognizes those calls by the functions on the stack (once per chain,
// not per command) and gives that chain no permits. The handshake
// commands (HELLO, AUTH, SELECT, CLIENT SETNAME, ...) are also recognized
// by name.
//
// Attach gives every node of a cluster or ring its own budgets.
//
// SetLimits changes the budgets while commands run.
type Limiter struct {
	table *CommandTable

	mu  sync.Mutex
	lim *limBudgets // the budgets in force, for the nodes to come; under mu
	// pool is the smallest PoolSize (per node) of the clients Attach has
	// taken the Limiter for, 0 before the first; under mu. MaxInFlight may
	// not go above it (see fitPool).
	pool  int
	cores map[string]*limCore
	own   atomic.Pointer[limCore] // the budget of the address "", once made

	// newTimer: each wait starts a timer of its own instead of leaving its
	// end to the node's expiry timer (see limiter_expiry.go); only for make
	// bench's comparison of the two (hookx.LimiterNewTimerPerWait).
	newTimer bool
}

var (
	_ hookMethods = (*Limiter)(nil)
	_ nodeHook    = (*Limiter)(nil)
	_ redis.Hook  = (*nodeLimiter)(nil)
)

// NewLimiter checks opt, applies its defaults and returns a Limiter. A bad
// option is an error naming the field and the value it got.
func NewLimiter(opt LimiterOptions) (*Limiter, error) {
	lim, err := LimiterLimits{
		MaxInFlight: opt.MaxInFlight,
		MaxBlocking: opt.MaxBlocking,
		MaxWait:     opt.MaxWait,
		MaxWaiting:  opt.MaxWaiting,
		MinInFlight: opt.MinInFlight,
	}.resolve("LimiterOptions")
	if err != nil {
		return nil, err
	}
	return &Limiter{table: opt.Commands, lim: newLimBudgets(lim), cores: make(map[string]*limCore)}, nil
}

// SetLimits replaces the budgets of every node, at once, while commands
// run. lim is checked as NewLimiter checks its options, and a zero field
// takes its default as there (MaxBlocking a quarter of MaxInFlight; MaxWait
// and MaxWaiting no bound): to change one budget, take the others from
// Stats().LimiterLimits. A bad field is an error naming it, and nothing
// changes.
//
// A raised budget admits the waiters it has room for at once. A lowered
// one takes nothing back: the commands in flight finish, and no new
// command is admitted until fewer than the new budget are in flight. The
// permits of the commands in flight are counted against the new budgets.
// MaxWait and MaxWaiting apply to the waits that start after the call.
//
// Once Attach has added the Limiter to a client, SetLimits also refuses a
// MaxInFlight above the client's PoolSize, as Attach does (with several
// clients, the smallest PoolSize of them).
func (l *Limiter) SetLimits(lim LimiterLimits) error { return l.setLimits(lim, true) }

// setLimits is SetLimits; without pool, it lets MaxInFlight past the pool
// (only for make bench, see hookx.LimiterPastPool).
func (l *Limiter) setLimits(lim LimiterLimits, pool bool) error {
	lim, err := lim.resolve("LimiterLimits")
	if err != nil {
		return err
	}
	b := newLimBudgets(lim)
	l.mu.Lock()
	defer l.mu.Unlock()
	if pool && l.pool > 0 && lim.MaxInFlight > l.pool {
		return fmt.Errorf("hooks: LimiterLimits.MaxInFlight is %d; the Limiter is attached to a client with "+
			"PoolSize %d per node, and %s", lim.MaxInFlight, l.pool, pastPool(l.pool, lim.MaxInFlight))
	}
	l.lim = b
	for _, c := range l.cores {
		c.setBudgets(b)
	}
	return nil
}

// core returns the budget of the node at addr, creating it on first use.
func (l *Limiter) core(addr string) *limCore {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.cores[addr]
	if !ok {
		c = newLimCore(addr, l.table, l.lim)
		c.newTimer = l.newTimer
		l.cores[addr] = c
	}
	return c
}

// ownCore is the budget the Limiter uses as a plain hook. go-redis may ask
// for the hook functions on every call (autopipelining, cluster
// pipelines), so it is cached.
func (l *Limiter) ownCore() *limCore {
	if c := l.own.Load(); c != nil {
		return c
	}
	c := l.core("")
	l.own.Store(c)
	return c
}

func (l *Limiter) hookOrder() int { return orderLimiter }

func (l *Limiter) redisHook() redis.Hook { return rawHook{l} }

// forNode returns a hook bound to the budgets of the node at addr.
func (l *Limiter) forNode(addr string) redis.Hook { return &nodeLimiter{c: l.core(addr)} }

// dialHook returns next unchanged: dialing is bounded by the pool.
func (l *Limiter) dialHook(next redis.DialHook) redis.DialHook { return next }

// processHook admits each command through the Limiter's own budget (the
// node address ""); Attach uses per-node budgets instead. The chain of a
// session that holds its connection (see Limiter) gets next unchanged.
func (l *Limiter) processHook(next redis.ProcessHook) redis.ProcessHook {
	if heldConnChain() {
		return next
	}
	return l.ownCore().processHook(next)
}

// processPipelineHook admits a pipeline or a transaction as one command
// through the Limiter's own budget; it is blocking if any of its commands
// is. The chain of a session that holds its connection gets next
// unchanged.
func (l *Limiter) processPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	if heldConnChain() {
		return next
	}
	return l.ownCore().pipelineHook(next)
}

// LimiterStats are a Limiter's figures. Counters only grow; gauges are a
// snapshot. Within a node's snapshot, Waiting and the counters of the waits
// that ended without a permit (Rejected, Cancelled) agree: each such wait
// leaves Waiting in the same step that counts it. A waiter granted a permit
// leaves Waiting then, and counts in Admitted as its command starts.
type LimiterStats struct {
	// InFlight is how many commands (pipelines counted once) hold a permit.
	InFlight int64
	// InFlightBlocking is how many of those are blocking commands.
	InFlightBlocking int64
	// Waiting is how many commands wait for a permit.
	Waiting int64
	// WaitingBlocking is how many of those are blocking commands.
	WaitingBlocking int64
	// Admitted counts the commands given a permit.
	Admitted uint64
	// Rejected counts the commands that got ErrLimited: MaxWait ran out, or
	// MaxWaiting commands were already waiting.
	Rejected uint64
	// Cancelled counts the commands whose context ended (cancelled, or its
	// deadline passed) while they waited.
	Cancelled uint64
	// TotalWait is the time spent waiting for permits, by every command
	// that had to wait, whatever the outcome. Commands admitted at once add
	// nothing.
	TotalWait time.Duration
	// MaxWaitSeen is the longest single wait.
	MaxWaitSeen time.Duration
	// Limit is the limit for short commands in force, summed over the
	// nodes as InFlight is: MaxInFlight per node, or with MinInFlight set,
	// the adaptive limit where latency has put it.
	Limit int64
	// LimiterLimits are the budgets in force, per node, defaults filled in:
	// those of NewLimiter, or of the last SetLimits.
	LimiterLimits
}

// Stats returns the figures summed over every node (MaxWaitSeen is the
// largest of them; the limits are the per-node budgets).
func (l *Limiter) Stats() LimiterStats {
	cores, b := l.coreList()
	st := LimiterStats{LimiterLimits: b.limits}
	for _, c := range cores {
		s := c.stats()
		st.InFlight += s.InFlight
		st.InFlightBlocking += s.InFlightBlocking
		st.Limit += s.Limit
		st.Waiting += s.Waiting
		st.WaitingBlocking += s.WaitingBlocking
		st.Admitted += s.Admitted
		st.Rejected += s.Rejected
		st.Cancelled += s.Cancelled
		st.TotalWait += s.TotalWait
		st.MaxWaitSeen = max(st.MaxWaitSeen, s.MaxWaitSeen)
	}
	return st
}

// NodeStats returns the figures of each node, keyed by node address (a
// node client's Options().Addr). A node that left a cluster keeps its
// entry.
func (l *Limiter) NodeStats() map[string]LimiterStats {
	cores, _ := l.coreList()
	m := make(map[string]LimiterStats, len(cores))
	for _, c := range cores {
		m[c.addr] = c.stats()
	}
	return m
}

// coreList returns the node budgets and the limits in force.
func (l *Limiter) coreList() ([]*limCore, *limBudgets) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cores := make([]*limCore, 0, len(l.cores))
	for _, c := range l.cores {
		cores = append(cores, c)
	}
	return cores, l.lim
}

// nodeLimiter is the hook Attach adds to one node client.
type nodeLimiter struct{ c *limCore }

func (n *nodeLimiter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (n *nodeLimiter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	if heldConnChain() {
		return next
	}
	return n.c.processHook(next)
}

func (n *nodeLimiter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	if heldConnChain() {
		return next
	}
	return n.c.pipelineHook(next)
}

// limBudgets are resolved limits in the form the hot path reads. A value
// is never changed: SetLimits swaps in a new one.
type limBudgets struct {
	maxIn, maxBlk uint64
	maxShort      uint64 // short commands in flight: maxIn, or the adaptive limit
	maxWaiting    int64
	limits        LimiterLimits
}

func newLimBudgets(lim LimiterLimits) *limBudgets {
	return &limBudgets{
		maxIn:      uint64(lim.MaxInFlight),
		maxBlk:     uint64(lim.MaxBlocking),
		maxShort:   uint64(lim.MaxInFlight),
		maxWaiting: int64(lim.MaxWaiting),
		limits:     lim,
	}
}

// limCore is the pair of budgets of one node.
//
// Invariant, kept by every operation made under mu and by every lock-free
// change: no queued waiter could be granted with the permits that are free.
// So a command that finds its permits free may take them without
// overtaking anyone who could have used them.
//
// waiting, rejected and cancelled change only under mu (rejected and
// cancelled also lock-free where no wait is involved), so that stats,
// which reads them under mu, sees every ended wait counted.
type limCore struct {
	state atomic.Uint64
	_     [56]byte // keep the hot word on its own cache line

	budgets atomic.Pointer[limBudgets] // replaced under mu, with the generation

	admitted, rejected, cancelled atomic.Uint64
	totalWait, maxWaitSeen        atomic.Int64
	waiting                       atomic.Int64

	addr  string
	table *CommandTable
	adapt adaptive // the adaptive limit, see limiter_adaptive.go

	mu     sync.Mutex
	shortQ waitList // short commands, in arrival order
	blkQ   waitList // blocking commands, in arrival order
	seq    uint64   // arrival counter, under mu

	// expiry ends the waits whose deadline has passed (limiter_expiry.go);
	// expiryAt is when it fires (monoNow), 0 when not armed. Under mu.
	expiry   *time.Timer
	expiryAt int64

	newTimer bool // see Limiter.newTimer
}

func newLimCore(addr string, table *CommandTable, b *limBudgets) *limCore {
	c := &limCore{addr: addr, table: table}
	c.budgets.Store(c.adapt.budgets(b))
	return c
}

// setBudgets puts b in force: it advances the generation, so that no
// lock-free change made with the old budgets can land, and grants the
// waiters b has room for.
func (c *limCore) setBudgets(b *limBudgets) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.budgets.Store(c.adapt.budgets(b))
	c.settle(0, true)
}

func (c *limCore) processHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		call := callOf(ctx, c.table, cmd, nil)
		if call.handshake {
			// go-redis runs a new connection's handshake through the
			// hooks, nested in the command that holds the permit.
			return next(ctx, cmd)
		}
		blocking := call.any&flagBlocking != 0
		if err := c.acquire(ctx, blocking); err != nil {
			return err
		}
		if !blocking && c.adapt.on.Load() {
			return c.sampled(ctx, cmd, next)
		}
		err := next(ctx, cmd)
		c.release(blocking)
		return err
	}
}

func (c *limCore) pipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		call := callOf(ctx, c.table, nil, cmds)
		if call.handshake {
			return next(ctx, cmds)
		}
		blocking := call.any&flagBlocking != 0
		if err := c.acquire(ctx, blocking); err != nil {
			// go-redis sets no per-command error when a hook fails a
			// pipeline without calling next: say why on each command.
			for _, cmd := range cmds {
				cmd.SetErr(err)
			}
			return err
		}
		err := next(ctx, cmds)
		c.release(blocking)
		return err
	}
}
