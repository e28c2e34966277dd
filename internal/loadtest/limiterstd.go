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

// chanLimiter is the standard library's way to bound commands in flight: a
// buffered channel as a semaphore, a wait bounded by a timer and the
// context. It is the baseline the Limiter's hand-built queue must beat by
// at least 2% in the limiter-std scenario to keep its place. It knows no
// blocking budget, no shedding and no run-time limits, so it only
// underestimates the standard version's cost.
type chanLimiter struct {
	sem     chan struct{}
	maxWait time.Duration
}

var errChanLimited = fmt.Errorf("loadtest: channel limiter: %w", hooks.ErrLimited)

func (l *chanLimiter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (l *chanLimiter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if err := l.acquire(ctx); err != nil {
			return err
		}
		defer func() { <-l.sem }()
		return next(ctx, cmd)
	}
}

func (l *chanLimiter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if err := l.acquire(ctx); err != nil {
			return err
		}
		defer func() { <-l.sem }()
		return next(ctx, cmds)
	}
}

func (l *chanLimiter) acquire(ctx context.Context) error {
	select {
	case l.sem <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(l.maxWait)
	defer t.Stop()
	select {
	case l.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errChanLimited
	}
}

// runLimiterStd compares the Limiter with chanLimiter, each alone and in
// the API preset's chain (in the Limiter's place), under the overload
// scenario's load (pool 10, limit 10, 2,000 goroutines SET) and the
// overhead scenario's (pool 50, limit 40, 64 goroutines SET/GET), in
// rotating rounds.
func runLimiterStd(e *env) ([]Row, error) {
	srv, err := e.server()
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	var rows []Row
	for _, load := range []struct {
		name          string
		pool, workers int
		limit, rounds int
		setGet        bool
		roundDur      time.Duration
	}{
		{"overload", 10, 2000, 10, 4, false, 1500 * time.Millisecond},
		{"overhead", 50, 64, 40, 4, true, time.Second},
	} {
		rs, err := limiterStdLoad(e, srv.Addr(), load.name, load.pool, load.workers, load.limit, load.rounds, load.setGet, e.dur(load.roundDur))
		if err != nil {
			return nil, err
		}
		rows = append(rows, rs...)
	}
	return rows, nil
}

func limiterStdLoad(e *env, addr, name string, pool, workers, limit, rounds int, setGet bool, d time.Duration) ([]Row, error) {
	cfg := profiles.API()
	cfg.Addr = addr
	cfg.PoolSize, cfg.MaxConcurrentOps, cfg.MaxBlocking = pool, limit, max(limit/4, 1)
	opt, err := cfg.ClientOptions()
	if err != nil {
		return nil, err
	}
	var clients []redis.UniversalClient
	defer func() {
		for _, c := range clients {
			closeClient(c)
		}
	}()
	mk := func(chain, std, newTimer bool) (redis.UniversalClient, error) {
		h, err := profiles.NewHooks(cfg)
		if err != nil {
			return nil, err
		}
		if newTimer {
			hookx.LimiterNewTimerPerWait(h.Limiter)
		}
		c := redis.NewClient(opt)
		clients = append(clients, c)
		var hs []hooks.Guard
		if chain {
			hs = []hooks.Guard{h.Timeouts, h.Retry, h.Breaker}
		}
		if !std {
			return c, hooks.Attach(c, append(hs, h.Limiter)...)
		}
		if chain {
			if err := hooks.Attach(c, hs...); err != nil {
				return nil, err
			}
		}
		// Added after Attach's hooks, so innermost: the Limiter's place.
		c.AddHook(&chanLimiter{sem: make(chan struct{}, limit), maxWait: h.Limiter.Stats().MaxWait})
		return c, nil
	}
	var vs []redis.UniversalClient
	for _, v := range []struct{ chain, std, newTimer bool }{
		{false, false, false}, {false, true, false}, {true, false, false}, {true, true, false}, {true, false, true},
	} {
		c, err := mk(v.chain, v.std, v.newTimer)
		if err != nil {
			return nil, err
		}
		vs = append(vs, c)
	}
	op := func(c redis.UniversalClient) func(ctx context.Context, gi, i int) error {
		if setGet {
			return setGetOp(c, "l")
		}
		return func(ctx context.Context, gi, i int) error { return c.Set(ctx, "l"+strconv.Itoa(gi%100), i, 0).Err() }
	}
	ss := rotatingRounds(vs, rounds, workers, d, op)
	secs := float64(rounds) * d.Seconds()
	note := fmt.Sprintf("%s load: pool %d, limit %d, %d goroutines, %d rotating rounds of %s per variant; bare = channel semaphore, guarded = the Limiter; errors: %s / %s / %s / %s / %s",
		name, pool, limit, workers, rounds, d, ss[0].errString(), ss[1].errString(), ss[2].errString(), ss[3].errString(), ss[4].errString())
	return []Row{
		row("limiter-std", name+": alone, throughput", "ops/s", float64(ss[1].ops)/secs, float64(ss[0].ops)/secs, note),
		row("limiter-std", name+": alone, p99", "ms", ms(ss[1].pct(0.99)), ms(ss[0].pct(0.99)), ""),
		row("limiter-std", name+": API chain, throughput", "ops/s", float64(ss[3].ops)/secs, float64(ss[2].ops)/secs, ""),
		row("limiter-std", name+": API chain, p99", "ms", ms(ss[3].pct(0.99)), ms(ss[2].pct(0.99)), ""),
		row("limiter-std", name+": expiry timer, throughput", "ops/s", float64(ss[4].ops)/secs, float64(ss[2].ops)/secs,
			"the API chain; bare = the Limiter with a new timer per wait, guarded = with one expiry timer per node"),
		row("limiter-std", name+": expiry timer, p99", "ms", ms(ss[4].pct(0.99)), ms(ss[2].pct(0.99)), ""),
	}, nil
}

// rotatingRounds runs op on each client for d per round, rotating the
// order every round, and returns each client's samples merged.
func rotatingRounds(cs []redis.UniversalClient, rounds, workers int, d time.Duration,
	op func(redis.UniversalClient) func(ctx context.Context, gi, i int) error,
) []*sample {
	runs := make([]func() *sample, len(cs))
	for i, c := range cs {
		runs[i] = func() *sample { return runFor(context.Background(), workers, d, op(c)) }
	}
	return rotate(rounds, runs)
}

// rotate calls each of runs once per round, rotating the order every
// round, so that a drift in the machine's speed falls on all alike, and
// returns each one's samples merged.
func rotate(rounds int, runs []func() *sample) []*sample {
	ss := make([][]*sample, len(runs))
	for r := range rounds {
		for j := range runs {
			k := (j + r) % len(runs)
			ss[k] = append(ss[k], runs[k]())
		}
	}
	out := make([]*sample, len(runs))
	for k := range ss {
		out[k] = mergeSamples(ss[k])
	}
	return out
}
