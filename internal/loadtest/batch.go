package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redisguard/redisguard/batch"
	"github.com/redisguard/redisguard/profiles"
)

func runBatch(e *env) ([]Row, error) {
	srv, err := e.server()
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	ctx := context.Background()
	const n, chunk = 100000, 50
	values := make([]any, n)
	for i := range values {
		values[i] = "v" + strconv.Itoa(i)
	}
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer closeClient(c)
	g, err := guarded(profiles.Worker(), srv.Addr(), nil)
	if err != nil {
		return nil, err
	}
	defer closeClient(g)

	timeIt := func(key string, f func() error) (float64, error) {
		c.Del(ctx, key)
		t0 := time.Now()
		if err := f(); err != nil {
			return 0, err
		}
		rate := n / time.Since(t0).Seconds()
		if l, err := c.LLen(ctx, key).Result(); err != nil || l != n {
			return 0, fmt.Errorf("%s holds %d values (%v), want %d", key, l, err, n)
		}
		return rate, nil
	}
	loop, err := timeIt("b:loop", func() error {
		for _, v := range values {
			if err := c.RPush(ctx, "b:loop", v).Err(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	pipeOnce := func() (float64, error) {
		return timeIt("b:pipe", func() error {
			return pipeRPush(ctx, c, "b:pipe", values, chunk)
		})
	}
	helperOnce := func() (float64, error) {
		return timeIt("b:helper", func() error {
			res, err := batch.RPush(ctx, g, "b:helper", values, batch.Options{ChunkSize: chunk})
			if err != nil {
				return err
			}
			if len(res.Written) != n {
				return fmt.Errorf("helper wrote %d of %d", len(res.Written), n)
			}
			return nil
		})
	}
	// The pipelined runs take a fraction of a second each: run them in
	// alternating rounds, order flipped every round, and keep the medians.
	const rounds = 5
	pipe, helper, err := alternateMedians(rounds, pipeOnce, helperOnce)
	if err != nil {
		return nil, err
	}
	note := fmt.Sprintf("100,000 RPUSH; bare = plain loop (one run), guarded = batch.RPush (chunks of %d, Worker preset hooks); hand-written pipeline (bare client, one RPUSH per value, chunks of %d): %.0f values/s; pipeline and helper are medians of %d alternating runs", chunk, chunk, pipe, rounds)
	return []Row{
		row("batch", "helper vs loop", "values/s", loop, helper, note),
		row("batch", "helper vs hand-written pipeline", "values/s", pipe, helper, "target: >= 0.90"),
	}, nil
}

// pipeRPush pushes values onto key in pipelines of chunk RPUSHes, one
// per value, as the batch helper sends them (it reports per value), so
// both send the same commands.
func pipeRPush(ctx context.Context, c *redis.Client, key string, values []any, chunk int) error {
	for i := 0; i < len(values); i += chunk {
		p := c.Pipeline()
		for _, v := range values[i:min(i+chunk, len(values))] {
			p.RPush(ctx, key, v)
		}
		if _, err := p.Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// alternateMedians runs a and b rounds times each, alternating, the order
// flipped every round, and returns the median of each one's figures.
func alternateMedians(rounds int, a, b func() (float64, error)) (medA, medB float64, err error) {
	var as, bs []float64
	for r := 0; r < rounds; r++ {
		first, second := a, b
		if r%2 == 1 {
			first, second = b, a
		}
		x, err := first()
		if err != nil {
			return 0, 0, err
		}
		y, err := second()
		if err != nil {
			return 0, 0, err
		}
		if r%2 == 1 {
			x, y = y, x
		}
		as, bs = append(as, x), append(bs, y)
	}
	return median(as), median(bs), nil
}
