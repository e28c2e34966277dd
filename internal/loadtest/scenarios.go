package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
	"github.com/redisguard/redisguard/profiles"
)

// guarded builds a client from a preset pointed at addr, with changes.
func guarded(preset profiles.Config, addr string, change func(*profiles.Config)) (*profiles.Client, error) {
	cfg := preset
	cfg.Addr = addr
	if change != nil {
		change(&cfg)
	}
	return profiles.NewClient(cfg)
}

// closeClient closes a client a scenario is done with. Its figures are taken
// by then, so an error closing it changes nothing.
func closeClient(c io.Closer) { _ = c.Close() }

// ---------------------------------------------------------------- overhead

func runOverhead(e *env) ([]Row, error) {
	srv, err := e.server()
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	ctx := context.Background()
	const workers, rounds = 64, 6
	d := e.dur(1500 * time.Millisecond)

	bare := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: 50})
	defer closeClient(bare)
	g, err := guarded(profiles.API(), srv.Addr(), nil)
	if err != nil {
		return nil, err
	}
	defer closeClient(g)

	op := func(c redis.UniversalClient) func(ctx context.Context, gi, i int) error {
		return func(ctx context.Context, gi, i int) error {
			k := "k" + strconv.Itoa(gi)
			if i%2 == 0 {
				return c.Set(ctx, k, i, 0).Err()
			}
			return c.Get(ctx, k).Err()
		}
	}
	// Short alternating rounds, the order flipped every round, so a drift
	// in the machine's speed (a shared 2-core VM drifts by 20% over
	// seconds) falls on both sides alike.
	var bs, gs []*sample
	for round := 0; round < rounds; round++ {
		if round%2 == 0 {
			bs = append(bs, runFor(ctx, workers, d, op(bare)))
			gs = append(gs, runFor(ctx, workers, d, op(g)))
		} else {
			gs = append(gs, runFor(ctx, workers, d, op(g)))
			bs = append(bs, runFor(ctx, workers, d, op(bare)))
		}
	}
	b, gd := mergeSamples(bs), mergeSamples(gs)
	secs := rounds * d.Seconds()
	note := fmt.Sprintf("64 goroutines SET/GET, %d alternating rounds of %s each; guarded = API preset; errors bare %s, guarded %s", rounds, d, b.errString(), gd.errString())
	return []Row{
		row("overhead", "throughput", "ops/s", float64(b.ops)/secs, float64(gd.ops)/secs, note),
		row("overhead", "p50", "ms", ms(b.pct(0.50)), ms(gd.pct(0.50)), ""),
		row("overhead", "p99", "ms", ms(b.pct(0.99)), ms(gd.pct(0.99)), ""),
	}, nil
}

func mergeSamples(ss []*sample) *sample {
	out := newSample()
	for _, s := range ss {
		out.merge(&recorder{lat: s.lat, failLat: s.failLat, errs: s.errs})
	}
	return out
}

// -------------------------------------------------------------- starvation

func runStarvation(e *env) ([]Row, error) {
	srv, err := e.server()
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	ctx := context.Background()
	const pool, blockers, setters = 20, 40, 32
	d := e.dur(6 * time.Second)

	setOp := func(c redis.UniversalClient) func(ctx context.Context, gi, i int) error {
		return func(ctx context.Context, gi, i int) error {
			return c.Set(ctx, "s"+strconv.Itoa(gi), i, 0).Err()
		}
	}
	// Unloaded: the same SET load with no BLPOP, for the baseline.
	unloadedClient := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: pool})
	unloaded := runFor(ctx, setters, e.dur(3*time.Second), setOp(unloadedClient))
	closeClient(unloadedClient)
	unloadedTput := float64(unloaded.ops) / e.dur(3*time.Second).Seconds()

	measure := func(c redis.UniversalClient) (*sample, int64) {
		return starveLoad(ctx, c, blockers, setters, d, setOp(c))
	}

	bare := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: pool})
	bs, _ := measure(bare)
	closeClient(bare)

	g, err := guarded(profiles.Worker(), srv.Addr(), func(c *profiles.Config) {
		c.PoolSize, c.MaxConcurrentOps, c.MaxBlocking = pool, pool, pool/2
	})
	if err != nil {
		return nil, err
	}
	gs, gBlpopErrs := measure(g)
	closeClient(g)

	// The same with a smaller blocking budget, to show what the split
	// between blocking and short commands costs.
	const smallBlocking = 4
	g4, err := guarded(profiles.Worker(), srv.Addr(), func(c *profiles.Config) {
		c.PoolSize, c.MaxConcurrentOps, c.MaxBlocking = pool, pool, smallBlocking
	})
	if err != nil {
		return nil, err
	}
	gs4, _ := measure(g4)
	closeClient(g4)

	secs := d.Seconds()
	note := fmt.Sprintf("pool %d, %d goroutines in BLPOP 2s, %d goroutines SET for %s; guarded = Worker preset with pool %d, limiter %d, blocking budget %d; unloaded SET throughput %.0f ops/s; SET errors bare %s, guarded %s; guarded BLPOP errors (limiter) %d",
		pool, blockers, setters, d, pool, pool, pool/2, unloadedTput, bs.errString(), gs.errString(), gBlpopErrs)
	r := []Row{
		row("starvation", "SET throughput", "ops/s", float64(bs.ops)/secs, float64(gs.ops)/secs, note),
		row("starvation", "SET p50", "ms", ms(bs.pct(0.5)), ms(gs.pct(0.5)), ""),
		row("starvation", "SET p99", "ms", ms(bs.pct(0.99)), ms(gs.pct(0.99)), ""),
		row("starvation", "SET errors", "count", float64(bs.errors()), float64(gs.errors()), ""),
		row("starvation", "SET throughput vs unloaded", "fraction", float64(bs.ops)/secs/unloadedTput, float64(gs.ops)/secs/unloadedTput, "target: guarded >= 0.90"),
		row("starvation", fmt.Sprintf("same, blocking budget %d", smallBlocking), "fraction", float64(bs.ops)/secs/unloadedTput, float64(gs4.ops)/secs/unloadedTput,
			fmt.Sprintf("guarded with %d of %d slots for BLPOP: SET p99 %.2f ms, errors %s", smallBlocking, pool, ms(gs4.pct(0.99)), gs4.errString())),
	}
	return r, nil
}

// starveLoad runs set from setters goroutines for d while blockers
// goroutines loop on BLPOP of an empty list; it returns the SETs' sample
// and the BLPOPs' errors.
func starveLoad(ctx context.Context, c redis.UniversalClient, blockers, setters int, d time.Duration, set func(ctx context.Context, gi, i int) error) (*sample, int64) {
	bctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var blpopErrs atomic.Int64
	for i := 0; i < blockers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for bctx.Err() == nil {
				err := c.BLPop(bctx, 2*time.Second, "starve:empty").Err()
				if err != nil && !errors.Is(err, redis.Nil) && bctx.Err() == nil {
					blpopErrs.Add(1)
					time.Sleep(10 * time.Millisecond)
				}
			}
		}()
	}
	time.Sleep(200 * time.Millisecond) // let the consumers take their places
	s := runFor(ctx, setters, d, set)
	cancel()
	wg.Wait()
	return s, blpopErrs.Load()
}

// ------------------------------------------------------------------- batch

// ------------------------------------------------------------ autopipeline

func runAutopipeline(e *env) ([]Row, error) {
	srv, err := e.server()
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	ctx := context.Background()
	const workers, rounds = 64, 4
	d := e.dur(1500 * time.Millisecond)

	bare := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: 50})
	defer closeClient(bare)
	bap, err := bare.AutoPipeline()
	if err != nil {
		return nil, err
	}
	g, err := guarded(profiles.API(), srv.Addr(), nil)
	if err != nil {
		return nil, err
	}
	defer closeClient(g)
	gap, err := g.AutoPipeline()
	if err != nil {
		return nil, err
	}
	set := func(c redis.Cmdable) func(ctx context.Context, gi, i int) error {
		return func(ctx context.Context, gi, i int) error {
			return c.Set(ctx, "ap"+strconv.Itoa(gi), i, 0).Err()
		}
	}
	// Alternating rounds, the order flipped every round, as in overhead.
	var bss, gss []*sample
	for round := 0; round < rounds; round++ {
		if round%2 == 0 {
			bss = append(bss, runFor(ctx, workers, d, set(bap)))
			gss = append(gss, runFor(ctx, workers, d, set(gap)))
		} else {
			gss = append(gss, runFor(ctx, workers, d, set(gap)))
			bss = append(bss, runFor(ctx, workers, d, set(bap)))
		}
	}
	bs, gs := mergeSamples(bss), mergeSamples(gss)
	plain := runFor(ctx, workers, d, set(g))
	secs := rounds * d.Seconds()
	note := fmt.Sprintf("64 goroutines SET through AutoPipeline(), %d alternating rounds of %s each; guarded = API preset hooks; the plain guarded client (no autopipeline) did %.0f ops/s in one round; errors bare %s, guarded %s",
		rounds, d, float64(plain.ops)/d.Seconds(), bs.errString(), gs.errString())
	return []Row{
		row("autopipeline", "throughput", "ops/s", float64(bs.ops)/secs, float64(gs.ops)/secs, note+"; target: >= 0.90"),
		row("autopipeline", "p99", "ms", ms(bs.pct(0.99)), ms(gs.pct(0.99)), ""),
	}, nil
}

// ---------------------------------------------------------------- failfast

func runFailfast(e *env) ([]Row, error) {
	srv, err := e.server()
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	px, err := redistest.StartProxy(srv.Addr())
	if err != nil {
		return nil, err
	}
	defer px.Close()
	ctx := context.Background()
	const socket = 500 * time.Millisecond

	bare := redis.NewClient(&redis.Options{Addr: px.Addr(), ReadTimeout: socket, WriteTimeout: socket})
	defer closeClient(bare)
	g, err := guarded(profiles.API(), px.Addr(), func(c *profiles.Config) { c.SocketTimeout = socket })
	if err != nil {
		return nil, err
	}
	defer closeClient(g)
	for _, c := range []redis.UniversalClient{bare, g} {
		if err := c.Ping(ctx).Err(); err != nil {
			return nil, err
		}
	}

	px.Blackhole("downstream")
	// Bare: every call waits out its read timeout (and go-redis's retries).
	bs := runFor(ctx, 8, e.dur(3*time.Second), func(ctx context.Context, gi, i int) error {
		return bare.Get(ctx, "ff").Err()
	})
	// Guarded: trip the breaker, then measure calls while it is open.
	tripped := false
	for i := 0; i < 200 && !tripped; i++ {
		err := g.Get(ctx, "ff").Err()
		tripped = errors.Is(err, hooks.ErrCircuitOpen)
	}
	if !tripped {
		return nil, errors.New("guarded breaker did not open against a blackholed server")
	}
	gs := runFor(ctx, 8, e.dur(time.Second), func(ctx context.Context, gi, i int) error {
		return g.Get(ctx, "ff").Err()
	})
	bLat, gLat := failedLatencies(bs), failedLatencies(gs)

	// Recovery: remove the toxic and time the first success of each.
	px.RemoveToxics()
	t0 := time.Now()
	recover := func(c redis.UniversalClient) time.Duration {
		for time.Since(t0) < 30*time.Second {
			if c.Get(ctx, "ff").Err() == redis.Nil {
				return time.Since(t0)
			}
			time.Sleep(5 * time.Millisecond)
		}
		return -1
	}
	var bRec, gRec time.Duration
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); bRec = recover(bare) }()
	go func() { defer wg.Done(); gRec = recover(g) }()
	wg.Wait()

	note := fmt.Sprintf("proxy blackholes replies; socket timeout %s; guarded = API preset (breaker); calls: bare %d failed, guarded %d failed (%s)",
		socket, bLat.ops, gLat.ops, gs.errString())
	return []Row{
		row("failfast", "failed call p50", "µs", us(bLat.pct(0.5)), us(gLat.pct(0.5)), note),
		row("failfast", "failed call p99", "µs", us(bLat.pct(0.99)), us(gLat.pct(0.99)), "target: guarded < 100 µs once open"),
		row("failfast", "first success after recovery", "ms", ms(bRec), ms(gRec), "guarded: the breaker's probes close the circuit once the node answers; target: guarded < 250 ms"),
	}, nil
}

// failedLatencies is a sample of how long the failed calls took: in this
// scenario every call fails, and how fast it fails is the figure.
func failedLatencies(s *sample) *sample {
	out := newSample()
	out.lat = append(out.lat, s.failLat...)
	out.ops = len(out.lat)
	return out
}

// ----------------------------------------------------------------- restart

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
