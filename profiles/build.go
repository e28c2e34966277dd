package profiles

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/hookx"
)

// Hooks are the redisguard hooks a profile puts on a client. Keep them to
// read their figures (Limiter.Stats, Breaker.States, Retry.Stats), for
// instance in a health.Monitor.
type Hooks struct {
	Timeouts *hooks.Timeouts
	Retry    *hooks.Retry
	Breaker  *hooks.Breaker
	Limiter  *hooks.Limiter
}

// List returns the hooks in chain order, outermost first, skipping nil ones.
func (h Hooks) List() []hooks.Guard {
	var l []hooks.Guard
	if h.Timeouts != nil {
		l = append(l, h.Timeouts)
	}
	if h.Retry != nil {
		l = append(l, h.Retry)
	}
	if h.Breaker != nil {
		l = append(l, h.Breaker)
	}
	if h.Limiter != nil {
		l = append(l, h.Limiter)
	}
	return l
}

// NewHooks builds the hooks of c's preset with c's settings: Timeouts with
// BlockingTimeout as the cap of blocking commands, Retry with c.Retry (and
// its budget, unless c.Retry.NoBudget), a
// Breaker, and a Limiter with MaxConcurrentOps and MaxBlocking whose wait
// for a permit is sized to end inside the command's deadline (below). A bad
// c is an error naming what is wrong.
//
// The presets differ in what an open circuit means to a caller
// (Retry.OpenCircuit, BreakerOpenTimeout). API fails fast: a command to a node whose breaker is open gets ErrCircuitOpen at
// once (breaker defaults: 5 consecutive failures, 5s open), until the
// breaker's probes find the node answering. Worker rides it out: Retry backs
// off and tries again within its MaxElapsed while the breaker probes the
// node (and lets a command through after a second), so a
// restart or a failover costs a worker a pause, not a failed job.
//
// Timeouts wraps Retry, so a command's deadline bounds all its attempts:
// Retry.Deadline is that deadline for short commands (API: the hooks' reads
// 3s, writes 5s; Worker 30s, below its 60s socket timeout), and each
// attempt of an idempotent command gets at most Retry.AttemptTimeout of it
// (API 1s, Worker 3s), so that a read stuck on one connection is tried again
// on another inside the deadline.
//
// A command the Limiter cannot admit waits for a permit at most 500ms (API)
// or 1.213s (Worker), with the presets' settings, and then fails with an
// error wrapping hooks.ErrLimited. It was never sent, so Retry tries it
// again: up to Retry.MaxAttempts waits, with backoffs between them, all
// inside the command's deadline. The wait is the shortest deadline (reads:
// API 3s, Worker Retry.Deadline 30s) less the longest the backoffs can
// take, split in MaxAttempts+1 parts, and at most half of
// Retry.AttemptTimeout: every attempt's wait ends by this bound rather than
// by the deadline or the attempt's limit, with one wait to spare. So a
// saturated limiter ends a command with ErrLimited, each refusal counted in
// hooks.LimiterStats.Rejected (which health reports as degraded), not with
// DeadlineExceeded, which says nothing about why. The Worker waits longer
// per attempt than the API because its deadline is ten times longer, and no
// longer than that because each of its ten attempts must also end inside
// it. The wait is never more than SocketTimeout.
func NewHooks(c Config) (Hooks, error) {
	r, err := c.resolve()
	if err != nil {
		return Hooks{}, err
	}
	return r.hooks()
}

// hooks builds the hooks r describes; see NewHooks.
func (r *resolved) hooks() (Hooks, error) {
	d := r.cfg
	var h Hooks
	var err error
	to := hooks.TimeoutOptions{
		BlockingCap: d.BlockingTimeout,
		Read:        d.Retry.Deadline, Write: d.Retry.Deadline, Default: d.Retry.Deadline,
	}
	if h.Timeouts, err = hooks.NewTimeouts(to); err != nil {
		return Hooks{}, fmt.Errorf("profiles: %w", err)
	}
	ro := hooks.RetryOptions{
		MaxAttempts:         d.Retry.MaxAttempts,
		InitialInterval:     d.Retry.InitialInterval,
		MaxInterval:         d.Retry.MaxInterval,
		MaxElapsed:          d.Retry.MaxElapsed,
		Multiplier:          retryMultiplier,
		RandomizationFactor: retryJitter,
		WaitOutOpenCircuit:  d.Retry.OpenCircuit == OpenCircuitWait,
		AttemptTimeout:      d.Retry.AttemptTimeout,
	}
	if !d.Retry.NoBudget {
		b := d.Retry.Budget
		ro.Budget = &b
	}
	if h.Retry, err = hooks.NewRetry(ro); err != nil {
		return Hooks{}, fmt.Errorf("profiles: %w", err)
	}
	bo := hooks.BreakerOptions{OpenTimeout: d.BreakerOpenTimeout}
	if h.Breaker, err = hooks.NewBreaker(bo); err != nil {
		return Hooks{}, fmt.Errorf("profiles: %w", err)
	}
	if h.Limiter, err = hooks.NewLimiter(hooks.LimiterOptions{
		MaxInFlight: d.MaxConcurrentOps,
		MaxBlocking: d.MaxBlocking,
		MaxWait:     limiterWait(d, to),
	}); err != nil {
		return Hooks{}, fmt.Errorf("profiles: %w", err)
	}
	return h, nil
}

// The backoff of the presets' Retry hooks: each delay doubles, and is spread
// by up to half of it either way. limiterWait relies on these values.
const (
	retryMultiplier = 2
	retryJitter     = 0.5
)

// limiterWait is the Limiter's MaxWait for d (d has its defaults) under the
// deadlines of to; see NewHooks.
func limiterWait(d Config, to hooks.TimeoutOptions) time.Duration {
	// The shortest deadline of the short commands; a zero field means the
	// hooks' default, a negative one no deadline.
	deadline := d.SocketTimeout
	read, write, def := hookx.DefaultTimeouts()
	for _, f := range [][2]time.Duration{
		{to.Read, read},
		{to.Write, write},
		{to.Default, def},
	} {
		v := f[0]
		if v == 0 {
			v = f[1]
		}
		if v > 0 {
			deadline = min(deadline, v)
		}
	}
	attempts := min(max(d.Retry.MaxAttempts, 1), 1<<20)
	var backoffs time.Duration
	iv := d.Retry.InitialInterval
	for i := 1; i < attempts && backoffs < deadline; i++ {
		backoffs += time.Duration(float64(iv) * (1 + retryJitter))
		iv = min(time.Duration(float64(iv)*retryMultiplier), d.Retry.MaxInterval)
	}
	wait := (deadline - backoffs) / time.Duration(attempts+1)
	// Backoffs that take most of the deadline leave little to wait: still
	// wait a share of it (Retry then gives up before the deadline rather than
	// sleep past it).
	wait = max(wait, deadline/time.Duration(4*(attempts+1)))
	// An attempt cut by AttemptTimeout ends the wait with DeadlineExceeded:
	// end it by half of that limit, leaving the other half to the command.
	if d.Retry.AttemptTimeout > 0 {
		wait = min(wait, d.Retry.AttemptTimeout/2)
	}
	// Zero would mean no bound at all.
	return max(wait.Truncate(time.Millisecond), time.Millisecond)
}

// Apply builds the hooks of c's preset and attaches them, with extra ones
// (hooks of another kind wrapped with hooks.Outer run outermost; a
// hooks.ReplicaReads takes its place in the chain), to a client the caller
// already has. The client's
// own options are left as they are, and must fit the hooks: hooks.Attach
// refuses a client with go-redis's own retries on or without
// ContextTimeoutEnabled, saying what to set.
//
// The limiter is sized to the client's own pool: its Options().PoolSize (per
// node on a ClusterClient or Ring; a Sentinel failover client is a
// *redis.Client) takes the place of c.PoolSize. Budgets c leaves at zero
// scale to it; a MaxConcurrentOps or MaxBlocking that does not fit is an
// error naming the field and both numbers, and nothing is attached.
//
// Close the returned Breaker after the client: it stops the Breaker's
// probes of nodes whose circuit is open (see hooks.Breaker.Close).
func Apply(rdb redis.UniversalClient, c Config, extra ...hooks.Guard) (Hooks, error) {
	pool, known := clientPoolSize(rdb)
	if known {
		c.PoolSize = pool
	}
	r, err := c.resolve()
	if err != nil {
		if known {
			return Hooks{}, fmt.Errorf("%w (PoolSize is the client's Options().PoolSize)", err)
		}
		return Hooks{}, err
	}
	return r.attach(rdb, extra)
}

// attach builds the hooks r describes and attaches them, with extra hooks
// outermost, to rdb; see Apply.
func (r *resolved) attach(rdb redis.UniversalClient, extra []hooks.Guard) (Hooks, error) {
	h, err := r.hooks()
	if err != nil {
		return Hooks{}, err
	}
	if err := hooks.Attach(rdb, append(extra, h.List()...)...); err != nil {
		_ = h.Breaker.Close() // Attach may have added it: it must not probe for nobody
		return Hooks{}, fmt.Errorf("profiles: %w", err)
	}
	return h, nil
}

// clientPoolSize is the pool size per node of a go-redis client, and false
// for a type Attach does not know (Attach reports it).
func clientPoolSize(rdb redis.UniversalClient) (int, bool) {
	switch c := rdb.(type) {
	case *redis.Client:
		if c != nil {
			return c.Options().PoolSize, true
		}
	case *redis.ClusterClient:
		if c != nil {
			return c.Options().PoolSize, true
		}
	case *redis.Ring:
		if c != nil {
			return c.Options().PoolSize, true
		}
	}
	return 0, false
}

// Client is a go-redis client built from a Config, with the preset's hooks
// attached. It is a redis.UniversalClient: use it as one. Unwrap returns
// the go-redis client inside, which every helper of this module reads
// through it (see hooks.Unwrap). It holds its Config behind a function,
// which fmt, slog and encoding/json never call: printed in any way, a
// Client shows no password. Print Config() to see the settings.
//
// Its AutoPipeline (go-redis's shared AutoPipeliner) sends each batch
// through the same hooks: one Limiter permit per batch, Retry under the same
// rules. It is the tool for high fan-in work, many goroutines issuing small
// commands.
type Client struct {
	redis.UniversalClient
	// Hooks are the hooks attached to the client.
	Hooks Hooks
	// cfg returns the Config. A function, because fmt prints a function as
	// its address for every verb, where it would walk a *Config.
	cfg func() Config
}

// Config returns the Config the client was built from, with the preset's
// defaults filled in. Its String and LogValue redact passwords. It keeps
// the limiter budgets the client was built with; Hooks.Limiter.Stats
// reports those in force (see SetLimits).
func (c *Client) Config() Config { return c.cfg() }

// Close closes the go-redis client, then its Breaker (which stops the
// Breaker's probes, see hooks.Breaker.Close), and returns the client's
// error. Closing it again returns redis.ErrClosed, as go-redis does.
func (c *Client) Close() error {
	err := c.UniversalClient.Close()
	if c.Hooks.Breaker != nil {
		_ = c.Hooks.Breaker.Close()
	}
	return err
}

// SetLimits changes the budgets of the client's Limiter while it serves
// commands: it is Hooks.Limiter.SetLimits (see there for what changes
// when; it refuses a MaxInFlight above the client's PoolSize, as
// MaxConcurrentOps must fit it), with the error prefixed "profiles: ". A
// health.Monitor given Hooks.Limiter reports the new budgets from its next
// check.
func (c *Client) SetLimits(lim hooks.LimiterLimits) error {
	if err := c.Hooks.Limiter.SetLimits(lim); err != nil {
		return fmt.Errorf("profiles: %w", err)
	}
	return nil
}

// Unwrap returns the go-redis client inside c: a *redis.Client (single
// server or Sentinel failover) or a *redis.ClusterClient. It is the one way
// the helpers of this module (hooks.Attach, batch, health, fxmodule) reach
// the concrete client; see hooks.Unwrap. A nil c gives nil.
func (c *Client) Unwrap() redis.UniversalClient {
	if c == nil {
		return nil
	}
	return c.UniversalClient
}

// NewClient builds a client from c: a *redis.Client for a single server, a
// *redis.ClusterClient when ClusterAddrs are set, a Sentinel failover
// *redis.Client when SentinelAddrs are set (see Mode). The go-redis options
// come from ClientOptions, ClusterOptions or FailoverOptions (pool size,
// timeouts, ContextTimeoutEnabled, MaxRetries -1, the keepalive dialer,
// TLS); then the preset's hooks are attached in the order of the hook chain,
// with the extra ones as Apply attaches them. It does no I/O: a server that cannot be
// reached shows on the first command (or with Ping).
//
// It logs "Redis connection pool initialized" at Info with the profile
// name, max_connections and health_check_interval.
func NewClient(c Config, extra ...hooks.Guard) (*Client, error) {
	r, err := c.resolve()
	if err != nil {
		return nil, err
	}
	d := r.cfg
	var rdb redis.UniversalClient
	switch r.conn.mode {
	case ModeCluster:
		rdb = redis.NewClusterClient(r.clusterOptions())
	case ModeSentinel:
		rdb = redis.NewFailoverClient(r.failoverOptions())
	default:
		rdb = redis.NewClient(r.clientOptions())
	}
	h, err := r.attach(rdb, extra)
	if err != nil {
		_ = rdb.Close()
		return nil, err
	}
	slog.Default().LogAttrs(context.Background(), slog.LevelInfo, "Redis connection pool initialized",
		slog.String("profile", d.Name),
		slog.String("mode", d.Mode().String()),
		slog.Int("max_connections", d.PoolSize),
		slog.Int("max_concurrent_ops", d.MaxConcurrentOps),
		slog.Int("max_blocking_ops", d.MaxBlocking),
		slog.Duration("health_check_interval", d.HealthCheckInterval),
	)
	return &Client{UniversalClient: rdb, Hooks: h, cfg: func() Config { return d }}, nil
}
