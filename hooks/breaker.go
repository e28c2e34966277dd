package hooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
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

var _ nodeHook = (*Breaker)(nil)

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

// state returns the state of addr's breaker; an address with no breaker
// (never seen, or evicted) is closed.
func (b *Breaker) state(addr string) BreakerState {
	nb, ok := b.nodes.Peek(addr)
	if !ok {
		return BreakerClosed
	}
	s := breakerState(nb.cb.State())
	b.deliver()
	return s
}

// States returns the state of every node's breaker the Breaker keeps.
func (b *Breaker) States() map[string]BreakerState {
	keys := b.nodes.Keys()
	m := make(map[string]BreakerState, len(keys))
	for _, k := range keys {
		if nb, ok := b.nodes.Peek(k); ok {
			m[k] = breakerState(nb.cb.State())
		}
	}
	b.deliver()
	return m
}

// Subscribe adds fn to the listeners of every node's state changes, next
// to BreakerOptions.OnStateChange and any other subscriber, and returns a
// function that removes it (safe to call more than once). fn is called as
// OnStateChange is: in order, with no lock held, on the goroutine of a call
// that follows the change or of State and States; it may call them. Keep
// it short: the next listeners and the call wait for it. A health.Monitor
// subscribes this way to follow the breaker at once.
func (b *Breaker) Subscribe(fn func(node string, from, to BreakerState)) (unsubscribe func()) {
	if fn == nil {
		return func() {}
	}
	s := &subscription{fn: fn}
	b.subMu.Lock()
	var cur []*subscription
	if p := b.subs.Load(); p != nil {
		cur = *p
	}
	next := append(append(make([]*subscription, 0, len(cur)+1), cur...), s)
	b.subs.Store(&next)
	b.subMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			b.subMu.Lock()
			defer b.subMu.Unlock()
			p := b.subs.Load()
			if p == nil {
				return
			}
			next := make([]*subscription, 0, len(*p))
			for _, o := range *p {
				if o != s {
					next = append(next, o)
				}
			}
			b.subs.Store(&next)
		})
	}
}

// enqueue is gobreaker's OnStateChange: it runs under gobreaker's lock, so
// it only queues the event.
func (b *Breaker) enqueue(node string, from, to gobreaker.State) {
	b.evMu.Lock()
	b.events = append(b.events, stateEvent{node: node, from: breakerState(from), to: breakerState(to)})
	b.pending.Add(1)
	b.evMu.Unlock()
}

// deliver hands queued events to OnStateChange and the subscribers, in
// order, with no lock held. One goroutine delivers at a time; one that finds
// another at it leaves the events to it.
func (b *Breaker) deliver() {
	for b.pending.Load() != 0 {
		if !b.delivering.CompareAndSwap(false, true) {
			return
		}
		b.deliverQueued()
	}
}

func (b *Breaker) deliverQueued() {
	defer b.delivering.Store(false)
	for {
		b.evMu.Lock()
		batch := b.events
		b.events = nil
		b.pending.Store(0)
		b.evMu.Unlock()
		if len(batch) == 0 {
			return
		}
		var subs []*subscription
		if p := b.subs.Load(); p != nil {
			subs = *p
		}
		for _, e := range batch {
			if b.onStateChange != nil {
				b.onStateChange(e.node, e.from, e.to)
			}
			for _, s := range subs {
				s.fn(e.node, e.from, e.to)
			}
		}
	}
}

// Verdicts handed to gobreaker in place of the real error, decided outside
// its lock.
var (
	errBreakerFailure  = errors.New("hooks: breaker: node failure")
	errBreakerExcluded = errors.New("hooks: breaker: not counted")
)

// verdict says how gobreaker counts a call that returned err.
func verdict(ctx context.Context, err error, pipeline bool) error {
	if err == nil || err == redis.Nil {
		return nil
	}
	if canceled(ctx, err) {
		return errBreakerExcluded
	}
	o, fault := classify(err, pipeline)
	switch {
	case fault && callerDeadlineCut(ctx, err):
		return errBreakerExcluded
	case fault:
		return errBreakerFailure
	case o == outcomeNotSent, o == outcomeStopped:
		return errBreakerExcluded
	default:
		return nil
	}
}

// deadlineSlack absorbs the difference between the clock a socket deadline
// fires by and time.Now for a deadline without a monotonic reading.
const deadlineSlack = time.Millisecond

// callerDeadlineCut reports whether err is the caller's own deadline
// cutting the command: err is a timeout (not a dial's), and the deadline of
// the caller's context (the one Timeouts was given, see callerContext) was
// no later than any other deadline on ctx and had passed when err came. A
// class deadline of Timeouts that was earlier, or a socket timeout that
// fired before the caller's deadline, is the node's failure.
func callerDeadlineCut(ctx context.Context, err error) bool {
	if !isDeadlineErr(err) {
		return false
	}
	dl, ok := callerContext(ctx).Deadline()
	if !ok {
		return false
	}
	if eff, ok := ctx.Deadline(); ok && eff.Before(dl) {
		return false
	}
	return !time.Now().Add(deadlineSlack).Before(dl)
}

// isDeadlineErr reports a timeout other than a dial's: a socket deadline,
// a net.Error timing out, or context.DeadlineExceeded.
func isDeadlineErr(err error) bool {
	var m *maybeAppliedError
	if errors.As(err, &m) {
		err = m.Cause()
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return false
	}
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
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

// breakerHook is the hook of one node, bound to its breaker.
type breakerHook struct {
	b      *Breaker
	addr   string
	target *redis.Options // the node client's options, or nil
	nb     atomic.Pointer[nodeBreaker]
}

var _ redis.Hook = (*breakerHook)(nil)

// node returns the node's breaker, looking it up again if the cache
// dropped it.
func (h *breakerHook) node() *nodeBreaker {
	nb := h.nb.Load()
	if nb.evicted.Load() {
		nb = h.b.node(h.addr, h.target)
		h.nb.Store(nb)
	}
	return nb
}

// DialHook counts every failed dial as a failure of the node, whoever
// waits for the connection: go-redis dials on a goroutine of its own,
// detached from the command that needed the connection, so a caller whose
// deadline ends first never sees the dial's error. A dial cancelled
// (context.Canceled) does not count; a successful dial is not a success,
// since a node that accepts connections may still not answer. The dial
// itself is never refused: the commands that need it were let through.
func (h *breakerHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err != nil && !errors.Is(err, context.Canceled) && ctx.Err() != context.Canceled {
			h.dialFailed()
		}
		return conn, err
	}
}

// dialFailed records a failure with the node's breaker. An open breaker
// records nothing; a half-open one with no probe left neither (the probe's
// own result decides).
func (h *breakerHook) dialFailed() {
	nb := h.node()
	nb.fast.failing()
	_, _ = nb.cb.Execute(func() (struct{}, error) { return struct{}{}, errBreakerFailure })
	nb.fast.done()
	if h.b.pending.Load() != 0 {
		h.b.deliver()
	}
}

func (h *breakerHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if handshakeCall(ctx, cmd, nil) {
			return next(ctx, cmd)
		}
		return h.execute(ctx, false, func(ctx context.Context) error { return next(ctx, cmd) })
	}
}

func (h *breakerHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if handshakeCall(ctx, nil, cmds) {
			return next(ctx, cmds)
		}
		err := h.execute(ctx, true, func(ctx context.Context) error { return next(ctx, cmds) })
		if _, refused := err.(*circuitOpenError); refused {
			// go-redis sets no per-command error when a hook fails a
			// pipeline without calling next: say why on each command,
			// as the Limiter does.
			for _, cmd := range cmds {
				cmd.SetErr(err)
			}
		}
		return err
	}
}

// execute runs call, a command or a batch (pipeline), through the node's
// breaker.
func (h *breakerHook) execute(ctx context.Context, pipeline bool, call func(context.Context) error) error {
	nb := h.node()
	if err, ok := h.executeFast(ctx, nb, pipeline, call); ok {
		return err
	}
	if !nb.closed.Load() {
		if ctx.Value(nestedKey{nb}) != nil {
			return call(ctx)
		}
		ctx = context.WithValue(ctx, nestedKey{nb}, true)
	}
	var err error
	failed := false
	_, v := nb.cb.Execute(func() (struct{}, error) {
		err = call(ctx)
		vd := verdict(ctx, err, pipeline)
		if vd == errBreakerFailure {
			nb.fast.failing()
			failed = true
		}
		return struct{}{}, vd
	})
	if failed {
		nb.fast.done()
	} else if v == nil {
		nb.fast.endStreak(&nb.cb)
	}
	if h.b.pending.Load() != 0 {
		h.b.deliver()
	}
	if v == gobreaker.ErrOpenState || v == gobreaker.ErrTooManyRequests {
		return nb.openErr
	}
	return err
}

// circuitOpenError is the error of an open circuit: it names the node and
// matches ErrCircuitOpen and ErrNotSent.
type circuitOpenError struct {
	msg string
}

func (e *circuitOpenError) Error() string { return e.msg }

func (e *circuitOpenError) Is(target error) bool {
	return target == ErrCircuitOpen || target == ErrNotSent
}
