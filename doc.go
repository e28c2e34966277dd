// Package redisguard keeps go-redis v9 clients healthy under long-running
// and high-concurrency work: blocking consumers cannot starve short
// commands, retries never apply a write twice, a dead node fails fast, and
// every command gets a deadline that fits what it is.
//
// The root package holds only this overview; the work is done in its
// sub-packages:
//
//   - hooks: the go-redis hooks (Timeouts, Retry, Breaker, Limiter), the
//     command table they share, and Attach, which puts them on any
//     redis.UniversalClient in the right order.
//   - profiles: Config from code, environment or URL, and the API and Worker
//     presets that build clients with the hooks attached.
//   - batch: chunked pipeline helpers with an exact report of what was, was
//     not, and may have been written.
//   - health: a Monitor with HTTP endpoints, and worker heartbeats.
//   - fxmodule: an Uber fx module wiring all of the above.
//
// # Hook order
//
// go-redis runs the first hook added outermost. redisguard's hooks always
// run in this order, outermost first, whatever order they are passed to
// hooks.Attach:
//
//  1. Timeouts: a deadline chosen by what the command is; a caller's
//     shorter deadline wins.
//  2. Retry: backoff with jitter, only where the command cannot have been
//     applied, or applying it twice changes nothing.
//  3. Breaker: one circuit breaker per node; fails fast while open (the
//     Worker profile's Retry backs off and waits it out instead).
//  4. Limiter: bounds commands in flight per node, with a separate, smaller
//     budget for blocking commands.
//  5. go-redis itself (pool, connection, reply), with its own retries
//     turned off (MaxRetries: -1) so they are not multiplied.
//
// On a ClusterClient or Ring, Timeouts and Retry wrap the whole call
// (routing and redirects included) and Breaker and Limiter run on each node
// client.
package redisguard
