package main

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/profiles"
)

// runOverheadParts splits the overhead scenario's gap: the same load on the
// bare client, on a client with the API preset's options and no hooks, with
// each of the preset's hooks alone, with all of them, and with the Limiter
// at other sizes. Every variant runs once per round, rounds rotate the
// order.
func runOverheadParts(e *env) ([]Row, error) {
	srv, err := e.server()
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	const workers, rounds = 64, 4
	d := e.dur(time.Second)

	cfg := profiles.API()
	cfg.Addr = srv.Addr()
	opt, err := cfg.ClientOptions()
	if err != nil {
		return nil, err
	}
	h, err := profiles.NewHooks(cfg)
	if err != nil {
		return nil, err
	}
	closers := []func() error{h.Breaker.Close}
	defer func() {
		for _, c := range closers {
			_ = c()
		}
	}()
	type variant struct {
		name string
		c    redis.UniversalClient
	}
	bare := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: cfg.PoolSize})
	closers = append(closers, bare.Close)
	vs := []variant{{"bare", bare}}
	add := func(name string, hs ...hooks.Guard) error {
		c := redis.NewClient(opt)
		closers = append(closers, c.Close)
		vs = append(vs, variant{name, c})
		return hooks.Attach(c, hs...)
	}
	var lims [2]*hooks.Limiter // at the pool's size, at 20
	for i, n := range []int{cfg.PoolSize, 20} {
		if lims[i], err = hooks.NewLimiter(hooks.LimiterOptions{MaxInFlight: n, MaxBlocking: 1, MaxWait: cfg.SocketTimeout}); err != nil {
			return nil, err
		}
	}
	for _, a := range []struct {
		name string
		hs   []hooks.Guard
	}{
		{"API options, no hooks", nil},
		{"Timeouts alone", []hooks.Guard{h.Timeouts}},
		{"Retry and Breaker", []hooks.Guard{h.Retry, h.Breaker}},
		{fmt.Sprintf("Limiter alone (%d in flight)", h.Limiter.Stats().MaxInFlight), []hooks.Guard{h.Limiter}},
		{fmt.Sprintf("Limiter at pool size (%d)", cfg.PoolSize), []hooks.Guard{lims[0]}},
		{"Limiter at 20", []hooks.Guard{lims[1]}},
		{"all four (API preset)", h.List()},
	} {
		if err := add(a.name, a.hs...); err != nil {
			return nil, err
		}
	}
	cs := make([]redis.UniversalClient, len(vs))
	for k, v := range vs {
		cs[k] = v.c
	}
	ss := rotatingRounds(cs, rounds, workers, d, func(c redis.UniversalClient) func(ctx context.Context, gi, i int) error {
		return setGetOp(c, "k")
	})
	secs := float64(rounds) * d.Seconds()
	var rows []Row
	for k := 1; k < len(vs); k++ {
		note := ""
		if k == 1 {
			note = fmt.Sprintf("64 goroutines SET/GET, %d rotating rounds of %s per variant; bare = go-redis defaults with pool %d", rounds, d, cfg.PoolSize)
		}
		rows = append(rows, row("overhead-parts", vs[k].name, "ops/s", float64(ss[0].ops)/secs, float64(ss[k].ops)/secs, note))
	}
	return rows, nil
}
