package profiles

import (
	"crypto/tls"
	"fmt"
	"strconv"
	"time"

	"github.com/redisguard/redisguard/hooks"
)

// Preset names. Config.Name holds one of them; the empty name means NameAPI.
const (
	// NameAPI names the API preset: request/response services that need
	// short, predictable waits.
	NameAPI = "api"
	// NameWorker names the Worker preset: background consumers that run
	// blocking pops, long scripts and large batches.
	NameWorker = "worker"
)

// Defaults of the API preset. Pool, limiter, socket timeout, blocking cap,
// health interval and keepalive are the values the product was specified
// with; the blocking budget and the retry policy are this package's choices,
// explained on the constants.
//
// The limiter budgets are the ones at the default pool size. A Config that
// leaves MaxConcurrentOps or MaxBlocking at zero gets them scaled to its
// PoolSize in the same proportions (see Config.MaxConcurrentOps).
const (
	// defaultAPIPoolSize is the API preset's go-redis pool size per node.
	defaultAPIPoolSize = 50
	// defaultAPIMaxConcurrentOps is the API preset's limiter bound at the
	// default pool size: 40 of 50 connections (4/5 of the pool), so a burst
	// waits in the limiter (bounded, with ErrLimited) instead of in
	// go-redis's pool queue, and the rest of the pool stays for health checks,
	// pipelines spilling from the pipeline pool, and transactions and Conns,
	// which hold their connections outside the limiter.
	defaultAPIMaxConcurrentOps = 40
	// defaultAPIMaxBlocking is the API preset's budget for blocking commands
	// inside the limiter, at the default pool size. An API rarely blocks; 10
	// of 40 (a quarter) lets a few long-polling endpoints (BLPOP, XREAD BLOCK)
	// run while at least 30 slots always remain for GET/SET and friends,
	// whatever the blocking callers do.
	defaultAPIMaxBlocking = 10
	// defaultAPISocketTimeout is the API preset's go-redis Read/WriteTimeout.
	defaultAPISocketTimeout = 30 * time.Second
	// defaultAPIBlockingTimeout is the API preset's cap on how long one
	// blocking command may wait (BLPOP 0 included).
	defaultAPIBlockingTimeout = 120 * time.Second
	// defaultAPIHealthCheckInterval is how often the API preset's monitor PINGs.
	defaultAPIHealthCheckInterval = 30 * time.Second
)

// Defaults of the Worker preset (see the API defaults for where each comes from).
const (
	// defaultWorkerPoolSize is the Worker preset's go-redis pool size per node.
	defaultWorkerPoolSize = 200
	// defaultWorkerMaxConcurrentOps is the Worker preset's limiter bound at
	// the default pool size: 100 of 200 (half the pool).
	defaultWorkerMaxConcurrentOps = 100
	// defaultWorkerMaxBlocking is the Worker preset's budget for blocking
	// commands inside the limiter, at the default pool size. Workers are
	// where BLPOP/BRPOP/XREADGROUP consumers live, so the budget is larger
	// than the API's, but it stays a quarter of the limiter: however many
	// consumers are started, 75 slots remain for the short commands those
	// consumers issue when a job arrives (measured with bare go-redis and a
	// pool of 20: 20 BLPOP waiters made a SET take 2 s).
	defaultWorkerMaxBlocking = 25
	// defaultWorkerSocketTimeout is the Worker preset's go-redis Read/WriteTimeout.
	defaultWorkerSocketTimeout = 60 * time.Second
	// defaultWorkerBlockingTimeout is the Worker preset's cap on one blocking wait.
	defaultWorkerBlockingTimeout = 300 * time.Second
	// defaultWorkerHealthCheckInterval is how often the Worker preset's monitor PINGs.
	defaultWorkerHealthCheckInterval = 60 * time.Second
)

// TCP keepalive defaults, the same for both presets (as specified): probe
// after 10 minutes idle, every minute, give up after 3 unanswered probes.
const (
	defaultKeepAliveIdle     = 600 * time.Second // TCP_KEEPIDLE
	defaultKeepAliveInterval = 60 * time.Second  // TCP_KEEPINTVL
	defaultKeepAliveCount    = 3                 // TCP_KEEPCNT
)

// Limits the kernel (Linux) puts on keepalive settings; larger values make
// setsockopt fail at dial time, so Validate rejects them up front.
const (
	maxKeepAliveSeconds = 32767
	maxKeepAliveCount   = 127
)

// defaultAddr is the address used when a Config names no server at all
// (the same default go-redis uses).
const defaultAddr = "localhost:6379"

// Retry is the policy of the Retry hook. A zero field means the preset's
// default. The hook retries only what its retry table allows
// (per error and per command); these fields bound how often and how long.
type Retry struct {
	// MaxAttempts is the total number of tries of one command, the first
	// included: 1 means no retry. Default: API 3, Worker 10.
	MaxAttempts int
	// InitialInterval is the backoff before the first retry; later waits
	// grow exponentially with jitter. Default: API 50ms, Worker 100ms.
	InitialInterval time.Duration
	// MaxInterval caps a single backoff wait. Default: API 1s, Worker 2s.
	MaxInterval time.Duration
	// MaxElapsed caps the time spent on one command across all its attempts
	// and waits; the caller's context deadline, when shorter, wins.
	// Default: API 5s, Worker 30s.
	MaxElapsed time.Duration
	// Deadline is the deadline of one short command (a read, a write, any
	// other that does not block), all its attempts included (the Timeouts
	// hook's Read, Write and Default). Default: API none set, so the
	// hooks' own (reads 3s, writes and others 5s); Worker 30s.
	Deadline time.Duration
	// AttemptTimeout bounds each attempt of an idempotent command inside
	// its deadline, so that an attempt stuck on a connection leaves time
	// for another (hooks.RetryOptions.AttemptTimeout). Default: API 1s,
	// Worker 3s.
	AttemptTimeout time.Duration
	// OpenCircuit is what a command does when its node's circuit is open
	// (nothing was sent): OpenCircuitFail fails at once with
	// hooks.ErrCircuitOpen, OpenCircuitWait backs off and tries again
	// within the bounds above while the breaker probes the node
	// (hooks.RetryOptions.WaitOutOpenCircuit). Default: API fail, Worker
	// wait.
	OpenCircuit string
	// Budget bounds the re-sends of all the client's calls together to a
	// share of those calls (hooks.RetryBudget); its zero fields take the
	// preset's values, hooks.RetryBudget's defaults for both presets.
	Budget hooks.RetryBudget
	// NoBudget turns the budget off: every retry the table and the bounds
	// above allow is made, however many calls fail.
	NoBudget bool
}

// The presets' retry policies. go-redis's own loop (3 retries, 10ms..1s)
// is switched off by the profiles (MaxRetries -1); these replace it. The API policy gives up
// within a request's usual budget; the Worker policy rides out a failover or
// a restart (typically 5-30 s): with the Worker preset Retry also waits
// out an open circuit (see NewHooks), so its attempts are many and short.
//
// Both presets budget their retries (Retry.Budget) with the hooks' default
// (the zero hooks.RetryBudget): when a server fails many calls at once,
// retries add a small share to the load instead of multiplying it. A
// worker still rides out a restart: its refused connections and the open
// circuit it waits out take nothing from the budget.
var (
	defaultAPIRetry    = Retry{MaxAttempts: 3, InitialInterval: 50 * time.Millisecond, MaxInterval: time.Second, MaxElapsed: 5 * time.Second, AttemptTimeout: time.Second, OpenCircuit: OpenCircuitFail, Budget: hooks.RetryBudget{}}
	defaultWorkerRetry = Retry{MaxAttempts: 10, InitialInterval: 100 * time.Millisecond, MaxInterval: 2 * time.Second, MaxElapsed: 30 * time.Second, Deadline: 30 * time.Second, AttemptTimeout: 3 * time.Second, OpenCircuit: OpenCircuitWait, Budget: hooks.RetryBudget{}}
)

// The values of Retry.OpenCircuit.
const (
	OpenCircuitFail = "fail"
	OpenCircuitWait = "wait"
)

// Config is everything needed to build a guarded go-redis client: where the
// server is, how to authenticate, and the sizes and timeouts of the pool and
// of the hooks. Every field is optional: a zero field means the default of
// the preset named by Name (see API and Worker). Negative values are errors.
//
// A Config is a plain value: copy it, change fields, pass it around. Build one
// with API or Worker, change what you need in code, or read overrides from the
// environment with FromEnv. Validate reports the first problem; the options
// builders (ClientOptions, ClusterOptions, FailoverOptions) call it.
//
// Which server: URL or Addr (or both, when they agree), or ClusterAddrs, or
// SentinelAddrs with SentinelMaster — one kind of server, or none for
// localhost:6379. See Mode; Validate states the rules.
//
// A Config never prints its passwords: String, GoString, LogValue and
// MarshalJSON show "xxxxx" instead, and the password part of URL is redacted
// likewise.
type Config struct {
	// Name is the preset this Config derives its defaults and environment
	// variable names from: NameAPI or NameWorker. Empty means NameAPI.
	Name string

	// URL is a redis://, rediss:// or unix:// URL for a single server, parsed
	// with go-redis's ParseURL: user, password, database and go-redis query
	// options (dial_timeout, pool_timeout, client_name, protocol,
	// skip_verify, min_idle_conns, ...). The options this Config owns are
	// rejected in the query with a pointer to the field to use instead:
	// pool_size (PoolSize), read_timeout and write_timeout (SocketTimeout),
	// max_retries, min_retry_backoff and max_retry_backoff (Retry).
	// When URL is set, Addr, Username, Password, DB and TLS may still be set
	// but must agree with what the URL says (Validate); what the URL leaves
	// out (username, password, database) is taken from those fields.
	// rediss:// turns TLS on.
	URL string

	// Addr is "host:port" of a single server, or the path of a unix socket
	// (starting with "/"). Default: localhost:6379 when no other target is set.
	Addr string

	// Username is the ACL user (Redis 6+). Empty means the default user.
	Username string
	// Password authenticates Username (or the default user).
	// It is never printed.
	Password string
	// DB is the database selected on every connection of a single or
	// Sentinel-managed server. Must be 0 for a cluster.
	DB int

	// TLS turns on TLS with the system roots and a ServerName taken from the
	// address dialed. Set TLSConfig for custom roots, client certificates or
	// a fixed ServerName; a non-nil TLSConfig turns TLS on by itself.
	TLS bool
	// TLSConfig is the TLS configuration used for every connection (cloned
	// per dial). If its ServerName is empty, the host of the address dialed
	// is used. It wins over the TLS settings a rediss:// URL carries.
	TLSConfig *tls.Config `json:"-"`

	// ClusterAddrs are seed "host:port" addresses of a Redis Cluster; setting
	// them selects ModeCluster. PoolSize, MaxConcurrentOps and MaxBlocking then
	// apply per node.
	ClusterAddrs []string

	// SentinelAddrs are "host:port" addresses of Sentinels; setting them
	// selects ModeSentinel, and SentinelMaster is then required.
	SentinelAddrs []string
	// SentinelMaster is the name of the master set the Sentinels monitor.
	SentinelMaster string
	// SentinelUsername authenticates to the Sentinels themselves (not to the
	// master, which uses Username).
	SentinelUsername string
	// SentinelPassword authenticates to the Sentinels. It is never printed.
	SentinelPassword string

	// PoolSize is go-redis's PoolSize: connections per server (per node in
	// a cluster). Default: API 50, Worker 200.
	PoolSize int

	// MaxConcurrentOps is the Limiter hook's MaxInFlight: commands in flight
	// per node, from 2 to PoolSize. Default: scaled to PoolSize, 4/5 of the
	// pool for API (40 of 50) and half of it for Worker (100 of 200),
	// rounded down, at least 2. Set it and it must fit: a value above
	// PoolSize is an error.
	MaxConcurrentOps int

	// MaxBlocking is the part of MaxConcurrentOps that blocking commands
	// (BLPOP, XREAD BLOCK, WAIT, ...) may hold at once; it must be smaller
	// than MaxConcurrentOps, so MaxConcurrentOps-MaxBlocking slots always stay
	// free for short commands. Default: a quarter of MaxConcurrentOps,
	// rounded down, at least 1 (API 10 of 40, Worker 25 of 100).
	MaxBlocking int

	// SocketTimeout is go-redis's ReadTimeout and WriteTimeout: how long one
	// read or write on a connection may take when the command's context has
	// no earlier deadline. Default: API 30s, Worker 60s.
	SocketTimeout time.Duration

	// BlockingTimeout caps how long one blocking command may wait on the
	// server (the Timeouts hook's BlockingCap): a command asking for a
	// longer wait, or an endless one (BLPOP key 0, XREAD BLOCK 0), is sent
	// with this timeout instead and gets the server's redis.Nil when it
	// ends; its deadline is the wait plus a margin, so a reply at the end
	// of the wait is never cut. Callers that want to wait longer loop.
	// Default: API 120s, Worker 300s.
	BlockingTimeout time.Duration

	// HealthCheckInterval is how often the health monitor PINGs.
	// Default: API 30s, Worker 60s.
	HealthCheckInterval time.Duration

	// BreakerOpenTimeout is how long a node's circuit stays open before a
	// caller's command is let through (half-open), when the breaker's probes
	// have not closed it sooner. 0 means the hooks' default
	// (hooks.BreakerOptions.OpenTimeout). Default: API 0, Worker 1s: a
	// worker waits out an open circuit (Retry.OpenCircuit), so its commands
	// back off while the breaker keeps the traffic off the node, and go on
	// within about a second of the node's return even without probes.
	BreakerOpenTimeout time.Duration

	// KeepAliveIdle is the idle time before the first TCP keepalive probe
	// (TCP_KEEPIDLE). Default 600s; at most 32767s.
	KeepAliveIdle time.Duration
	// KeepAliveInterval is the time between keepalive probes
	// (TCP_KEEPINTVL). Default 60s; at most 32767s.
	KeepAliveInterval time.Duration
	// KeepAliveCount is how many unanswered probes close the connection
	// (TCP_KEEPCNT). Default 3; at most 127.
	KeepAliveCount int

	// Retry is the Retry hook's policy; zero fields take the preset's values.
	Retry Retry
}

// API returns the API preset: pool 50, socket timeout 30s, blocking cap
// 120s, health check every 30s, keepalive 600s/60s/3, the API retry policy
// (see Retry), server localhost:6379. Its limiter budgets are left at zero
// so that they follow PoolSize: 40 with 10 for blocking commands at the pool
// of 50 (see MaxConcurrentOps and MaxBlocking).
func API() Config {
	return Config{
		Name:                NameAPI,
		PoolSize:            defaultAPIPoolSize,
		SocketTimeout:       defaultAPISocketTimeout,
		BlockingTimeout:     defaultAPIBlockingTimeout,
		HealthCheckInterval: defaultAPIHealthCheckInterval,
		KeepAliveIdle:       defaultKeepAliveIdle,
		KeepAliveInterval:   defaultKeepAliveInterval,
		KeepAliveCount:      defaultKeepAliveCount,
		Retry:               defaultAPIRetry,
	}
}

// Worker returns the Worker preset: pool 200, socket timeout 60s, blocking
// cap 300s, health check every 60s, keepalive 600s/60s/3, the Worker retry
// policy (see Retry), server localhost:6379. Its limiter budgets are left at
// zero so that they follow PoolSize: 100 with 25 for blocking commands at
// the pool of 200.
func Worker() Config {
	return Config{
		Name:                NameWorker,
		PoolSize:            defaultWorkerPoolSize,
		SocketTimeout:       defaultWorkerSocketTimeout,
		BlockingTimeout:     defaultWorkerBlockingTimeout,
		HealthCheckInterval: defaultWorkerHealthCheckInterval,
		KeepAliveIdle:       defaultKeepAliveIdle,
		KeepAliveInterval:   defaultKeepAliveInterval,
		KeepAliveCount:      defaultKeepAliveCount,
		Retry:               defaultWorkerRetry,
		BreakerOpenTimeout:  time.Second,
	}
}

// preset returns the preset c's Name selects, and false for an unknown name.
func (c Config) preset() (Config, bool) {
	switch c.Name {
	case "", NameAPI:
		return API(), true
	case NameWorker:
		return Worker(), true
	}
	return Config{}, false
}

// withDefaults returns a copy of c whose zero sizes, timeouts, keepalive and
// retry fields hold the values of the preset named by Name (an empty Name
// becomes NameAPI), the limiter budgets scaled to PoolSize. Connection
// fields are left as they are; an unknown Name leaves c unchanged (Validate
// reports it).
func (c Config) withDefaults() Config {
	p, ok := c.preset()
	if !ok {
		return c
	}
	c.Name = p.Name
	setInt(&c.PoolSize, p.PoolSize)
	setInt(&c.MaxConcurrentOps, c.defaultMaxConcurrentOps())
	setInt(&c.MaxBlocking, c.defaultMaxBlocking())
	setDur(&c.SocketTimeout, p.SocketTimeout)
	setDur(&c.BlockingTimeout, p.BlockingTimeout)
	setDur(&c.HealthCheckInterval, p.HealthCheckInterval)
	setDur(&c.KeepAliveIdle, p.KeepAliveIdle)
	setDur(&c.KeepAliveInterval, p.KeepAliveInterval)
	setInt(&c.KeepAliveCount, p.KeepAliveCount)
	setInt(&c.Retry.MaxAttempts, p.Retry.MaxAttempts)
	setDur(&c.Retry.InitialInterval, p.Retry.InitialInterval)
	setDur(&c.Retry.MaxInterval, p.Retry.MaxInterval)
	setDur(&c.Retry.MaxElapsed, p.Retry.MaxElapsed)
	setDur(&c.Retry.Deadline, p.Retry.Deadline)
	setDur(&c.Retry.AttemptTimeout, p.Retry.AttemptTimeout)
	if c.Retry.OpenCircuit == "" {
		c.Retry.OpenCircuit = p.Retry.OpenCircuit
	}
	setDur(&c.BreakerOpenTimeout, p.BreakerOpenTimeout)
	setFloat(&c.Retry.Budget.Ratio, p.Retry.Budget.Ratio)
	setFloat(&c.Retry.Budget.MinPerSecond, p.Retry.Budget.MinPerSecond)
	setInt(&c.Retry.Budget.Burst, p.Retry.Budget.Burst)
	return c
}

// maxConcurrentOps is the largest limiter a scaled default reaches: the
// most hooks.LimiterOptions.MaxInFlight accepts.
const maxConcurrentOps = 1 << 20

// budgetShares are the proportions the limiter budgets of c's preset keep
// when they scale: the limiter's part of the pool and the blocking budget's
// part of the limiter, each taken from the preset's budgets at its default
// pool size.
func (c Config) budgetShares() (opsNum, opsDen, blkNum, blkDen int) {
	if c.Name == NameWorker {
		return defaultWorkerMaxConcurrentOps, defaultWorkerPoolSize, defaultWorkerMaxBlocking, defaultWorkerMaxConcurrentOps
	}
	return defaultAPIMaxConcurrentOps, defaultAPIPoolSize, defaultAPIMaxBlocking, defaultAPIMaxConcurrentOps
}

// defaultMaxConcurrentOps is the limiter c gets when MaxConcurrentOps is
// zero: the preset's share of PoolSize (its default when zero), rounded
// down, at least 2 (one slot for blocking commands, one always for short
// ones) and at most maxConcurrentOps. A PoolSize below 2 leaves no room for
// it; Validate says so.
func (c Config) defaultMaxConcurrentOps() int {
	pool := c.PoolSize
	if pool == 0 {
		if p, ok := c.preset(); ok {
			pool = p.PoolSize
		}
	}
	num, den, _, _ := c.budgetShares()
	return min(max(pool*num/den, 2), maxConcurrentOps)
}

// defaultMaxBlocking is the blocking budget c gets when MaxBlocking is zero:
// the preset's share of MaxConcurrentOps (its default when zero), rounded
// down, at least 1.
func (c Config) defaultMaxBlocking() int {
	ops := c.MaxConcurrentOps
	if ops == 0 {
		ops = c.defaultMaxConcurrentOps()
	}
	_, _, num, den := c.budgetShares()
	return max(ops*num/den, 1)
}

func setInt(v *int, def int) {
	if *v == 0 {
		*v = def
	}
}

func setFloat(v *float64, def float64) {
	if *v == 0 {
		*v = def
	}
}

func setDur(v *time.Duration, def time.Duration) {
	if *v == 0 {
		*v = def
	}
}

// Mode says which kind of go-redis client a Config describes.
type Mode int

const (
	// ModeSingle is one server (Addr or URL): a *redis.Client.
	ModeSingle Mode = iota
	// ModeCluster is a Redis Cluster (ClusterAddrs): a *redis.ClusterClient.
	ModeCluster
	// ModeSentinel is a Sentinel-managed master (SentinelAddrs and
	// SentinelMaster): a failover *redis.Client.
	ModeSentinel
)

// String returns "single", "cluster" or "sentinel".
func (m Mode) String() string {
	switch m {
	case ModeSingle:
		return "single"
	case ModeCluster:
		return "cluster"
	case ModeSentinel:
		return "sentinel"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// Mode reports the client kind c describes: ModeSentinel when SentinelAddrs
// is set, ModeCluster when ClusterAddrs is set, ModeSingle otherwise.
// Validate rejects a Config that sets both.
func (c Config) Mode() Mode {
	switch {
	case len(c.SentinelAddrs) > 0:
		return ModeSentinel
	case len(c.ClusterAddrs) > 0:
		return ModeCluster
	}
	return ModeSingle
}

// ConfigError reports a Config field Validate rejects. Reason never contains
// a password.
type ConfigError struct {
	// Field is the Config field at fault, e.g. "MaxBlocking" or "Retry.MaxAttempts".
	Field string
	// Related is the other field involved in a rule between two fields
	// (MaxBlocking < MaxConcurrentOps), or empty.
	Related string
	// Reason says what is wrong, with the values involved.
	Reason string

	part string // "host" or "port" of Addr, when the rule tells: FromEnv blames its variable
}

// Error returns "profiles: <Field>: <Reason>".
func (e *ConfigError) Error() string { return "profiles: " + e.Field + ": " + e.Reason }

func fieldErr(field, related, format string, args ...any) *ConfigError {
	return &ConfigError{Field: field, Related: related, Reason: fmt.Sprintf(format, args...)}
}
