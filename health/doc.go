// Package health watches a go-redis client and says whether it can be used:
// a Monitor that PINGs on an interval and gathers pool, server and hook
// figures into a Report with a status; net/http handlers that serve it; and
// a Heartbeat that keeps a worker's key alive.
//
// # Monitor
//
// NewMonitor takes anything with Ping, PoolStats and Info (Client):
// *redis.Client, *redis.ClusterClient, *redis.Ring. Start runs a check at
// once and then every Options.Interval until Stop, which waits for the
// checking goroutine. Check runs one check on demand.
//
// A check:
//
//  1. sends PING, bounded by Options.PingTimeout. The monitor enforces that
//     bound itself, so a server that stopped answering fails the check on
//     time even when the client does not have ContextTimeoutEnabled. A PING
//     still stuck from an earlier check counts as a failure and no second
//     one is sent;
//  2. if PING answered, reads INFO (connected and blocked clients,
//     maxclients, rejected connections, used memory and maxmemory). On a
//     cluster or ring (anything with ForEachShard) it instead PINGs every
//     node, reads each node's INFO and pool, and reports each node plus the
//     sums: go-redis's own ClusterClient.PoolStats leaves some figures out
//     (Unusable, PendingRequests) and its INFO goes to one node only. A
//     Ring's ForEachShard skips shards it holds down, so those drop out of
//     the sums;
//  3. reads the pool figures and, when given in Options, the hooks' figures
//     (limiter, breaker states per node, retry counters);
//  4. applies Rules to decide the Status.
//
// Latency is kept as the last PING's round trip and a moving average of the
// successful ones; consecutive failures are counted.
//
// # Status
//
// healthy, degraded or unhealthy; see Rules for the rules, which are
// configurable. In short: unhealthy after Rules.FailuresUnhealthy failed
// PINGs in a row or while a breaker is open; degraded on a failed or slow
// PING, pool timeouts or limiter rejections since the previous check, a
// half-open breaker, or a cluster node that does not answer. On a
// ClusterClient a dead master whose replica can take its place makes the
// status degraded, not unhealthy, and once the cluster has promoted the
// replica the dead node no longer counts. While the
// monitor runs, the status follows the breaker (Options.Breaker) at once,
// not at the next check: each state change of a *hooks.Breaker re-applies
// the rules, so /health turns 503 when a circuit opens and back when it
// closes, whatever the Interval.
// Options.OnStatusChange is called, with no lock held, when the status
// changes.
//
// # HTTP
//
// Monitor.Handler serves GET /health (200 when healthy or degraded, 503 when
// unhealthy) and GET /pool-stats, both JSON and both from the last report.
// The pool figures use these names: max_connections, created_connections,
// available_connections, in_use_connections, hits, misses, timeouts, waits,
// wait_duration_ms, stale, unusable, pending_requests. No output ever holds
// a client option, so a password cannot leak through it.
//
// # Logs
//
// Through log/slog (Options.Logger): "Redis connection pool initialized"
// (max_connections, health_check_interval) after the first check at info;
// "Redis pool health" (available, total, in_use, max_connections,
// latency_ms, status, and error when the PING failed) after every check at
// debug; "Redis health status changed" (from, to, reasons) at
// warn when the new status is degraded or unhealthy, and at info when it is
// healthy.
//
// # Heartbeat
//
// A Heartbeat SETs a worker's key with a TTL every interval and deletes it on
// Stop; a worker that dies without Stop leaves a key that expires within the
// TTL. LiveWorkers lists the live keys under a prefix with SCAN, on every
// master of a cluster.
package health
