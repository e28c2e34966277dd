package health

import (
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
)

// PoolFigures are go-redis's pool statistics under the names the JSON uses.
type PoolFigures struct {
	// MaxConnections is the pool size (see Options.MaxConnections); 0 when
	// unknown.
	MaxConnections int `json:"max_connections"`
	// CreatedConnections is PoolStats.TotalConns: connections the pool
	// holds, idle or in use.
	CreatedConnections uint32 `json:"created_connections"`
	// AvailableConnections is PoolStats.IdleConns.
	AvailableConnections uint32 `json:"available_connections"`
	// InUseConnections is TotalConns minus IdleConns.
	InUseConnections uint32 `json:"in_use_connections"`
	// Hits counts gets that found an idle connection.
	Hits uint32 `json:"hits"`
	// Misses counts gets that found none and dialled or waited.
	Misses uint32 `json:"misses"`
	// Timeouts counts gets that waited PoolTimeout and gave up.
	Timeouts uint32 `json:"timeouts"`
	// Waits is PoolStats.WaitCount: gets that had to wait.
	Waits uint32 `json:"waits"`
	// WaitDuration is the total time spent waiting (wait_duration_ms).
	WaitDuration time.Duration `json:"-"`
	// Stale is PoolStats.StaleConns: connections removed as stale.
	Stale uint32 `json:"stale"`
	// Unusable counts connections found unusable on get.
	Unusable uint32 `json:"unusable"`
	// PendingRequests is the number of gets waiting right now.
	PendingRequests uint32 `json:"pending_requests"`
	// Pipeline is the dedicated pipeline pool (go-redis 9.22+), nil when the
	// client has none. Its connections are not in the figures above.
	Pipeline *PoolFigures `json:"pipeline,omitempty"`
}

func poolFigures(s *redis.PoolStats) PoolFigures {
	if s == nil {
		return PoolFigures{}
	}
	p := PoolFigures{
		CreatedConnections:   s.TotalConns,
		AvailableConnections: s.IdleConns,
		Hits:                 s.Hits,
		Misses:               s.Misses,
		Timeouts:             s.Timeouts,
		Waits:                s.WaitCount,
		WaitDuration:         time.Duration(s.WaitDurationNs),
		Stale:                s.StaleConns,
		Unusable:             s.Unusable,
		PendingRequests:      s.PendingRequests,
	}
	if s.TotalConns > s.IdleConns {
		p.InUseConnections = s.TotalConns - s.IdleConns
	}
	if s.PipelineStats != nil {
		pp := poolFigures((*redis.PoolStats)(s.PipelineStats))
		p.Pipeline = &pp
	}
	return p
}

func (p *PoolFigures) add(o PoolFigures) {
	p.MaxConnections += o.MaxConnections
	p.CreatedConnections += o.CreatedConnections
	p.AvailableConnections += o.AvailableConnections
	p.InUseConnections += o.InUseConnections
	p.Hits += o.Hits
	p.Misses += o.Misses
	p.Timeouts += o.Timeouts
	p.Waits += o.Waits
	p.WaitDuration += o.WaitDuration
	p.Stale += o.Stale
	p.Unusable += o.Unusable
	p.PendingRequests += o.PendingRequests
	if o.Pipeline != nil {
		if p.Pipeline == nil {
			p.Pipeline = &PoolFigures{}
		}
		p.Pipeline.add(*o.Pipeline)
	}
}

// NodeFigures are one node's figures on a cluster or ring.
type NodeFigures struct {
	// Addr is the node's address as the client dials it.
	Addr string `json:"addr"`
	// Latency is the node's own PING round trip (latency_ms).
	Latency time.Duration `json:"-"`
	// Error is the node's PING error; empty when it answered.
	Error string `json:"error,omitempty"`
	// Pool is the node client's pool; MaxConnections is its PoolSize.
	Pool PoolFigures `json:"pool"`
	// Server is the node's INFO figures, nil when INFO failed or was not
	// asked (the node did not answer PING).
	Server *ServerFigures `json:"server,omitempty"`
	// InfoError is the node's INFO error, if any.
	InfoError string `json:"info_error,omitempty"`
	// Role is the node's role as its INFO reports it: "master" or
	// "replica"; empty when INFO was not read.
	Role string `json:"role,omitempty"`
	// Master is, for a replica, the address of its master ("host:port",
	// from INFO's master_host and master_port).
	Master string `json:"master,omitempty"`
}

// LimiterFigures are the limiter's figures (hooks.LimiterStats); see that
// type for what each one counts.
type LimiterFigures struct {
	// InFlight is the commands holding a permit now.
	InFlight int64 `json:"in_flight"`
	// InFlightBlocking is how many of those are blocking commands.
	InFlightBlocking int64 `json:"in_flight_blocking"`
	// Waiting is the commands waiting for a permit now.
	Waiting int64 `json:"waiting"`
	// Admitted counts the commands given a permit.
	Admitted uint64 `json:"admitted"`
	// Rejected counts the commands refused with hooks.ErrLimited.
	Rejected uint64 `json:"rejected"`
	// Cancelled counts the commands whose context ended while they waited.
	Cancelled uint64 `json:"cancelled"`
	// TotalWait is the time spent waiting for permits (total_wait_ms).
	TotalWait time.Duration `json:"-"`
	// MaxWaitSeen is the longest single wait (max_wait_seen_ms).
	MaxWaitSeen time.Duration `json:"-"`
	// MaxInFlight, MaxBlocking, MaxWait (max_wait_ms) and MaxWaiting are
	// the budgets in force per node (hooks.LimiterLimits): those the
	// limiter was made with, or the last hooks.Limiter.SetLimits.
	MaxInFlight int           `json:"max_in_flight"`
	MaxBlocking int           `json:"max_blocking"`
	MaxWait     time.Duration `json:"-"`
	MaxWaiting  int           `json:"max_waiting"`
	// MinInFlight is the adaptive limit's floor (0: the limit is fixed),
	// and Limit the limit for short commands in force (hooks.LimiterStats).
	MinInFlight int   `json:"min_in_flight"`
	Limit       int64 `json:"limit"`
	// Nodes are the per-node figures by address, when the limiter keeps
	// them (a limiter added without Attach reports under "").
	Nodes map[string]LimiterFigures `json:"nodes,omitempty"`
}

func limiterFigures(s hooks.LimiterStats) LimiterFigures {
	return LimiterFigures{
		InFlight:         s.InFlight,
		InFlightBlocking: s.InFlightBlocking,
		Waiting:          s.Waiting,
		Admitted:         s.Admitted,
		Rejected:         s.Rejected,
		Cancelled:        s.Cancelled,
		TotalWait:        s.TotalWait,
		MaxWaitSeen:      s.MaxWaitSeen,
		MaxInFlight:      s.MaxInFlight,
		MaxBlocking:      s.MaxBlocking,
		MaxWait:          s.MaxWait,
		MaxWaiting:       s.MaxWaiting,
		MinInFlight:      s.MinInFlight,
		Limit:            s.Limit,
	}
}

// RetryFigures are the retry hook's counters (hooks.RetryStats).
type RetryFigures struct {
	// Retries counts commands sent again.
	Retries uint64 `json:"retries"`
	// Recovered counts calls that failed, were retried and got a reply.
	Recovered uint64 `json:"recovered"`
	// GaveUp counts retryable calls that still ended with an error.
	GaveUp uint64 `json:"gave_up"`
	// NotRetried counts failed calls whose error did not allow a retry.
	NotRetried uint64 `json:"not_retried"`
	// BudgetSpent counts failed calls whose retry the retry budget refused.
	BudgetSpent uint64 `json:"budget_spent"`
}

// ReplicaReadFigures are the counters of hooks.ReplicaReads
// (hooks.ReplicaReadStats).
type ReplicaReadFigures struct {
	// Served counts reads refused by an open circuit that a replica
	// answered.
	Served uint64 `json:"served"`
	// Failed counts such reads no replica answered.
	Failed uint64 `json:"failed"`
}

// HookFigures are the figures of the hooks given in Options; each is absent
// when its hook was not given.
type HookFigures struct {
	// Limiter is Options.Limiter's figures.
	Limiter *LimiterFigures `json:"limiter,omitempty"`
	// Breakers maps node address to breaker state; JSON spells the states
	// "closed", "half-open", "open".
	Breakers map[string]hooks.BreakerState `json:"-"`
	// Retry is Options.Retry's counters.
	Retry *RetryFigures `json:"retry,omitempty"`
	// ReplicaReads is Options.ReplicaReads' counters.
	ReplicaReads *ReplicaReadFigures `json:"replica_reads,omitempty"`
}

// Report is the result of one check. A Report handed out by the monitor is
// a copy: the caller may keep and change it.
type Report struct {
	// Name is Options.Name.
	Name string `json:"name,omitempty"`
	// Status is the verdict of the rules; "" before the first check.
	Status Status `json:"status"`
	// Reasons say why the status is not healthy, one per rule that fired.
	Reasons []string `json:"reasons"`
	// CheckedAt is when the check started.
	CheckedAt time.Time `json:"checked_at"`
	// Latency is the last PING's round trip; when it failed, the time until
	// it failed (latency_ms).
	Latency time.Duration `json:"-"`
	// AvgLatency is a moving average of successful PINGs' round trips
	// (each new one weighs 0.2; avg_latency_ms).
	AvgLatency time.Duration `json:"-"`
	// ConsecutiveFailures counts failed PINGs in a row, the last included.
	ConsecutiveFailures int `json:"consecutive_failures"`
	// LastError is the last PING's error, empty when it answered.
	LastError string `json:"last_error,omitempty"`
	// Pool are the pool figures; on a cluster or ring, sums over the nodes.
	Pool PoolFigures `json:"pool"`
	// Server are INFO's figures (sums over nodes on a cluster or ring); nil
	// when INFO could not be read this time (see InfoError).
	Server *ServerFigures `json:"server,omitempty"`
	// InfoError says why Server is missing.
	InfoError string `json:"info_error,omitempty"`
	// Nodes are per-node figures on a cluster or ring, sorted by address.
	Nodes []NodeFigures `json:"nodes,omitempty"`
	// Hooks are the hook figures.
	Hooks HookFigures `json:"hooks"`
}

// clone copies everything a caller could change.
func (r Report) clone() Report {
	r.Reasons = append([]string{}, r.Reasons...)
	r.Pool = r.Pool.clone()
	if r.Server != nil {
		s := r.Server.clone()
		r.Server = &s
	}
	if r.Nodes != nil {
		nodes := make([]NodeFigures, len(r.Nodes))
		for i, n := range r.Nodes {
			n.Pool = n.Pool.clone()
			if n.Server != nil {
				s := n.Server.clone()
				n.Server = &s
			}
			nodes[i] = n
		}
		r.Nodes = nodes
	}
	if l := r.Hooks.Limiter; l != nil {
		c := *l
		if l.Nodes != nil {
			c.Nodes = make(map[string]LimiterFigures, len(l.Nodes))
			for k, v := range l.Nodes {
				c.Nodes[k] = v
			}
		}
		r.Hooks.Limiter = &c
	}
	if r.Hooks.Breakers != nil {
		b := make(map[string]hooks.BreakerState, len(r.Hooks.Breakers))
		for k, v := range r.Hooks.Breakers {
			b[k] = v
		}
		r.Hooks.Breakers = b
	}
	if r.Hooks.Retry != nil {
		c := *r.Hooks.Retry
		r.Hooks.Retry = &c
	}
	if r.Hooks.ReplicaReads != nil {
		c := *r.Hooks.ReplicaReads
		r.Hooks.ReplicaReads = &c
	}
	return r
}

func (p PoolFigures) clone() PoolFigures {
	if p.Pipeline != nil {
		c := *p.Pipeline
		p.Pipeline = &c
	}
	return p
}

func (s ServerFigures) clone() ServerFigures {
	if s.Missing != nil {
		s.Missing = append([]string(nil), s.Missing...)
	}
	return s
}
