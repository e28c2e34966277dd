package hooks

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
)

// BreakerOptions configures Breaker. The zero value is usable: every zero
// field takes the default written next to it.
type BreakerOptions struct {
	// ConsecutiveFailures trips a node's breaker after this many failures
	// in a row. 0 means 5.
	ConsecutiveFailures uint32
	// FailureRatio trips a node's breaker when failures/(failures +
	// successes) reaches it over the rolling Window, once MinRequests
	// calls have completed in the window. 0 means 0.5; at most 1.
	FailureRatio float64
	// MinRequests is the number of completed calls in the window before
	// FailureRatio applies. 0 means 20.
	MinRequests uint32
	// Window is the length of the rolling window, kept in 10 buckets
	// (gobreaker's BucketPeriod is Window/10). 0 means 10s.
	Window time.Duration
	// OpenTimeout is how long a breaker stays open before it lets probes
	// through (half-open). 0 means 5s.
	OpenTimeout time.Duration
	// HalfOpenProbes is the number of calls let through while half-open;
	// that many successes in a row close the breaker, one failure opens it
	// again. 0 means 1.
	HalfOpenProbes uint32
	// MaxNodes bounds the per-node breakers kept (least recently created
	// or looked up first out). 0 means 1024.
	MaxNodes int
	// ProbeInterval is how often a node whose circuit is open is probed,
	// off the callers' path, as a load balancer's active health check
	// does: every ProbeInterval, a PING bounded by ProbeInterval on a
	// connection of the probe's own, made with the node client's options
	// (network, address, dialer, credentials) and with no hook on it, so
	// that a probe is never seen or counted as a caller's call and never
	// takes a Limiter permit. A probe succeeds as a call would (PONG, or an
	// answer that is not a failure of the node); HalfOpenProbes successes
	// in a row close the circuit at once, whatever is left of OpenTimeout.
	// Failed probes change nothing: the circuit half-opens after
	// OpenTimeout as without probes. Probing starts when a circuit opens
	// and stops when it closes, when the node's breaker leaves the cache
	// (MaxNodes), or on Breaker.Close.
	// 0 means 100ms; a negative value turns probing off.
	ProbeInterval time.Duration
	// OnStateChange, if set, is called on every state change of a node's
	// breaker, in order, outside gobreaker's lock and any other lock, on
	// the goroutine of a call that follows the change (or of State and
	// States, or of the probe that closed the circuit). It may call State
	// and States. More listeners can be added with Breaker.Subscribe.
	OnStateChange func(node string, from, to BreakerState)
}

// Breaker is a go-redis hook that keeps one circuit breaker
// (sony/gobreaker/v2) per server address, in a golang-lru/v2 cache bounded
// by MaxNodes.
//
// A breaker trips on ConsecutiveFailures failures in a row, or on
// FailureRatio over the rolling Window once MinRequests calls completed in
// it. While open, calls fail at once, with no network I/O, with an error
// that names the node and matches ErrCircuitOpen (and ErrNotSent) with
// errors.Is. Meanwhile the node is probed (see ProbeInterval), and the
// circuit closes as soon as the probes succeed. After OpenTimeout it lets
// HalfOpenProbes calls through; their success closes it, a failure opens
// it again.
//
// Only failures of the node count: dial errors, resets, EOF, timeouts,
// LOADING, BUSY, MASTERDOWN and "max number of clients".
// Answers (redis.Nil, WRONGTYPE, NOSCRIPT, other error replies) and the
// replies of a healthy node that refuses one command (READONLY, TRYAGAIN,
// and CLUSTERDOWN, which every node of a cluster answers while a master is
// being replaced) count as successes. The caller's own cancellation, a context error that
// is not a timeout of the connection, and the client's own limits
// (ErrLimited, pool timeouts) are not counted at all. A pipeline or a
// MULTI/EXEC counts once.
//
// A timeout counts when the command's class deadline (Timeouts) or the
// client's socket timeout (ReadTimeout, WriteTimeout) cut the command, but
// not when the caller's own deadline did: with ContextTimeoutEnabled a
// caller's deadline reaches the socket and ends the read with the same i/o
// timeout, and a caller asking for 1 ms says nothing about the node. The
// Breaker tells them apart by the caller's context, the one Timeouts was
// given: its deadline cut the command if it was no later than every other
// deadline on the context and had passed when the error came.
//
// Every failed dial to the node counts too, including each of go-redis's
// own dial attempts (Options.DialerRetries). go-redis dials on a goroutine
// of its own and a caller whose deadline ends first gets only its context
// error, which does not count; the failed dial itself does, so a node
// that refuses connections opens the circuit even when every caller sets
// a short deadline.
//
// # Nodes
//
// Attach adds it: on a *redis.Client it gets the client's address, on a
// ClusterClient or Ring every node client gets a hook bound to its own
// node's breaker, so the hot path does no lookup.
//
// The fast path (breaker closed, no failure streak, no error) allocates
// nothing and takes no lock (see breaker_fast.go).
//
// Close the Breaker when done with the clients it is attached to: Close
// stops the probes and waits for them (a profiles.Client closes its own).
type Breaker struct {
	consecutiveFailures uint32
	failureRatio        float64
	minRequests         uint32
	window              time.Duration
	openTimeout         time.Duration
	halfOpenProbes      uint32
	probeInterval       time.Duration // 0: no probes
	onStateChange       func(node string, from, to BreakerState)

	mu    sync.Mutex // serializes creating a node's breaker and self
	nodes *lru.Cache[string, *nodeBreaker]
	self  *breakerHook // the hook used when Breaker is added directly

	// State change events, queued under gobreaker's lock and delivered
	// after it is released.
	evMu       sync.Mutex
	events     []stateEvent
	pending    atomic.Int32
	delivering atomic.Bool

	subMu sync.Mutex                      // serializes changes to subs
	subs  atomic.Pointer[[]*subscription] // copy on write

	// Probes: started under probeMu unless probeClosed, each one counted
	// in probes; probeCtx ends them all.
	probeMu     sync.Mutex
	probeClosed bool
	probes      sync.WaitGroup
	probeCtx    context.Context
	probeStop   context.CancelFunc
}

var _ nodeHook = (*Breaker)(nil)

// BreakerState is the state of a node's circuit. Its value is its name.
type BreakerState string

const (
	// BreakerClosed lets commands through and counts their failures.
	BreakerClosed BreakerState = "closed"
	// BreakerHalfOpen lets BreakerOptions.HalfOpenProbes commands through to
	// test the node, and refuses the others with ErrCircuitOpen.
	BreakerHalfOpen BreakerState = "half-open"
	// BreakerOpen refuses every command at once with ErrCircuitOpen.
	BreakerOpen BreakerState = "open"
)

// breakerState is gobreaker's state as a BreakerState.
func breakerState(s gobreaker.State) BreakerState {
	switch s {
	case gobreaker.StateHalfOpen:
		return BreakerHalfOpen
	case gobreaker.StateOpen:
		return BreakerOpen
	default:
		return BreakerClosed
	}
}

// subscription is one listener added with Subscribe.
type subscription struct {
	fn func(node string, from, to BreakerState)
}

type stateEvent struct {
	node     string
	from, to BreakerState
}

// nodeBreaker is the breaker of one node.
type nodeBreaker struct {
	addr    string
	cb      currentBreaker
	openErr error
	evicted atomic.Bool // dropped from the cache; hooks holding it look again
	// closed mirrors "gobreaker's state is closed", set in OnStateChange
	// under gobreaker's lock. It may lag (open turns half-open lazily),
	// which only matters for calls nested in another one (see nested).
	closed atomic.Bool

	// mu orders the state changes of the current gobreaker (reported in
	// its OnStateChange, under its lock) and its replacement by a closed
	// one when probes succeed; state is the last state reported.
	mu    sync.Mutex
	state gobreaker.State
	// target is how to reach the node: the options of the client Attach
	// bound a hook to; nil for the breaker of a Breaker added directly.
	target  atomic.Pointer[redis.Options]
	probing atomic.Bool // a probe goroutine runs for the node
	fast    breakerFast // see breaker_fast.go
}

// currentBreaker holds a node's gobreaker. Probes that succeed replace it
// with a closed one: gobreaker has no way to close a circuit from outside.
type currentBreaker struct {
	atomic.Pointer[gobreaker.CircuitBreaker[struct{}]]
}

func (c *currentBreaker) Execute(req func() (struct{}, error)) (struct{}, error) {
	return c.Load().Execute(req)
}

func (c *currentBreaker) State() gobreaker.State { return c.Load().State() }

func (c *currentBreaker) Counts() gobreaker.Counts { return c.Load().Counts() }

// nestedKey marks the context of a call a breaker let through while it
// was not closed. Commands go-redis runs inside that call on the same
// node (the handshake of a new connection, a user's OnConnect) see it and
// pass through: a half-open breaker would otherwise refuse them for lack
// of probes, and the probe would never succeed.
type nestedKey struct{ nb *nodeBreaker }

// NewBreaker returns a Breaker with opt's defaults applied. It returns an
// error for a FailureRatio outside [0, 1], a negative Window or
// OpenTimeout, or a negative MaxNodes.
func NewBreaker(opt BreakerOptions) (*Breaker, error) {
	switch {
	case opt.FailureRatio < 0 || opt.FailureRatio > 1 || opt.FailureRatio != opt.FailureRatio:
		return nil, fmt.Errorf("hooks: breaker: FailureRatio %g is outside [0, 1]", opt.FailureRatio)
	case opt.Window < 0:
		return nil, fmt.Errorf("hooks: breaker: Window %s is negative", opt.Window)
	case opt.OpenTimeout < 0:
		return nil, fmt.Errorf("hooks: breaker: OpenTimeout %s is negative", opt.OpenTimeout)
	case opt.MaxNodes < 0:
		return nil, fmt.Errorf("hooks: breaker: MaxNodes %d is negative", opt.MaxNodes)
	}
	b := &Breaker{
		consecutiveFailures: opt.ConsecutiveFailures,
		failureRatio:        opt.FailureRatio,
		minRequests:         opt.MinRequests,
		window:              opt.Window,
		openTimeout:         opt.OpenTimeout,
		halfOpenProbes:      opt.HalfOpenProbes,
		onStateChange:       opt.OnStateChange,
	}
	if b.consecutiveFailures == 0 {
		b.consecutiveFailures = 5
	}
	if b.failureRatio == 0 {
		b.failureRatio = 0.5
	}
	if b.minRequests == 0 {
		b.minRequests = 20
	}
	if b.window == 0 {
		b.window = 10 * time.Second
	}
	if b.openTimeout == 0 {
		b.openTimeout = 5 * time.Second
	}
	if b.halfOpenProbes == 0 {
		b.halfOpenProbes = 1
	}
	switch {
	case opt.ProbeInterval == 0:
		b.probeInterval = 100 * time.Millisecond
	case opt.ProbeInterval > 0:
		b.probeInterval = opt.ProbeInterval
	}
	b.probeCtx, b.probeStop = context.WithCancel(context.Background())
	maxNodes := opt.MaxNodes
	if maxNodes == 0 {
		maxNodes = 1024
	}
	nodes, err := lru.NewWithEvict(maxNodes, func(_ string, nb *nodeBreaker) { nb.evicted.Store(true) })
	if err != nil {
		return nil, fmt.Errorf("hooks: breaker: %w", err)
	}
	b.nodes = nodes
	return b, nil
}

func (b *Breaker) hookOrder() int { return orderBreaker }

func (b *Breaker) redisHook() redis.Hook { return rawHook{b} }

// forNode returns a hook bound to the breaker of addr.
func (b *Breaker) forNode(addr string) redis.Hook { return b.forNodeHook(addr, nil) }

// forClient returns a hook bound to the breaker of c's address, which
// probes the node with c's options.
func (b *Breaker) forClient(c *redis.Client) redis.Hook {
	return b.forNodeHook(c.Options().Addr, c.Options())
}

func (b *Breaker) forNodeHook(addr string, target *redis.Options) *breakerHook {
	h := &breakerHook{b: b, addr: addr, target: target}
	h.nb.Store(b.node(addr, target))
	return h
}

// node returns the breaker of addr, creating it if needed; a non-nil
// target becomes how its probes reach the node.
func (b *Breaker) node(addr string, target *redis.Options) *nodeBreaker {
	b.mu.Lock()
	defer b.mu.Unlock()
	if nb, ok := b.nodes.Get(addr); ok {
		if target != nil {
			nb.target.Store(target)
		}
		return nb
	}
	nb := &nodeBreaker{addr: addr}
	nb.fast.init(b.window)
	nb.closed.Store(true)
	if target != nil {
		nb.target.Store(target)
	}
	nb.cb.Store(b.newCircuit(nb))
	if addr == "" {
		nb.openErr = &circuitOpenError{msg: ErrCircuitOpen.Error()}
	} else {
		nb.openErr = &circuitOpenError{msg: ErrCircuitOpen.Error() + " for node " + addr}
	}
	b.nodes.Add(addr, nb)
	return nb
}

// newCircuit returns a closed gobreaker for nb. Its state changes are
// reported while it is nb's current one, and not after probes replaced it.
func (b *Breaker) newCircuit(nb *nodeBreaker) *gobreaker.CircuitBreaker[struct{}] {
	var cb *gobreaker.CircuitBreaker[struct{}]
	st := gobreaker.Settings{
		Name:         nb.addr,
		MaxRequests:  b.halfOpenProbes,
		Interval:     b.window,
		BucketPeriod: b.window / 10,
		Timeout:      b.openTimeout,
		ReadyToTrip:  func(c gobreaker.Counts) bool { return b.readyToTrip(nb.fast.add(c)) },
		IsSuccessful: func(err error) bool { return err == nil },
		IsExcluded:   func(err error) bool { return err == errBreakerExcluded },
		OnStateChange: func(name string, from, to gobreaker.State) {
			nb.mu.Lock()
			defer nb.mu.Unlock()
			if nb.cb.Load() != cb {
				return
			}
			nb.state = to
			nb.fast.reset()
			nb.closed.Store(to == gobreaker.StateClosed)
			b.enqueue(name, from, to)
			if to == gobreaker.StateOpen {
				b.startProbe(nb)
			}
		},
	}
	cb = gobreaker.NewCircuitBreaker[struct{}](st)
	return cb
}

// readyToTrip is gobreaker's ReadyToTrip: N consecutive failures, or the
// failure ratio over the window with enough completed calls.
func (b *Breaker) readyToTrip(c gobreaker.Counts) bool {
	if c.ConsecutiveFailures >= b.consecutiveFailures {
		return true
	}
	n := c.TotalFailures + c.TotalSuccesses
	return n >= b.minRequests && n > 0 && float64(c.TotalFailures)/float64(n) >= b.failureRatio
}

// dialHook counts the failed dials of the breaker of address "" (see
// breakerHook.DialHook).
func (b *Breaker) dialHook(next redis.DialHook) redis.DialHook {
	return b.selfHook().DialHook(next)
}

// processHook runs commands through the breaker of address "" (see Nodes
// in the type's doc).
func (b *Breaker) processHook(next redis.ProcessHook) redis.ProcessHook {
	return b.selfHook().ProcessHook(next)
}

// processPipelineHook runs batches through the breaker of address "".
func (b *Breaker) processPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return b.selfHook().ProcessPipelineHook(next)
}

// selfHook returns the hook of address "", made when the Breaker is first
// added directly to a client.
func (b *Breaker) selfHook() *breakerHook {
	b.mu.Lock()
	h := b.self
	b.mu.Unlock()
	if h != nil {
		return h
	}
	h = b.forNodeHook("", nil)
	b.mu.Lock()
	if b.self == nil {
		b.self = h
	}
	h = b.self
	b.mu.Unlock()
	return h
}
