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
// # How it works
//
// The order in which Attach chains the hooks, what runs per node on a
// ClusterClient or Ring, why Timeouts needs ContextTimeoutEnabled, the
// deadline context's semantics, and the Limiter's and Retry's rules are
// described once, in docs/design.md in this module's repository; the
// guarantees and the tests that prove them in docs/guarantees.md.
package hooks
