// Package hooks holds the go-redis v9 hooks of redisguard: Timeouts,
// Retry, Breaker and Limiter, the command table they classify commands
// with, and Attach, which adds them to any client in the right order.
//
// Each hook is a Guard, and Attach is the only way to add one to a client:
// it checks that the client's options fit the hooks, and refuses (saying
// what to set) those the options would defeat:
//
//	rdb := redis.NewClient(&redis.Options{
//		Addr:                  "localhost:6379",
//		PoolSize:              50,
//		ContextTimeoutEnabled: true, // Timeouts needs it
//	})
//	lim, err := hooks.NewLimiter(hooks.LimiterOptions{MaxInFlight: 40, MaxBlocking: 10, MaxWait: 2 * time.Second})
//	...
//	tmo, err := hooks.NewTimeouts(hooks.TimeoutOptions{})
//	...
//	err = hooks.Attach(rdb, lim, tmo) // any order
//
// Hooks of another kind (tracing, metrics) go through Attach wrapped with
// Outer, or are added with AddHook before Attach; either way they run
// outermost. Users of modules (JSON.SET, FT.SEARCH) and of idempotent
// scripts tell the hooks about them with NewCommandTable.
//
// # Hook order
//
// go-redis runs the first hook added outermost. Attach adds the hooks in
// this order, outermost first, whatever order they are passed in:
//
//  1. Hooks of another kind (tracing, metrics; see Outer), in the order
//     given.
//  2. Attach's own classification: what the command table says of the call
//     (class, flags, idempotency, go-redis's connection set-up) is worked
//     out once here and carried in the context to every hook below.
//  3. Timeouts: a deadline per command, chosen by what the command is.
//  4. Retry: backoff between attempts, bounded by attempts and by the
//     deadline, each attempt within RetryOptions.AttemptTimeout; it never
//     sleeps holding a Limiter permit.
//  5. ReplicaReads (opt-in, ClusterClient only): a read an open circuit
//     refused goes to a replica of its master.
//  6. Breaker: one circuit per node; fails at once with ErrCircuitOpen.
//  7. Limiter: bounds the commands in flight per node.
//  8. go-redis itself: its own retry loop (MaxRetries), the pool, the
//     connection.
//
// On a *redis.ClusterClient or *redis.Ring, Timeouts, Retry, ReplicaReads
// and the non-redisguard hooks wrap the whole call (routing, MOVED/ASK,
// topology reloads), and Breaker and Limiter run on each node client, each
// node with its own circuit and its own budget (see Attach); each node
// client's chain starts with the classification too, which a command
// classified above passes through as it is. On a
// ClusterClient a circuit that opens also makes the client reload its slot
// map, so that it finds the replica promoted in place of a dead master
// (see Attach). A Sentinel
// failover client is a *redis.Client: its budget follows the master,
// whichever server that is, and Limiter.NodeStats reports it under the
// client's Options().Addr ("FailoverClient").
//
// # ContextTimeoutEnabled
//
// Timeouts works through the context: it gives each command a context
// deadline, and go-redis turns a context deadline into socket deadlines
// (the earlier of the context's deadline and ReadTimeout/WriteTimeout)
// only when the client has ContextTimeoutEnabled: true, which Attach
// requires of a client with Timeouts.
//
// go-redis gives a blocking command (BLPOP key 5) a read deadline of its
// own timeout + 10 s, whatever ReadTimeout is; Timeouts gives it its
// timeout + BlockingMargin, and the earlier deadline wins. With a
// BlockingCap, a blocking command that asks for a longer or an endless wait
// (BLPOP key 0, XREAD ... BLOCK 0) is sent with the cap as its timeout, so
// the server itself ends the wait at the cap (redis.Nil) and its deadline
// is the cap + BlockingMargin: the server's answer, or an element it pops at
// the last moment, always arrives before the deadline. go-redis reads a
// pipeline's replies, and those of a command sent with Do, with ReadTimeout
// rather than with the command's own timeout: keep the waits of blocking
// commands sent that way below ReadTimeout.
//
// # Deadlines
//
// context.WithTimeout allocates a context and starts a timer on every call
// (measured: 4 allocations, about 0.5 µs per command; the deadlinectx
// scenario of make bench compares the two under whole-system load). To keep the
// per-command cost at zero allocations, Timeouts carries the deadline in a
// small context of its own, taken from a pool for the command and put back
// when the hook chain below Timeouts returns. Its semantics, and where they
// differ from context.WithTimeout:
//
//   - The deadline is fixed, as now + the command's timeout, the first time
//     something below Timeouts asks for it with Deadline: go-redis asks when
//     it sets the command's first socket deadline (so after it has a
//     connection); the Limiter and Retry ask when they have to wait, and
//     Retry when it bounds an attempt by AttemptTimeout. Until
//     then no clock is read. A blocking command is the exception: the
//     Limiter's wait for its permit and Retry's backoff before it is sent
//     are bounded by its timeout from the start of that wait but do not
//     fix its deadline, so the deadline is its wait on the server plus
//     BlockingMargin counted from when it is sent, however long it queued. The time a command spends waiting for a pool
//     connection is bounded by the pool's PoolTimeout and the caller's
//     context, not by the class deadline.
//   - Deadline returns the earlier of that deadline and the caller's. go-redis
//     sets every socket deadline of the command from it, so reads and
//     writes are cut exactly as with context.WithTimeout.
//   - Err returns the caller's error, or context.DeadlineExceeded once the
//     deadline has passed.
//   - Done returns the caller's Done channel before the deadline and a closed
//     channel after it. A channel obtained before the deadline does not
//     close at the deadline: a wait already under way when the deadline
//     passes ends with the caller's context or its own timeout (go-redis's
//     wait for a connection that another command is initializing ends with
//     that initialization). A wait that starts after the deadline ends at
//     once: go-redis's retry backoff stops there instead of sending the
//     command again, and dials no connection for it. The Limiter bounds its
//     own wait by Deadline, so its wait ends at the deadline.
//   - Value asks the caller's context. context.Cause reports the caller's
//     cause, which is nil when only the deadline has passed.
//
// go-redis v9.23 does not keep a command's context after the command
// returns (its dialer goroutines use their own contexts; cluster fan-outs
// and pipelines wait for their goroutines; autopipelining runs the hooks
// per batch and waits), which is what makes the reuse safe. A hook added
// after Timeouts, or code it calls, must not keep the context either (in a
// goroutine that outlives the command, say). If one may, set
// TimeoutOptions.StdContext: Timeouts then uses context.WithTimeout, at the
// price shown by the benchmarks.
//
// A caller's earlier deadline always wins: the command's socket deadlines
// are never later than the caller's deadline.
//
// # Limiter
//
// A blocking command holds its pool connection for its whole wait: with
// bare go-redis, as many BLPOP consumers as the pool has connections leave
// every other command waiting for the pool (measured: SET throughput from
// 41,000 to 16 ops/s). The Limiter admits at most MaxInFlight commands per
// node, of which at most MaxBlocking blocking ones, so MaxInFlight -
// MaxBlocking permits always remain for short commands. Keep MaxInFlight
// below the pool size: then the Limiter, with its bounded and fair wait and
// its explicit ErrLimited, is where commands queue, not the pool. A
// pipeline or a MULTI/EXEC holds one connection and counts as one command;
// it is blocking if any command in it is. (Since go-redis 9.22 pipelines
// use a pipeline pool first; counting them in the same budget is the safe
// side.) Limiter.SetLimits changes the budgets while commands run; Stats
// and health report those in force.
//
// # Retry and Breaker
//
// Retry decides per error and per command whether an attempt may be
// repeated (see Retry). It runs inside Timeouts, so all
// attempts share one deadline, and outside the Limiter, so it never sleeps
// holding a permit. go-redis's own retry loop must be off on a client with
// Retry (Attach says what to set). With a RetryBudget, the re-sends of all
// the calls together stay within a share of the calls, on every node of a
// cluster or ring alike.
//
// Breaker keeps one circuit per node and fails at once with ErrCircuitOpen
// while it is open.
package hooks
