package main

import (
	"context"
	"fmt"
	"strconv"
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
	ctx := context.Background()
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
	var closers []func() error
	defer func() {
		for _, c := range closers {
			_ = c()
		}
	}()
	client := func(hs ...hooks.Guard) (redis.UniversalClient, error) {
		c := redis.NewClient(opt)
		closers = append(closers, c.Close)
		return c, hooks.Attach(c, hs...)
	}
	limiter := func(n int) (*hooks.Limiter, error) {
		return hooks.NewLimiter(hooks.LimiterOptions{MaxInFlight: n, MaxBlocking: 1, MaxWait: cfg.SocketTimeout})
	}
	type variant struct {
		name string
		c    redis.UniversalClient
	}
	bare := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: cfg.PoolSize})
	closers = append(closers, bare.Close)
	vs := []variant{{name: "bare"}}
	vs[0].c = bare
	add := func(name string, hs ...hooks.Guard) error {
		c, err := client(hs...)
		vs = append(vs, variant{name, c})
		return err
	}
	l50, err := limiter(cfg.PoolSize)
	if err != nil {
		return nil, err
	}
	l20, err := limiter(20)
	if err != nil {
		return nil, err
	}
	for _, a := range []struct {
		name string
		hs   []hooks.Guard
	}{
		{"API options, no hooks", nil},
		{"Timeouts alone", []hooks.Guard{h.Timeouts}},
		{"Retry and Breaker", []hooks.Guard{h.Retry, h.Breaker}},
		{fmt.Sprintf("Limiter alone (%d in flight)", h.Limiter.Stats().MaxInFlight), []hooks.Guard{h.Limiter}},
		{fmt.Sprintf("Limiter at pool size (%d)", cfg.PoolSize), []hooks.Guard{l50}},
		{"Limiter at 20", []hooks.Guard{l20}},
		{"all four (API preset)", h.List()},
	} {
		if err := add(a.name, a.hs...); err != nil {
			return nil, err
		}
	}
	op := func(c redis.UniversalClient) func(ctx context.Context, gi, i int) error {
		return func(ctx context.Context, gi, i int) error {
			k := "k" + strconv.Itoa(gi)
			if i%2 == 0 {
				return c.Set(ctx, k, i, 0).Err()
			}
			return c.Get(ctx, k).Err()
		}
	}
	ops := make([]int, len(vs))
	for r := 0; r < rounds; r++ {
		for j := range vs {
			k := (j + r) % len(vs)
			ops[k] += runFor(ctx, workers, d, op(vs[k].c)).ops
		}
	}
	secs := float64(rounds) * d.Seconds()
	var rows []Row
	for k := 1; k < len(vs); k++ {
		note := ""
		if k == 1 {
			note = fmt.Sprintf("64 goroutines SET/GET, %d rotating rounds of %s per variant; bare = go-redis defaults with pool %d", rounds, d, cfg.PoolSize)
		}
		rows = append(rows, row("overhead-parts", vs[k].name, "ops/s", float64(ops[0])/secs, float64(ops[k])/secs, note))
	}
	return rows, nil
}
