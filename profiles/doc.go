// Package profiles holds the configuration of a guarded go-redis client: a
// Config (from code, from the environment, from a URL), the API and Worker
// presets, and the go-redis options and dialer built from it.
//
// # Presets
//
// Two presets cover the usual shapes of traffic. Every value can be changed
// in code (the Config is a plain struct) and by environment variables
// (FromEnv). A zero field means the preset's default.
//
//	setting                        API     Worker  variable (API / Worker)
//	pool size                      50      200     REDIS_MAX_CONNECTIONS / WORKER_REDIS_MAX_CONNECTIONS (alias REDIS_WORKER_MAX_CONNECTIONS)
//	max concurrent ops (limiter)   40      100     REDIS_MAX_CONCURRENT_OPS / REDIS_WORKER_MAX_CONCURRENT_OPS
//	blocking budget in the limiter 10      25      REDIS_MAX_BLOCKING_OPS / REDIS_WORKER_MAX_BLOCKING_OPS
//	limiter wait for a permit      500ms   1.213s  (derived from the deadlines and retries; see NewHooks)
//	socket (read/write) timeout    30s     60s     REDIS_SOCKET_TIMEOUT / WORKER_REDIS_SOCKET_TIMEOUT
//	blocking-op timeout cap        120s    300s    REDIS_BLOCKING_TIMEOUT / WORKER_REDIS_BLOCKING_TIMEOUT
//	health check interval          30s     60s     REDIS_HEALTH_CHECK_INTERVAL / WORKER_REDIS_HEALTH_CHECK_INTERVAL
//	TCP keepalive idle/intvl/count 600s/60s/3      REDIS_TCP_KEEPIDLE, REDIS_TCP_KEEPINTVL, REDIS_TCP_KEEPCNT
//	retry attempts                 3       10      REDIS_RETRY_MAX_ATTEMPTS / WORKER_REDIS_RETRY_MAX_ATTEMPTS
//	retry first backoff            50ms    100ms   REDIS_RETRY_INITIAL_INTERVAL / WORKER_REDIS_RETRY_INITIAL_INTERVAL
//	retry longest backoff          1s      2s      REDIS_RETRY_MAX_INTERVAL / WORKER_REDIS_RETRY_MAX_INTERVAL
//	retry time budget              5s      30s     REDIS_RETRY_MAX_ELAPSED / WORKER_REDIS_RETRY_MAX_ELAPSED
//	short command deadline         3s/5s   30s     in code only: Retry.Deadline (API: the hooks' reads 3s, writes 5s)
//	per-attempt limit (idempotent) 1s      3s      in code only: Retry.AttemptTimeout
//	on an open circuit             fail    wait    in code only: Retry.OpenCircuit (wait: back off and try again)
//	breaker open timeout           -       1s      in code only: BreakerOpenTimeout (API: the hooks' default, 5s)
//	retry budget (all calls)       hooks.RetryBudget's defaults  in code only: Retry.Budget, Retry.NoBudget
//
// The blocking-budget and retry variables are this package's additions,
// named after the others.
//
// The blocking budget is the share of the limiter that blocking commands
// (BLPOP, XREAD BLOCK, WAIT, ...) may hold at once. It must be smaller than
// the limiter, so that MaxConcurrentOps-MaxBlocking slots always remain for
// short commands however many consumers block.
//
// The blocking-op cap bounds the wait a blocking command asks the server
// for: BLPOP key 0 or BLPOP key 600 under a 120s cap is sent as BLPOP key
// 120 and answers redis.Nil after 120s, so a consumer loops; its deadline
// is the wait plus a margin (see hooks.TimeoutOptions.BlockingCap).
//
// The limiter budgets shown are those at the default pool sizes. Budgets
// left unset follow the pool: the limiter takes 80% of it for API and 50%
// for Worker, the blocking budget a quarter of the limiter (at least 2 and
// 1), so REDIS_MAX_CONNECTIONS=20 gives 16 and 4. A budget that is set is
// kept, and one that does not fit is an error naming its variable or field
// and both numbers. Apply sizes them to the client's own PoolSize.
//
// # Connection
//
// A Config names one kind of server: a single server (URL or Addr, default
// localhost:6379), a cluster (ClusterAddrs) or a Sentinel-managed master
// (SentinelAddrs and SentinelMaster); Mode tells which. The environment
// equivalents are REDIS_URL (redis://, rediss://, unix://), or REDIS_HOST and
// REDIS_PORT, REDIS_CLUSTER_ADDRS, or REDIS_SENTINEL_ADDRS with
// REDIS_SENTINEL_MASTER; credentials and TLS come from the URL or from
// REDIS_USERNAME, REDIS_PASSWORD, REDIS_DB and REDIS_TLS, and the
// Sentinels' own credentials from REDIS_SENTINEL_USERNAME and
// REDIS_SENTINEL_PASSWORD.
//
// # go-redis options
//
// ClientOptions (ModeSingle, for redis.NewClient), ClusterOptions
// (ModeCluster, redis.NewClusterClient) and FailoverOptions (ModeSentinel,
// redis.NewFailoverClient) validate the Config and return fresh options with:
//
//   - PoolSize from PoolSize (per node on a cluster);
//   - ReadTimeout and WriteTimeout from SocketTimeout;
//   - ContextTimeoutEnabled true, so a context deadline (the Timeouts hook's
//     per-command deadline, or the caller's) cuts a read in progress;
//   - MaxRetries -1: the Retry hook replaces go-redis's own retry loop (see
//     hooks.Attach for why both cannot be on);
//   - a Dialer of the profile's: its TCP keepalive, and the TLS handshake
//     done by the dialer itself, since go-redis does not wrap a custom
//     Dialer's connections. TLSConfig is set as well, to the configuration
//     the dialer uses, so go-redis knows the connection is TLS;
//   - Username, Password and DB (the Sentinels get SentinelUsername and
//     SentinelPassword).
//
// The other query options of a URL (dial_timeout, pool_timeout,
// min_idle_conns, client_name, protocol, ...) are kept. The builders add no
// hooks: the limiter, timeout and retry fields of a Config are settings for
// the hooks, which are attached separately.
//
// On a cluster, go-redis's MaxRedirects loop (default 3) follows MOVED and
// ASK and also re-sends a command after the errors its shouldRetry accepts,
// read timeouts included. MaxRetries does not switch that loop off, and
// lowering MaxRedirects would lose redirects, so the builders leave it.
//
// # Secrets
//
// Passwords never appear in a Config's String, GoString, LogValue,
// MarshalJSON or fmt output, in any printed form of a Client (which keeps
// its Config where printing does not reach), nor in any error of this
// package: passwords print as "xxxxx", a URL's password part is redacted,
// and a URL parser message that would repeat any piece of the password is
// withheld.
package profiles
