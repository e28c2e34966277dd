package hooks

import "github.com/redis/go-redis/v9"

// Test-only access for the package's external tests (package hooks_test)
// to what the package keeps unexported.

// MaybeAppliedError is the error of a cluster's or ring's node guard.
type MaybeAppliedError = maybeAppliedError

// RawHook returns g's go-redis hook, as Attach adds it to a *redis.Client.
func RawHook(g Guard) redis.Hook { return g.redisHook() }

// WithClock returns opt with c as its time source.
func WithClock(opt RetryOptions, c retryClock) RetryOptions {
	opt.clock = c
	return opt
}

// RetryClock is the time source WithClock takes.
type RetryClock = retryClock

// ValidateBudget is RetryBudget.validate.
func ValidateBudget(b RetryBudget) error { return b.validate() }

// Stopped reports whether err classifies as a call that must stop.
func Stopped(err error) bool { return classifyError(err) == outcomeStopped }

// BlocksForever reports whether the default table sees cmd as a blocking
// command that may wait forever.
func BlocksForever(cmd redis.Cmder) bool { return defaultTable.info(cmd).BlockForever }

// StateOf returns the state of addr's circuit (closed for an address the
// Breaker does not know).
func StateOf(b *Breaker, addr string) BreakerState { return b.state(addr) }
