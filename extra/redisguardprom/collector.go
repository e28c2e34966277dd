package redisguardprom

import (
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/batch"
	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/observe"
	"github.com/redisguard/redisguard/profiles"
)

// durationBuckets are the bucket boundaries the database semantic
// conventions give the operation duration, in seconds.
var durationBuckets = []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10}

// Options configure NewCollector. The zero value is usable.
type Options struct {
	// Hooks are the redisguard hooks on the client whose figures are
	// collected; nil ones are skipped. When every field is nil and the
	// client is a *profiles.Client, its Hooks are used.
	Hooks profiles.Hooks
}

// Collector is a prometheus.Collector of a client's figures. It exposes:
//
//   - db_client_operation_duration_seconds (histogram) by node, operation
//     (the command name in upper case, PIPELINE or MULTI) and error_type
//     ("" on success and for redis.Nil), recorded by a hook on every node
//     client. Added after the redisguard hooks (profiles.NewClient,
//     profiles.Apply, hooks.Attach), the hook runs innermost and times each
//     attempt sent to a node; retries, limiter refusals and open circuits
//     show in the redisguard_* figures instead.
//   - db_client_connections by node and state (idle, used),
//     db_client_connection_max, db_client_connection_pending_requests,
//     db_client_connection_timeouts_total and
//     db_client_connection_wait_time_seconds_total by node, from PoolStats.
//   - redisguard_limiter_in_flight and redisguard_limiter_waiting by node and
//     class (short, blocking), redisguard_limiter_rejections_total and
//     redisguard_limiter_wait_time_seconds_total by node.
//   - redisguard_breaker_state by node and state (1 for the current one, 0
//     for the others), redisguard_breaker_transitions_total by node, from
//     and to, counted from NewCollector on.
//   - redisguard_retry_attempts_total by the outcome of the attempt before
//     each retry (not_sent, rejected, maybe_applied) and
//     redisguard_retry_calls_total by how a failed call ended (recovered,
//     gave_up, not_retried, budget_spent: the retry budget refused its
//     retry).
//   - redisguard_batch_items_total by status, through RecordBatch.
type Collector struct {
	nodes *observe.Nodes
	hooks profiles.Hooks

	duration    *prometheus.HistogramVec
	transitions *prometheus.CounterVec
	batchItems  *prometheus.CounterVec
	unsubs      []func()
	closeOnce   sync.Once
}

var _ prometheus.Collector = (*Collector)(nil)

var (
	descConns = prometheus.NewDesc("db_client_connections",
		"Connections of the node's pool, by state (idle, used).", []string{"node", "state"}, nil)
	descConnMax = prometheus.NewDesc("db_client_connection_max",
		"The maximum number of open connections the node's pool allows.", []string{"node"}, nil)
	descConnPending = prometheus.NewDesc("db_client_connection_pending_requests",
		"Requests waiting for a connection of the node's pool.", []string{"node"}, nil)
	descConnTimeouts = prometheus.NewDesc("db_client_connection_timeouts_total",
		"Timeouts waiting for a connection of the node's pool.", []string{"node"}, nil)
	descConnWait = prometheus.NewDesc("db_client_connection_wait_time_seconds_total",
		"Total time spent waiting for a connection of the node's pool.", []string{"node"}, nil)
	descLimInFlight = prometheus.NewDesc("redisguard_limiter_in_flight",
		"Commands holding a limiter permit, by class (short, blocking).", []string{"node", "class"}, nil)
	descLimWaiting = prometheus.NewDesc("redisguard_limiter_waiting",
		"Commands waiting for a limiter permit, by class (short, blocking).", []string{"node", "class"}, nil)
	descLimRejections = prometheus.NewDesc("redisguard_limiter_rejections_total",
		"Commands the limiter refused (ErrLimited).", []string{"node"}, nil)
	descLimWait = prometheus.NewDesc("redisguard_limiter_wait_time_seconds_total",
		"Total time commands waited for a limiter permit.", []string{"node"}, nil)
	descBreakerState = prometheus.NewDesc("redisguard_breaker_state",
		"1 for the current state of the node's circuit breaker, 0 for the other states.", []string{"node", "state"}, nil)
	descRetryAttempts = prometheus.NewDesc("redisguard_retry_attempts_total",
		"Retries, by the outcome of the attempt that failed before them.", []string{"outcome"}, nil)
	descRetryCalls = prometheus.NewDesc("redisguard_retry_calls_total",
		"Failed calls, by how they ended (recovered, gave_up, not_retried, budget_spent).", []string{"outcome"}, nil)
)

// NewCollector returns a collector of rdb's figures and those of its hooks,
// and adds the duration hook to rdb's node clients (the client itself, or
// each node of a cluster or ring, through OnNewNode for nodes created
// later). On a ClusterClient it lists the node clients that exist (a
// CLUSTER SLOTS bounded by 10 s when the client has none yet); nodes it
// cannot list get their hook when go-redis creates them.
func NewCollector(rdb redis.UniversalClient, opt Options) (*Collector, error) {
	if rdb == nil {
		return nil, errors.New("redisguardprom: nil client")
	}
	h := opt.Hooks
	if pc, ok := rdb.(*profiles.Client); ok && h == (profiles.Hooks{}) {
		h = pc.Hooks
	}
	c := &Collector{
		hooks: h,
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "db_client_operation_duration_seconds",
			Help:    "Duration of the commands, pipelines (PIPELINE) and transactions (MULTI) sent to a node.",
			Buckets: durationBuckets,
		}, []string{"node", "operation", "error_type"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "redisguard_breaker_transitions_total",
			Help: "State changes of the node's circuit breaker.",
		}, []string{"node", "from", "to"}),
		batchItems: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "redisguard_batch_items_total",
			Help: "Items of batches, by what became of them (written, not_written, unknown).",
		}, []string{"status"}),
	}
	var err error
	c.nodes, err = observe.NewNodes("redisguardprom", rdb, func(n *redis.Client) redis.Hook {
		return newDurationHook(c.duration, n.Options().Addr)
	})
	if err != nil {
		return nil, err
	}
	if h.Breaker != nil {
		c.unsubs = append(c.unsubs, h.Breaker.Subscribe(func(node string, from, to hooks.BreakerState) {
			c.transitions.WithLabelValues(node, stateName(from), stateName(to)).Inc()
		}))
	}
	return c, nil
}

// RecordBatch adds a batch's items to redisguard_batch_items_total, by
// status. The batch package keeps no figures of its own; pass it each
// Result a batch call returns.
func (c *Collector) RecordBatch(r batch.Result) {
	if n := len(r.Written); n > 0 {
		c.batchItems.WithLabelValues("written").Add(float64(n))
	}
	if n := len(r.NotWritten); n > 0 {
		c.batchItems.WithLabelValues("not_written").Add(float64(n))
	}
	if n := len(r.Unknown); n > 0 {
		c.batchItems.WithLabelValues("unknown").Add(float64(n))
	}
}

// Close stops following the breaker and adding the duration hook to new
// node clients. The hooks already added stay (go-redis cannot remove a
// hook) and keep recording; unregister the collector to stop exposing it.
func (c *Collector) Close() {
	c.closeOnce.Do(func() {
		for _, u := range c.unsubs {
			u()
		}
		c.nodes.Close()
	})
}

// Describe sends the descriptors of every metric.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConns, descConnMax, descConnPending, descConnTimeouts, descConnWait,
		descLimInFlight, descLimWaiting, descLimRejections, descLimWait, descBreakerState,
		descRetryAttempts, descRetryCalls} {
		ch <- d
	}
	c.duration.Describe(ch)
	c.transitions.Describe(ch)
	c.batchItems.Describe(ch)
}

// Collect reads the figures.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lv...)
	}
	counter := func(d *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, lv...)
	}
	for _, n := range c.nodes.List() {
		st := n.PoolStats()
		opt := n.Options()
		addr := opt.Addr
		gauge(descConns, float64(st.IdleConns), addr, "idle")
		gauge(descConns, float64(int64(st.TotalConns)-int64(st.IdleConns)), addr, "used")
		gauge(descConnMax, float64(opt.PoolSize), addr)
		gauge(descConnPending, float64(st.PendingRequests), addr)
		counter(descConnTimeouts, float64(st.Timeouts), addr)
		counter(descConnWait, time.Duration(st.WaitDurationNs).Seconds(), addr)
	}
	if l := c.hooks.Limiter; l != nil {
		for addr, s := range l.NodeStats() {
			gauge(descLimInFlight, float64(s.InFlight-s.InFlightBlocking), addr, "short")
			gauge(descLimInFlight, float64(s.InFlightBlocking), addr, "blocking")
			gauge(descLimWaiting, float64(max(s.Waiting-s.WaitingBlocking, 0)), addr, "short")
			gauge(descLimWaiting, float64(s.WaitingBlocking), addr, "blocking")
			counter(descLimRejections, float64(s.Rejected), addr)
			counter(descLimWait, s.TotalWait.Seconds(), addr)
		}
	}
	if b := c.hooks.Breaker; b != nil {
		for addr, cur := range b.States() {
			for _, s := range breakerStates {
				v := 0.0
				if s == cur {
					v = 1
				}
				gauge(descBreakerState, v, addr, stateName(s))
			}
		}
	}
	if r := c.hooks.Retry; r != nil {
		st := r.Stats()
		counter(descRetryAttempts, float64(st.NotSent), "not_sent")
		counter(descRetryAttempts, float64(st.Rejected), "rejected")
		counter(descRetryAttempts, float64(st.MaybeApplied), "maybe_applied")
		counter(descRetryCalls, float64(st.Recovered), "recovered")
		counter(descRetryCalls, float64(st.GaveUp), "gave_up")
		counter(descRetryCalls, float64(st.NotRetried), "not_retried")
		counter(descRetryCalls, float64(st.BudgetSpent), "budget_spent")
	}
	c.duration.Collect(ch)
	c.transitions.Collect(ch)
	c.batchItems.Collect(ch)
}

// stateName is a breaker state as a label value.
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
