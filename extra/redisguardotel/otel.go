package redisguardotel

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/redisguard/redisguard/batch"
	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/observe"
	"github.com/redisguard/redisguard/profiles"
)

// ScopeName is the instrumentation scope of the meter.
const ScopeName = "github.com/redisguard/redisguard/extra/redisguardotel"

// RetryEventName is the name of the span event added for each retry.
const RetryEventName = "redisguard.retry"

// db.client.operation.duration as the database semantic conventions give
// it, for the SDK's histogram and the Producer alike: name, description,
// unit, and bucket boundaries in seconds.
const (
	durationName        = "db.client.operation.duration"
	durationDescription = "Duration of database client operations."
	durationUnit        = "s"
)

var durationBuckets = [...]float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10}

// Options configure Instrument. The zero value is usable.
type Options struct {
	// MeterProvider gives the meter. nil means otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
	// Hooks are the redisguard hooks on the client whose figures are
	// reported; nil ones are skipped. When every field is nil and the
	// client is a *profiles.Client, its Hooks are used.
	Hooks profiles.Hooks
	// Attributes are added to every measurement, for instance to tell two
	// clients apart (attribute.String("redisguard.client", "worker")).
	Attributes []attribute.KeyValue
	// Producer, when set, keeps db.client.operation.duration instead of
	// the meter provider's histogram: it reaches only the readers given
	// sdkmetric.WithProducer(Producer). nil records through the meter
	// provider. The package doc weighs the two routes.
	Producer *Producer
}

// Instrumentation is the reporting set up by Instrument. Close stops it.
type Instrumentation struct {
	nodes  *observe.Nodes
	reg    metric.Registration
	unsubs []func()
	batch  metric.Int64Counter
	attrs  []attribute.KeyValue

	closeOnce sync.Once
}

// Instrument starts reporting rdb's figures and those of its hooks:
//
//   - db.client.operation.duration (histogram, s) per command, pipeline
//     (PIPELINE) and transaction (MULTI), with db.system.name,
//     db.operation.name, server.address, server.port, db.namespace and,
//     on failure, error.type. It is recorded, through the meter provider's
//     histogram or into Options.Producer, by a hook added to every node
//     client (the client itself, or each node of a cluster or ring, through
//     OnNewNode for nodes created later). Added after the redisguard hooks
//     (profiles.NewClient, profiles.Apply, hooks.Attach), it runs innermost
//     and times each attempt sent to a node, after the limiter admitted it:
//     retries, limiter refusals and open circuits show in the redisguard.*
//     figures instead.
//   - db.client.connection.count (state idle/used), .max,
//     .pending_requests, .timeouts and .wait_time per node pool
//     (db.client.connection.pool.name is the node address), from PoolStats.
//     wait_time is the total wait in seconds, a counter: go-redis keeps a
//     sum, not a distribution.
//   - redisguard.limiter.in_flight and .waiting (per node and
//     redisguard.limiter.class short/blocking), .rejections and .wait_time
//     per node, from Limiter.NodeStats.
//   - redisguard.breaker.state (1 for the node's current state, 0 for the
//     others) from Breaker.States, and redisguard.breaker.transitions per
//     node, from and to, counted from Instrument on.
//   - redisguard.retry.attempts by the outcome of the attempt before each
//     retry (not_sent, rejected, maybe_applied) and redisguard.retry.calls
//     by how a failed call ended (recovered, gave_up, not_retried,
//     budget_spent: the retry budget refused its retry), from Retry.Stats.
//   - redisguard.batch.items by status, through RecordBatch.
//
// Each retry also adds a RetryEventName event to the span active in the
// command's context (with go-redis's redisotel, the command's span when its
// tracing hook was added before the redisguard hooks, else the caller's
// span), with the attempt, the delay, the error's class and whether the call
// may have been applied.
//
// On a ClusterClient, Instrument lists the node clients that exist (a
// CLUSTER SLOTS bounded by 10 s when the client has none yet); nodes it
// cannot list then get their hook when go-redis creates them.
func Instrument(rdb redis.UniversalClient, opt Options) (*Instrumentation, error) {
	if rdb == nil {
		return nil, errors.New("redisguardotel: nil client")
	}
	h := opt.Hooks
	if pc, ok := rdb.(*profiles.Client); ok && h == (profiles.Hooks{}) {
		h = pc.Hooks
	}
	mp := opt.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter(ScopeName)
	in, err := newInstruments(m)
	if err != nil {
		return nil, fmt.Errorf("redisguardotel: %w", err)
	}
	attrs := append([]attribute.KeyValue(nil), opt.Attributes...)
	i := &Instrumentation{batch: in.batchItems, attrs: attrs}

	i.nodes, err = observe.NewNodes("redisguardotel", rdb, func(c *redis.Client) redis.Hook {
		return newDurationHook(in.duration, opt.Producer, c.Options(), attrs)
	})
	if err != nil {
		return nil, err
	}
	ob := &observer{in: in, nodes: i.nodes, hooks: h, attrs: attrs, producer: opt.Producer}
	i.reg, err = m.RegisterCallback(ob.observe, in.observables()...)
	if err != nil {
		i.nodes.Close()
		return nil, fmt.Errorf("redisguardotel: %w", err)
	}
	if h.Breaker != nil {
		i.unsubs = append(i.unsubs, h.Breaker.Subscribe(func(node string, from, to hooks.BreakerState) {
			kv := append(nodeAttrs(node, attrs),
				attribute.String("redisguard.breaker.from", stateName(from)),
				attribute.String("redisguard.breaker.to", stateName(to)))
			in.transitions.Add(context.Background(), 1, metric.WithAttributes(kv...))
		}))
	}
	if h.Retry != nil {
		i.unsubs = append(i.unsubs, h.Retry.Subscribe(retryEvent))
	}
	return i, nil
}

// RecordBatch adds a batch's items to redisguard.batch.items, by status
// (written, not_written, unknown). The batch package keeps no figures of
// its own; pass it each Result a batch call returns.
func (i *Instrumentation) RecordBatch(ctx context.Context, r batch.Result) {
	for _, s := range []struct {
		status string
		n      int
	}{{"written", len(r.Written)}, {"not_written", len(r.NotWritten)}, {"unknown", len(r.Unknown)}} {
		if s.n == 0 {
			continue
		}
		kv := append(append(make([]attribute.KeyValue, 0, len(i.attrs)+1), i.attrs...),
			attribute.String("redisguard.batch.status", s.status))
		i.batch.Add(ctx, int64(s.n), metric.WithAttributes(kv...))
	}
}

// Close stops the observations and the breaker and retry subscriptions,
// and stops adding the duration hook to new node clients. The hooks already
// added stay (go-redis cannot remove a hook); they record into the meter
// provider until it shuts down, or into Options.Producer.
func (i *Instrumentation) Close() error {
	var err error
	i.closeOnce.Do(func() {
		for _, u := range i.unsubs {
			u()
		}
		i.nodes.Close()
		err = i.reg.Unregister()
	})
	return err
}

// retryEvent adds a retry to the span of the command's context.
func retryEvent(ctx context.Context, ev hooks.RetryEvent) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	span.AddEvent(RetryEventName, trace.WithAttributes(
		attribute.String("db.operation.name", observe.OperationName(ev.Command)),
		attribute.Int("redisguard.retry.attempt", ev.Attempt),
		attribute.Float64("redisguard.retry.delay", ev.Delay.Seconds()),
		attribute.String("redisguard.retry.outcome", outcomeName(ev.Outcome)),
		attribute.Bool("redisguard.retry.maybe_applied", ev.MaybeApplied),
		attribute.String("error.type", observe.ErrorType(ev.Err)),
	))
}

// outcomeName is a RetryEvent's Outcome as an attribute value.
func outcomeName(o error) string {
	switch o {
	case hooks.ErrNotSent:
		return "not_sent"
	case hooks.ErrRejected:
		return "rejected"
	case hooks.ErrMaybeApplied:
		return "maybe_applied"
	default:
		return "other"
	}
}

// stateName is a breaker state as an attribute value.
func stateName(s hooks.BreakerState) string {
	switch s {
	case hooks.BreakerClosed:
		return "closed"
	case hooks.BreakerHalfOpen:
		return "half_open"
	case hooks.BreakerOpen:
		return "open"
	default:
		return "unknown"
	}
}

var breakerStates = []hooks.BreakerState{hooks.BreakerClosed, hooks.BreakerHalfOpen, hooks.BreakerOpen}

// instruments are the meter's instruments.
type instruments struct {
	duration    metric.Float64Histogram
	transitions metric.Int64Counter
	batchItems  metric.Int64Counter

	connCount, connMax, connPending metric.Int64ObservableUpDownCounter
	connTimeouts                    metric.Int64ObservableCounter
	connWait                        metric.Float64ObservableCounter

	limInFlight, limWaiting metric.Int64ObservableUpDownCounter
	limRejections           metric.Int64ObservableCounter
	limWait                 metric.Float64ObservableCounter
	breakerState            metric.Int64ObservableGauge
	retryAttempts           metric.Int64ObservableCounter
	retryCalls              metric.Int64ObservableCounter
}

func newInstruments(m metric.Meter) (*instruments, error) {
	var in instruments
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	var err error
	in.duration, err = m.Float64Histogram(durationName, metric.WithDescription(durationDescription),
		metric.WithUnit(durationUnit), metric.WithExplicitBucketBoundaries(durationBuckets[:]...))
	add(err)
	in.transitions, err = m.Int64Counter("redisguard.breaker.transitions",
		metric.WithDescription("State changes of a node's circuit breaker."), metric.WithUnit("{transition}"))
	add(err)
	in.batchItems, err = m.Int64Counter("redisguard.batch.items",
		metric.WithDescription("Items of batches, by what became of them."), metric.WithUnit("{item}"))
	add(err)
	in.connCount, err = m.Int64ObservableUpDownCounter("db.client.connection.count",
		metric.WithDescription("The number of connections that are currently in the state described by the state attribute."),
		metric.WithUnit("{connection}"))
	add(err)
	in.connMax, err = m.Int64ObservableUpDownCounter("db.client.connection.max",
		metric.WithDescription("The maximum number of open connections allowed."), metric.WithUnit("{connection}"))
	add(err)
	in.connPending, err = m.Int64ObservableUpDownCounter("db.client.connection.pending_requests",
		metric.WithDescription("The number of current pending requests for an open connection."), metric.WithUnit("{request}"))
	add(err)
	in.connTimeouts, err = m.Int64ObservableCounter("db.client.connection.timeouts",
		metric.WithDescription("The number of connection timeouts that have occurred trying to obtain a connection from the pool."),
		metric.WithUnit("{timeout}"))
	add(err)
	in.connWait, err = m.Float64ObservableCounter("db.client.connection.wait_time",
		metric.WithDescription("The total time spent waiting to obtain an open connection from the pool."), metric.WithUnit("s"))
	add(err)
	in.limInFlight, err = m.Int64ObservableUpDownCounter("redisguard.limiter.in_flight",
		metric.WithDescription("Commands holding a limiter permit, by class."), metric.WithUnit("{command}"))
	add(err)
	in.limWaiting, err = m.Int64ObservableUpDownCounter("redisguard.limiter.waiting",
		metric.WithDescription("Commands waiting for a limiter permit, by class."), metric.WithUnit("{command}"))
	add(err)
	in.limRejections, err = m.Int64ObservableCounter("redisguard.limiter.rejections",
		metric.WithDescription("Commands the limiter refused (ErrLimited)."), metric.WithUnit("{command}"))
	add(err)
	in.limWait, err = m.Float64ObservableCounter("redisguard.limiter.wait_time",
		metric.WithDescription("Total time commands waited for a limiter permit."), metric.WithUnit("s"))
	add(err)
	in.breakerState, err = m.Int64ObservableGauge("redisguard.breaker.state",
		metric.WithDescription("1 for the current state of a node's circuit breaker, 0 for the other states."),
		metric.WithUnit("1"))
	add(err)
	in.retryAttempts, err = m.Int64ObservableCounter("redisguard.retry.attempts",
		metric.WithDescription("Retries, by the outcome of the attempt that failed before them."), metric.WithUnit("{attempt}"))
	add(err)
	in.retryCalls, err = m.Int64ObservableCounter("redisguard.retry.calls",
		metric.WithDescription("Failed calls, by how they ended: recovered, gave_up, not_retried, budget_spent."), metric.WithUnit("{call}"))
	add(err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &in, nil
}

func (in *instruments) observables() []metric.Observable {
	return []metric.Observable{in.connCount, in.connMax, in.connPending, in.connTimeouts, in.connWait,
		in.limInFlight, in.limWaiting, in.limRejections, in.limWait, in.breakerState, in.retryAttempts, in.retryCalls}
}

// observer reads the figures at collection time.
type observer struct {
	in       *instruments
	nodes    *observe.Nodes
	hooks    profiles.Hooks
	attrs    []attribute.KeyValue
	producer *Producer
	// collections counts the calls of observe.
	collections atomic.Int64
}

func (ob *observer) observe(_ context.Context, o metric.Observer) error {
	if ob.producer != nil {
		ob.producer.sdkCollected(ob.collections.Add(1))
	}
	in := ob.in
	for _, n := range ob.nodes.List() {
		st := n.PoolStats()
		opt := n.Options()
		pool := append(append(make([]attribute.KeyValue, 0, len(ob.attrs)+2), ob.attrs...),
			attribute.String("db.client.connection.pool.name", opt.Addr))
		o.ObserveInt64(in.connCount, int64(st.IdleConns),
			metric.WithAttributes(append(pool, attribute.String("db.client.connection.state", "idle"))...))
		o.ObserveInt64(in.connCount, int64(st.TotalConns)-int64(st.IdleConns),
			metric.WithAttributes(append(pool, attribute.String("db.client.connection.state", "used"))...))
		set := metric.WithAttributes(pool...)
		o.ObserveInt64(in.connMax, int64(opt.PoolSize), set)
		o.ObserveInt64(in.connPending, int64(st.PendingRequests), set)
		o.ObserveInt64(in.connTimeouts, int64(st.Timeouts), set)
		o.ObserveFloat64(in.connWait, time.Duration(st.WaitDurationNs).Seconds(), set)
	}
	if l := ob.hooks.Limiter; l != nil {
		for addr, s := range l.NodeStats() {
			node := nodeAttrs(addr, ob.attrs)
			short := metric.WithAttributes(append(node, attribute.String("redisguard.limiter.class", "short"))...)
			blk := metric.WithAttributes(append(node, attribute.String("redisguard.limiter.class", "blocking"))...)
			o.ObserveInt64(in.limInFlight, s.InFlight-s.InFlightBlocking, short)
			o.ObserveInt64(in.limInFlight, s.InFlightBlocking, blk)
			o.ObserveInt64(in.limWaiting, max(s.Waiting-s.WaitingBlocking, 0), short)
			o.ObserveInt64(in.limWaiting, s.WaitingBlocking, blk)
			set := metric.WithAttributes(node...)
			o.ObserveInt64(in.limRejections, int64(s.Rejected), set)
			o.ObserveFloat64(in.limWait, s.TotalWait.Seconds(), set)
		}
	}
	if b := ob.hooks.Breaker; b != nil {
		for addr, cur := range b.States() {
			node := nodeAttrs(addr, ob.attrs)
			for _, s := range breakerStates {
				v := int64(0)
				if s == cur {
					v = 1
				}
				o.ObserveInt64(in.breakerState, v,
					metric.WithAttributes(append(node, attribute.String("redisguard.breaker.state", stateName(s)))...))
			}
		}
	}
	if r := ob.hooks.Retry; r != nil {
		st := r.Stats()
		for _, c := range []struct {
			inst    metric.Int64Observable
			outcome string
			n       uint64
		}{
			{in.retryAttempts, "not_sent", st.NotSent},
			{in.retryAttempts, "rejected", st.Rejected},
			{in.retryAttempts, "maybe_applied", st.MaybeApplied},
			{in.retryCalls, "recovered", st.Recovered},
			{in.retryCalls, "gave_up", st.GaveUp},
			{in.retryCalls, "not_retried", st.NotRetried},
			{in.retryCalls, "budget_spent", st.BudgetSpent},
		} {
			kv := append(append(make([]attribute.KeyValue, 0, len(ob.attrs)+1), ob.attrs...),
				attribute.String("redisguard.retry.outcome", c.outcome))
			o.ObserveInt64(c.inst, int64(c.n), metric.WithAttributes(kv...))
		}
	}
	return nil
}
