package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
)

// Client is what a Monitor needs from a go-redis client. *redis.Client,
// *redis.ClusterClient, *redis.Ring and any redis.UniversalClient satisfy it.
type Client interface {
	Ping(ctx context.Context) *redis.StatusCmd
	PoolStats() *redis.PoolStats
	Info(ctx context.Context, sections ...string) *redis.StringCmd
}

var (
	_ Client = (*redis.Client)(nil)
	_ Client = (*redis.ClusterClient)(nil)
	_ Client = (*redis.Ring)(nil)
	_ Client = redis.UniversalClient(nil)
)

// sharded is implemented by clients made of several nodes
// (*redis.ClusterClient, *redis.Ring): the monitor then checks every node.
type sharded interface {
	ForEachShard(ctx context.Context, fn func(ctx context.Context, client *redis.Client) error) error
}

// optioned is implemented by *redis.Client; the monitor reads only PoolSize.
type optioned interface {
	Options() *redis.Options
}

// limiterSource gives the limiter's figures; *hooks.Limiter is one.
type limiterSource interface {
	Stats() hooks.LimiterStats
	NodeStats() map[string]hooks.LimiterStats
}

// breakerSource gives each node's breaker state; *hooks.Breaker is one.
// A source that also has the Subscribe method of *hooks.Breaker is
// followed at once (see Options.Breaker).
type breakerSource interface {
	States() map[string]hooks.BreakerState
}

// breakerSubscriber is a breakerSource that tells of its state changes.
type breakerSubscriber interface {
	Subscribe(fn func(node string, from, to hooks.BreakerState)) (unsubscribe func())
}

// retrySource gives the retry hook's counters; *hooks.Retry is one.
type retrySource interface {
	Stats() hooks.RetryStats
}

// replicaReadSource gives the counters of reads sent to replicas while a
// master's circuit was open; *hooks.ReplicaReads is one.
type replicaReadSource interface {
	Stats() hooks.ReplicaReadStats
}

var (
	_ limiterSource     = (*hooks.Limiter)(nil)
	_ breakerSource     = (*hooks.Breaker)(nil)
	_ breakerSubscriber = (*hooks.Breaker)(nil)
	_ retrySource       = (*hooks.Retry)(nil)
	_ replicaReadSource = (*hooks.ReplicaReads)(nil)
)

// Defaults for the zero Options fields.
const (
	defaultInterval    = 30 * time.Second
	defaultPingTimeout = 2 * time.Second
)

// ewmaWeight is the weight of the newest ping in the moving average.
const ewmaWeight = 0.2

// Options configure a Monitor. The zero value is usable: a check every 30 s,
// a 2 s ping timeout, the default Rules, no hook figures, slog.Default().
type Options struct {
	// Name tells monitors apart in logs and JSON ("api", "worker").
	Name string
	// Interval is the time between checks. 0 means 30s.
	Interval time.Duration
	// PingTimeout bounds the PING, and separately the INFO and per-node
	// round, of one check. The monitor enforces it itself, whatever the
	// client's ContextTimeoutEnabled says. 0 means 2s.
	PingTimeout time.Duration
	// MaxConnections is the pool size reported as max_connections
	// (go-redis's PoolStats does not carry it). 0 means read it from the
	// client: Options().PoolSize on a *redis.Client, the sum of the nodes'
	// PoolSize on a cluster or ring. On a cluster or ring a non-zero value
	// is the total; each node still reports its own PoolSize.
	MaxConnections int
	// Limiter, when set, adds the limiter's figures to the report, and its
	// rejections to the rules. A *hooks.Limiter.
	Limiter limiterSource
	// Breaker, when set, adds each node's breaker state to the report and
	// to the rules. While the monitor runs (Start) and the source has a
	// Subscribe method (*hooks.Breaker has), the status follows the
	// breakers at once, whatever the Interval: each state change
	// re-evaluates the rules with the new states and the last check's other
	// figures, without a command to Redis; when no breaker is left open and
	// the last check's PING had failed, a check runs at once. A
	// *hooks.Breaker.
	Breaker breakerSource
	// Retry, when set, adds the retry counters to the report. A *hooks.Retry.
	Retry retrySource
	// ReplicaReads, when set, adds its counters to the report. They do not
	// change the status: the open circuit that sends reads to replicas
	// already does. A *hooks.ReplicaReads.
	ReplicaReads replicaReadSource
	// Rules decide the status; the zero Rules has the defaults given there.
	Rules Rules
	// OnStatusChange, when set, is called after a check whose status differs
	// from the previous one's (the first check's previous status is ""). It
	// runs on the checking goroutine with no lock held; keep it short.
	OnStatusChange func(old, new Status, reasons []string)
	// Logger receives the monitor's lines. nil means slog.Default().
	Logger *slog.Logger
}

// Monitor checks one client on an interval and keeps the last Report. Its
// methods are safe for concurrent use.
type Monitor struct {
	c   Client
	opt Options // defaults applied, Rules included
	log *slog.Logger
	// cluster is set when c is a *redis.ClusterClient: the rules then know
	// which nodes the cluster lists and which replicas could take over.
	cluster bool

	checkMu sync.Mutex // serializes checks, so counters compare in order
	// Guarded by checkMu: the state carried from check to check.
	failures     int
	avg          time.Duration
	prevTimeouts uint64
	prevRejected uint64
	haveCounters bool
	maxConns     int // the last known pool size from the client
	// replicaOf maps each cluster node that reported itself a replica to
	// its master, as last reported (see clusterTopology).
	replicaOf map[string]string

	mu   sync.Mutex // guards last, lastIn and lastSeq
	last Report
	// lastIn are the rules' inputs behind last; lastSeq is the breakerSeq
	// value read before last's breaker states were.
	lastIn  inputs
	lastSeq uint64

	// breakerSeq counts the breaker's state changes seen through
	// Subscribe; breakerKick wakes the goroutine that follows them, and
	// checkNow asks the loop for a check.
	breakerSeq  atomic.Uint64
	breakerKick chan struct{}
	checkNow    chan struct{}

	probeMu   sync.Mutex
	probeDone chan struct{} // closed when the running probe ends; nil if none ran

	runMu   sync.Mutex
	cancel  context.CancelFunc // non-nil while started
	runDone chan struct{}      // closed when the loop goroutine ends
}

// NewMonitor returns a monitor for c. It does not start it: call Start for
// periodic checks, or Check for one. A wrapper around a go-redis client (a
// *profiles.Client) is first reduced to the client inside it with
// hooks.Unwrap, so the monitor reads the same pool size and nodes through
// either.
func NewMonitor(c Client, opt Options) (*Monitor, error) {
	if u, ok := c.(redis.UniversalClient); ok {
		c = hooks.Unwrap(u) // nil stays nil
	}
	if c == nil {
		return nil, errors.New("health: nil client")
	}
	if opt.Interval < 0 {
		return nil, fmt.Errorf("health: negative Interval %s", opt.Interval)
	}
	if opt.PingTimeout < 0 {
		return nil, fmt.Errorf("health: negative PingTimeout %s", opt.PingTimeout)
	}
	if opt.MaxConnections < 0 {
		return nil, fmt.Errorf("health: negative MaxConnections %d", opt.MaxConnections)
	}
	if opt.Interval == 0 {
		opt.Interval = defaultInterval
	}
	if opt.PingTimeout == 0 {
		opt.PingTimeout = defaultPingTimeout
	}
	rules, err := opt.Rules.withDefaults()
	if err != nil {
		return nil, err
	}
	opt.Rules = rules
	log := opt.Logger
	if log == nil {
		log = slog.Default()
	}
	if opt.Name != "" {
		log = log.With(slog.String("name", opt.Name))
	}
	_, cluster := c.(*redis.ClusterClient)
	return &Monitor{c: c, opt: opt, log: log, cluster: cluster,
		breakerKick: make(chan struct{}, 1), checkNow: make(chan struct{}, 1)}, nil
}

// Start begins checking: the first check runs at once, then one every
// Interval. It does nothing if the monitor is already running; after Stop it
// starts again.
func (m *Monitor) Start() {
	m.runMu.Lock()
	defer m.runMu.Unlock()
	if m.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	m.cancel, m.runDone = cancel, done
	loopDone := make(chan struct{})
	go m.loop(ctx, loopDone)
	sub, ok := m.opt.Breaker.(breakerSubscriber)
	if !ok {
		go func() { <-loopDone; close(done) }()
		return
	}
	unsubscribe := sub.Subscribe(m.breakerChanged)
	followDone := make(chan struct{})
	go m.followBreaker(ctx, followDone)
	go func() {
		<-loopDone
		<-followDone
		unsubscribe()
		close(done)
	}()
}

// Stop ends the checks and waits for the checking goroutine and for a PING
// still in flight. A client without ContextTimeoutEnabled does not cut a
// read at the context's deadline, so that wait can last until the client's
// own ReadTimeout ends the PING. Stop does nothing if the monitor is not
// running.
func (m *Monitor) Stop() {
	m.runMu.Lock()
	cancel, done := m.cancel, m.runDone
	m.cancel, m.runDone = nil, nil
	m.runMu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
	m.waitProbe()
}

func (m *Monitor) waitProbe() {
	m.probeMu.Lock()
	ch := m.probeDone
	m.probeMu.Unlock()
	if ch != nil {
		<-ch
	}
}

func (m *Monitor) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	r := m.Check(ctx)
	if ctx.Err() != nil {
		return
	}
	m.log.LogAttrs(ctx, slog.LevelInfo, "Redis connection pool initialized",
		slog.Int("max_connections", r.Pool.MaxConnections),
		slog.Duration("health_check_interval", m.opt.Interval),
		slog.String("status", string(r.Status)),
	)
	t := time.NewTicker(m.opt.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.Check(ctx)
		case <-m.checkNow:
			m.Check(ctx)
		}
	}
}

// Report returns the last check's report; its Status is "" before the first
// check.
func (m *Monitor) Report() Report {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last.clone()
}

// pingResult and infoResult travel from the probe goroutine to Check.
type pingResult struct {
	latency time.Duration
	err     error
}

type infoResult struct {
	server  *ServerFigures
	infoErr error
	nodes   []NodeFigures // nil when the client is not sharded
	nodeErr error         // listing the nodes failed
}

// Check runs one check now and returns its report, which also becomes the
// monitor's last report. It returns when the check is done or ctx ends,
// whichever comes first: a PING that does not answer within PingTimeout is
// a failure even if the client would wait longer. If ctx ends first, the
// check is abandoned: it changes nothing and Check returns the last report.
// Checks run one at a time; OnStatusChange runs after the check's locks are
// released, so concurrent Check calls may see their callbacks interleave.
func (m *Monitor) Check(ctx context.Context) Report {
	m.checkMu.Lock()
	start := time.Now()
	ping, info := m.probe(ctx)
	if ctx.Err() != nil {
		// Abandoned (Stop, or the caller gave up): a cancelled PING says
		// nothing about Redis, so the state is left as it was.
		m.checkMu.Unlock()
		return m.Report()
	}

	// Hook figures and pool figures need no I/O.
	var r Report
	r.Name = m.opt.Name
	r.CheckedAt = start
	r.Pool = poolFigures(m.c.PoolStats())
	seq := m.breakerSeq.Load() // before the breaker states are read
	m.hookFigures(&r)

	r.Latency = ping.latency
	refused := ping.err != nil && m.refusedByCircuit(ping.err)
	switch {
	case refused:
		// One node's open circuit refused the PING: the breaker rules
		// judge that node, and the PING says nothing of the others.
		r.LastError = ping.err.Error()
		ping.err = nil
	case ping.err != nil:
		m.failures++
		r.LastError = ping.err.Error()
	default:
		m.failures = 0
		if m.avg == 0 {
			m.avg = ping.latency
		} else {
			m.avg = time.Duration(ewmaWeight*float64(ping.latency) + (1-ewmaWeight)*float64(m.avg))
		}
	}
	r.ConsecutiveFailures = m.failures
	r.AvgLatency = m.avg

	in := inputs{pingErr: ping.err, pingRefused: refused, failures: m.failures, latency: ping.latency}
	m.serverFigures(&r, &in, info)

	// Counters that grew since the previous check.
	timeouts := uint64(r.Pool.Timeouts)
	var rejected uint64
	if r.Hooks.Limiter != nil {
		rejected = r.Hooks.Limiter.Rejected
	}
	if m.haveCounters {
		in.poolGrowth = grown(m.prevTimeouts, timeouts)
		in.rejections = grown(m.prevRejected, rejected)
	}
	m.prevTimeouts, m.prevRejected, m.haveCounters = timeouts, rejected, true
	in.breakers = r.Hooks.Breakers

	m.mu.Lock()
	if m.lastSeq > seq {
		// A breaker change was applied while this check ran: its states
		// are newer than the ones read above.
		r.Hooks.Breakers = m.last.clone().Hooks.Breakers
		in.breakers = r.Hooks.Breakers
		seq = m.lastSeq
	}
	r.Status, r.Reasons = m.opt.Rules.evaluate(in)
	old := m.last.Status
	m.last, m.lastIn, m.lastSeq = r, in, seq
	m.mu.Unlock()
	out := r.clone()
	m.checkMu.Unlock()

	m.logCheck(ctx, old, out)
	if old != out.Status && m.opt.OnStatusChange != nil {
		m.opt.OnStatusChange(old, out.Status, append([]string(nil), out.Reasons...))
	}
	return out
}

func (m *Monitor) logCheck(ctx context.Context, old Status, r Report) {
	if m.log.Enabled(ctx, slog.LevelDebug) {
		attrs := []slog.Attr{
			slog.Uint64("available", uint64(r.Pool.AvailableConnections)),
			slog.Uint64("total", uint64(r.Pool.CreatedConnections)),
			slog.Uint64("in_use", uint64(r.Pool.InUseConnections)),
			slog.Int("max_connections", r.Pool.MaxConnections),
			slog.Float64("latency_ms", ms(r.Latency)),
			slog.String("status", string(r.Status)),
		}
		if r.LastError != "" {
			attrs = append(attrs, slog.String("error", r.LastError))
		}
		m.log.LogAttrs(ctx, slog.LevelDebug, "Redis pool health", attrs...)
	}
	m.logChange(ctx, old, r)
}

// logChange logs "Redis health status changed" when the status changed.
func (m *Monitor) logChange(ctx context.Context, old Status, r Report) {
	if old == r.Status {
		return
	}
	level := slog.LevelWarn
	if r.Status == StatusHealthy {
		level = slog.LevelInfo
	}
	m.log.LogAttrs(ctx, level, "Redis health status changed",
		slog.String("from", string(old)),
		slog.String("to", string(r.Status)),
		slog.Any("reasons", r.Reasons),
	)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
