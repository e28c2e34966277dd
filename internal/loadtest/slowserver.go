package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
	"github.com/redisguard/redisguard/profiles"
)

// runSlowServer: 500 goroutines SET/GET through a proxy that starts adding
// 20 ms to every reply a third of the way into the run and keeps doing so
// to its end. Bare go-redis, the API preset (fixed limit) and the API
// preset with the adaptive limit (MinInFlight) run in rotating rounds, each
// run a fresh client on a fresh proxy with the same timeline, so that a
// slow stretch of the machine does not land on one client alone.
func runSlowServer(e *env) ([]Row, error) {
	srv, err := e.server()
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	const floor, rounds = 4, 3
	d := e.dur(6 * time.Second)
	api := profiles.API()
	var limit hooks.LimiterStats
	var runErr error
	measure := func(mk func(addr string) (redis.UniversalClient, error), last func(redis.UniversalClient)) func() *sample {
		return func() *sample {
			s, err := slowServerRun(srv.Addr(), d, mk, last)
			if err != nil {
				runErr = err
				return newSample()
			}
			return s
		}
	}
	ss := rotate(rounds, []func() *sample{
		measure(func(addr string) (redis.UniversalClient, error) {
			return redis.NewClient(&redis.Options{Addr: addr, PoolSize: api.PoolSize}), nil
		}, nil),
		measure(func(addr string) (redis.UniversalClient, error) { return guarded(api, addr, nil) }, nil),
		measure(func(addr string) (redis.UniversalClient, error) {
			g, err := guarded(api, addr, nil)
			if err != nil {
				return nil, err
			}
			lim := g.Hooks.Limiter.Stats().LimiterLimits
			lim.MinInFlight = floor
			return g, g.SetLimits(lim)
		}, func(c redis.UniversalClient) { limit = c.(*profiles.Client).Hooks.Limiter.Stats() }),
	})
	if runErr != nil {
		return nil, runErr
	}
	bs, fs, as := ss[0], ss[1], ss[2]

	secs := rounds * d.Seconds()
	note := fmt.Sprintf("%d goroutines SET/GET for %s through a proxy that adds %s to every reply from %s on, %d rotating rounds per client, a caller refused with ErrLimited pausing %s on average; bare = go-redis (pool %d); guarded = API preset (limit %d); adaptive = the same with MinInFlight %d (limit at the end: %d); errors bare %s, guarded %s, adaptive %s",
		slowServerWorkers, d, slowServerLatency, d/3, rounds, shedBackOff, api.PoolSize, limit.MaxInFlight, floor, limit.Limit, bs.errString(), fs.errString(), as.errString())
	limited := func(s *sample) float64 { return float64(s.errs["limited"]) }
	return []Row{
		row("slow-server", "goodput", "ops/s", float64(bs.ops)/secs, float64(fs.ops)/secs, note),
		row("slow-server", "p99 admitted", "ms", ms(bs.pct(0.99)), ms(fs.pct(0.99)), ""),
		row("slow-server", "goodput, adaptive", "ops/s", float64(bs.ops)/secs, float64(as.ops)/secs, ""),
		row("slow-server", "p99 admitted, adaptive", "ms", ms(bs.pct(0.99)), ms(as.pct(0.99)), ""),
		row("slow-server", "adaptive vs fixed: goodput", "ops/s", float64(fs.ops)/secs, float64(as.ops)/secs, "bare = fixed limit, guarded = adaptive; target >= 0.90"),
		row("slow-server", "adaptive vs fixed: p99 admitted", "ms", ms(fs.pct(0.99)), ms(as.pct(0.99)), "bare = fixed limit, guarded = adaptive; target <= 0.50"),
		row("slow-server", "adaptive vs fixed: rejections", "count", limited(fs), limited(as), "ErrLimited returned to callers"),
	}, nil
}

// slowServerRun measures one client, built by mk on a fresh proxy to addr,
// the latency toxic added at d/3; then gives the client to last (if set)
// and closes it.
func slowServerRun(addr string, d time.Duration, mk func(addr string) (redis.UniversalClient, error), last func(redis.UniversalClient)) (*sample, error) {
	px, err := redistest.StartProxy(addr)
	if err != nil {
		return nil, err
	}
	defer px.Close()
	c, err := mk(px.Addr())
	if c != nil {
		defer closeClient(c)
	}
	if err != nil {
		return nil, err
	}
	t := time.AfterFunc(d/3, func() { px.Latency("downstream", slowServerLatency, 0) })
	defer t.Stop()
	// A caller the Limiter refuses pauses as in the overload scenario's
	// shedding rows.
	s := runPaced(context.Background(), slowServerWorkers, d, setGetOp(c, "s"), shedBackOff)
	if last != nil {
		last(c)
	}
	return s, nil
}

// The slow-server load: its callers, and the latency the proxy adds.
const (
	slowServerWorkers = 500
	slowServerLatency = 20 * time.Millisecond
)

// setGetOp is a load of SETs and GETs, each goroutine on a key of its own
// (prefix and its index); a GET of a missing key is a success.
func setGetOp(c redis.UniversalClient, prefix string) func(ctx context.Context, gi, i int) error {
	return func(ctx context.Context, gi, i int) error {
		k := prefix + strconv.Itoa(gi)
		if i%2 == 0 {
			return c.Set(ctx, k, i, 0).Err()
		}
		if err := c.Get(ctx, k).Err(); err != redis.Nil {
			return err
		}
		return nil
	}
}
