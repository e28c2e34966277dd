package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/hookx"
	"github.com/redisguard/redisguard/profiles"
)

// runOverload puts 2,000 goroutines doing SET on a pool of 10: bare
// go-redis (its pool queue), the API preset with the Limiter at the pool's
// size and an unbounded queue, and the same shedding load (a bounded
// queue). The parts split the preset's cost: clients with the preset's
// options and its hooks added one at a time from the innermost (the
// Limiter alone, then with Timeouts, then with Retry; with the Breaker too
// they are the preset), the Limiter alone also shedding, and the Limiter
// alone with permits for every goroutine, so that its callers queue in
// go-redis's pool behind the same hook. Every client runs once per round,
// the order rotating.
func runOverload(e *env) ([]Row, error) {
	srv, err := e.server()
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	ctx := context.Background()
	const pool, workers, rounds = 10, 2000, 4
	// Each round counts the calls begun after warm, once its 2,000
	// goroutines have started.
	d, warm := e.dur(1500*time.Millisecond), e.dur(250*time.Millisecond)
	op := func(c redis.UniversalClient) func(ctx context.Context, gi, i int) error {
		return func(ctx context.Context, gi, i int) error {
			return c.Set(ctx, "o"+strconv.Itoa(gi%100), i, 0).Err()
		}
	}
	cfg := profiles.API()
	cfg.Addr = srv.Addr()
	cfg.PoolSize, cfg.MaxConcurrentOps, cfg.MaxBlocking = pool, pool, pool/2

	var closers []func() error
	defer func() {
		for _, c := range closers {
			_ = c()
		}
	}()
	bare := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: pool})
	closers = append(closers, bare.Close)
	g, err := profiles.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	closers = append(closers, g.Close)
	// Load shedding: the same with a bounded queue.
	sh, err := profiles.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	closers = append(closers, sh.Close)
	lim := sh.Hooks.Limiter.Stats().LimiterLimits
	lim.MaxWaiting = shedWaiting
	if err := sh.SetLimits(lim); err != nil {
		return nil, err
	}
	parts, err := overloadParts(cfg, lim, &closers)
	if err != nil {
		return nil, err
	}

	clients := append([]overloadClient{{"bare", bare, 0}, {"guarded", g, 0}, {"shedding", sh, shedBackOff}}, parts...)
	runs := make([]func() *sample, len(clients))
	for k, c := range clients {
		// Labelled in a CPU profile (see phase).
		runs[k] = func() *sample {
			return phase(ctx, "overload-"+c.name, func(ctx context.Context) *sample { return runWarm(ctx, workers, warm, d, op(c.c), c.backOff) })
		}
	}
	ss := rotate(rounds, runs)
	bs, gs, shs := ss[0], ss[1], ss[2]
	bTimeouts, gTimeouts := bare.PoolStats().Timeouts, g.PoolStats().Timeouts

	secs := rounds * d.Seconds()
	note := fmt.Sprintf("pool %d, %d goroutines SET, %d rotating rounds of %s per client (after %s of start-up, not counted); guarded = API preset with pool %d and limiter %d; errors bare %s, guarded %s",
		pool, workers, rounds, d, warm, pool, pool, bs.errString(), gs.errString())
	rows := []Row{
		row("overload", "throughput", "ops/s", perSec(bs, secs), perSec(gs, secs), note),
		row("overload", "p99 admitted", "ms", ms(bs.pct(0.99)), ms(gs.pct(0.99)), ""),
		row("overload", "errors", "count", float64(bs.errors()), float64(gs.errors()), ""),
		row("overload", "pool Timeouts", "count", float64(bTimeouts), float64(gTimeouts), "target: guarded 0"),
	}
	rows = append(rows, shedRows("shedding", bs, shs, secs,
		fmt.Sprintf("guarded = the API preset as above with MaxWaiting %d (MaxWait %s), a refused caller pausing %s on average; errors %s; target >= 0.90", shedWaiting, lim.MaxWait, shedBackOff, shs.errString()))...)
	return append(rows, partRows(bs, ss[3:], secs)...), nil
}

// partRows are the rows of the overload parts' runs ps (in overloadParts'
// order) against bare's b.
func partRows(b *sample, ps []*sample, secs float64) []Row {
	ls, lss, lts, ltrs, lps := ps[0], ps[1], ps[2], ps[3], ps[4]
	rows := []Row{
		row("overload", "Limiter alone: throughput", "ops/s", perSec(b, secs), perSec(ls, secs),
			fmt.Sprintf("guarded = the API preset's options and its Limiter alone: its contended path against go-redis's pool queue; errors %s; target >= 0.95", ls.errString())),
		row("overload", "Limiter alone: p99 admitted", "ms", ms(b.pct(0.99)), ms(ls.pct(0.99)), "target <= 1.10"),
		row("overload", "Limiter alone, its queue against the pool's: throughput", "ops/s", perSec(lps, secs), perSec(ls, secs),
			fmt.Sprintf("bare = the same client with %d permits, so that its callers queue in go-redis's pool behind the same hooks: the Limiter's queue against the pool queue, the hooks' own cost set aside; errors %s", pastPoolPermits, lps.errString())),
		row("overload", "Limiter alone, its queue against the pool's: p99 admitted", "ms", ms(lps.pct(0.99)), ms(ls.pct(0.99)), ""),
	}
	rows = append(rows, shedRows("Limiter alone, shedding", b, lss, secs,
		fmt.Sprintf("the Limiter alone as above, shedding as above; errors %s", lss.errString()))...)
	return append(rows,
		row("overload", "Limiter and Timeouts: throughput", "ops/s", perSec(b, secs), perSec(lts, secs),
			fmt.Sprintf("the API preset's options, its Limiter and its Timeouts; errors %s", lts.errString())),
		row("overload", "Limiter, Timeouts and Retry: throughput", "ops/s", perSec(b, secs), perSec(ltrs, secs),
			fmt.Sprintf("the same and its Retry; with its Breaker too it is the API preset (throughput above); errors %s", ltrs.errString())),
	)
}

// overloadClient is a client of the overload scenario: its phase's name in
// a CPU profile, and how long a caller it refused pauses on average (0: it
// refuses none).
type overloadClient struct {
	name    string
	c       redis.UniversalClient
	backOff time.Duration
}

// overloadParts returns clients with cfg's options and a growing share of
// its preset's hooks, inner first: the Limiter alone, the Limiter alone
// shedding (with the limits shed), the Limiter and Timeouts, those and
// Retry, and the Limiter alone with pastPoolPermits permits. It adds what
// closes them to closers.
func overloadParts(cfg profiles.Config, shed hooks.LimiterLimits, closers *[]func() error) ([]overloadClient, error) {
	opt, err := cfg.ClientOptions()
	if err != nil {
		return nil, err
	}
	limOnly := func(h profiles.Hooks) []hooks.Guard { return []hooks.Guard{h.Limiter} }
	parts := []struct {
		name           string
		shed, pastPool bool
		hs             func(profiles.Hooks) []hooks.Guard
	}{
		{"limiter", false, false, limOnly},
		{"limiter-shedding", true, false, limOnly},
		{"limiter-timeouts", false, false, func(h profiles.Hooks) []hooks.Guard { return []hooks.Guard{h.Timeouts, h.Limiter} }},
		{"limiter-timeouts-retry", false, false, func(h profiles.Hooks) []hooks.Guard { return []hooks.Guard{h.Timeouts, h.Retry, h.Limiter} }},
		{"limiter-pool-queue", false, true, limOnly},
	}
	var cs []overloadClient
	for _, p := range parts {
		h, err := profiles.NewHooks(cfg)
		if err != nil {
			return nil, err
		}
		*closers = append(*closers, h.Breaker.Close)
		c := overloadClient{name: p.name, c: redis.NewClient(opt)}
		*closers = append(*closers, c.c.Close)
		if p.shed {
			if err := h.Limiter.SetLimits(shed); err != nil {
				return nil, err
			}
			c.backOff = shedBackOff
		}
		if err := hooks.Attach(c.c, p.hs(h)...); err != nil {
			return nil, err
		}
		if p.pastPool {
			// Permits for every goroutine: the callers queue in go-redis's
			// pool, behind the same hooks.
			wide := h.Limiter.Stats().LimiterLimits
			wide.MaxInFlight = pastPoolPermits
			if err := hookx.LimiterPastPool(h.Limiter, wide); err != nil {
				return nil, err
			}
		}
		cs = append(cs, c)
	}
	return cs, nil
}

// shedRows are the rows of a shedding client's run s against bare's b.
func shedRows(name string, b, s *sample, secs float64, note string) []Row {
	return []Row{
		row("overload", name+": goodput", "ops/s", perSec(b, secs), perSec(s, secs), note),
		row("overload", name+": p99 admitted", "ms", ms(b.pct(0.99)), ms(s.pct(0.99)), "target <= 0.50"),
		row("overload", name+": p99 of a refused call", "ms", 0, ms(failedLatencies(s).pct(0.99)),
			fmt.Sprintf("%d calls ended in ErrLimited (a full queue is not retried); target < 1 ms", s.errs["limited"])),
	}
}

// pastPoolPermits are the permits of the overload scenario's Limiter that
// leaves the queueing to go-redis's pool: more than its goroutines.
const pastPoolPermits = 5000

// shedWaiting is the overload scenario's queue bound when it sheds load:
// ten commands waiting per permit.
const shedWaiting = 100

// shedBackOff is how long, on average (see runPaced), a caller the Limiter
// refused pauses before its
// next call: the load is closed (each goroutine calls again when its call
// ends), and a caller that came straight back after a refusal would spin,
// which no client of an API answering 503 does.
const shedBackOff = 100 * time.Millisecond
