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

// runDeadlineCtx compares, in one run, the API preset with Timeouts'
// pooled deadline context ("bare" column) and with context.WithTimeout
// (TimeoutOptions.StdContext, "guarded" column) under the loads of the
// overhead, overload and autopipeline scenarios, in alternating rounds with
// the order flipped every round.
func runDeadlineCtx(e *env) ([]Row, error) {
	srv, err := e.server()
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	ctx := context.Background()
	const rounds = 6
	d := e.dur(1500 * time.Millisecond)

	var rows []Row
	for _, l := range deadlineLoads() {
		cfg := profiles.API()
		cfg.Addr = srv.Addr()
		if l.pool > 0 {
			cfg.PoolSize, cfg.MaxConcurrentOps, cfg.MaxBlocking = l.pool, l.pool, l.pool/2
		}
		var cs [2]redis.Cmdable
		for i, std := range []bool{false, true} {
			c, closeAll, err := deadlineClient(cfg, std)
			if err != nil {
				return nil, err
			}
			defer closeAll()
			cs[i] = c
			if l.auto {
				ap, err := c.AutoPipeline()
				if err != nil {
					return nil, err
				}
				cs[i] = ap
			}
		}
		var ps, ss []*sample
		for round := 0; round < rounds; round++ {
			if round%2 == 0 {
				ps = append(ps, runFor(ctx, l.workers, d, l.op(cs[0])))
				ss = append(ss, runFor(ctx, l.workers, d, l.op(cs[1])))
			} else {
				ss = append(ss, runFor(ctx, l.workers, d, l.op(cs[1])))
				ps = append(ps, runFor(ctx, l.workers, d, l.op(cs[0])))
			}
		}
		p, s := mergeSamples(ps), mergeSamples(ss)
		secs := rounds * d.Seconds()
		note := fmt.Sprintf("%d goroutines, %d alternating rounds of %s; bare = API preset, pooled deadline context; guarded = the same with context.WithTimeout; errors pooled %s, std %s",
			l.workers, rounds, d, p.errString(), s.errString())
		rows = append(rows,
			row("deadlinectx "+l.name, "throughput", "ops/s", float64(p.ops)/secs, float64(s.ops)/secs, note),
			row("deadlinectx "+l.name, "p99", "ms", ms(p.pct(0.99)), ms(s.pct(0.99)), ""))
	}
	return rows, nil
}

// deadlineClient is a client with cfg's preset hooks, its Timeouts on
// context.WithTimeout when std is set, and a function that closes the
// client and its Breaker.
func deadlineClient(cfg profiles.Config, std bool) (*redis.Client, func(), error) {
	opt, err := cfg.ClientOptions()
	if err != nil {
		return nil, nil, err
	}
	h, err := profiles.NewHooks(cfg)
	if err != nil {
		return nil, nil, err
	}
	closeAll := func() { _ = h.Breaker.Close() }
	if std {
		d := cfg.Retry.Deadline // the API preset leaves it 0: the hooks' own deadlines
		to := hooks.TimeoutOptions{BlockingCap: cfg.BlockingTimeout, Read: d, Write: d, Default: d, StdContext: true}
		if h.Timeouts, err = hooks.NewTimeouts(to); err != nil {
			closeAll()
			return nil, nil, err
		}
	}
	c := redis.NewClient(opt)
	if err := hooks.Attach(c, h.List()...); err != nil {
		_ = c.Close()
		closeAll()
		return nil, nil, err
	}
	return c, func() { closeClient(c); closeAll() }, nil
}

// deadlineLoad is one load of runDeadlineCtx: the overhead, overload or
// autopipeline scenario's.
type deadlineLoad struct {
	name    string
	workers int
	pool    int
	auto    bool
	op      func(c redis.Cmdable) func(ctx context.Context, gi, i int) error
}

func deadlineLoads() []deadlineLoad {
	return []deadlineLoad{
		{"overhead", 64, 0, false, func(c redis.Cmdable) func(ctx context.Context, gi, i int) error {
			return func(ctx context.Context, gi, i int) error {
				k := "k" + strconv.Itoa(gi)
				if i%2 == 0 {
					return c.Set(ctx, k, i, 0).Err()
				}
				return c.Get(ctx, k).Err()
			}
		}},
		{"overload", 2000, 10, false, func(c redis.Cmdable) func(ctx context.Context, gi, i int) error {
			return func(ctx context.Context, gi, i int) error {
				return c.Set(ctx, "o"+strconv.Itoa(gi%100), i, 0).Err()
			}
		}},
		{"autopipeline", 64, 0, true, func(c redis.Cmdable) func(ctx context.Context, gi, i int) error {
			return func(ctx context.Context, gi, i int) error {
				return c.Set(ctx, "ap"+strconv.Itoa(gi), i, 0).Err()
			}
		}},
	}
}
