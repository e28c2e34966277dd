// Command starvation shows the problem redisguard solves and the cure, side
// by side: the same load on a bare go-redis client and on a guarded one.
// The load is 20 goroutines looping on BLPOP (1 s timeout, empty list) and
// 32 goroutines looping on SET, on a pool of 20 connections. On the bare
// client the BLPOPs hold every connection and the SETs wait for one; on the
// guarded client the limiter lets blocking commands hold only their budget,
// so the SETs keep their connections.
//
//	go run ./examples/starvation            # 3 s per client
//	go run ./examples/starvation -duration 10s
//
// With REDIS_URL unset it uses an embedded in-process Redis and says so on
// its first line. The figures it prints are measured on the machine it runs
// on; they are not a benchmark of Redis.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/examples/internal/exampleredis"
	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/profiles"
)

const (
	poolSize = 20
	blockers = 20
	setters  = 32
	block    = time.Second
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("starvation", flag.ContinueOnError)
	fs.SetOutput(stderr)
	duration := fs.Duration("duration", 3*time.Second, "how long each client is loaded")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *duration <= 0 {
		fmt.Fprintln(stderr, "starvation: -duration must be positive")
		return 2
	}

	target, err := exampleredis.Open()
	if err != nil {
		fmt.Fprintln(stderr, "starvation:", err)
		return 1
	}
	defer target.Close()
	fmt.Fprintln(stdout, target.Line())
	fmt.Fprintf(stdout, "pool of %d; %d goroutines loop on BLPOP %s of an empty list, %d goroutines loop on SET; %s per client\n\n",
		poolSize, blockers, block, setters, *duration)

	// The bare client: go-redis defaults, the same pool.
	opt, err := target.ClientOptions()
	if err != nil {
		fmt.Fprintln(stderr, "starvation:", err)
		return 1
	}
	opt.PoolSize = poolSize
	bare := redis.NewClient(opt)
	bareRes := load(bare, *duration)
	_ = bare.Close()

	// The guarded client: the API preset sized for the same pool.
	cfg, err := target.Config(profiles.API())
	if err != nil {
		fmt.Fprintln(stderr, "starvation:", err)
		return 1
	}
	cfg.PoolSize = poolSize
	cfg.MaxConcurrentOps = 16 // below the pool size
	cfg.MaxBlocking = 4       // 12 slots always stay for short commands
	guarded, err := profiles.NewClient(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "starvation:", err)
		return 1
	}
	guardedRes := load(guarded, *duration)
	lim := guarded.Hooks.Limiter.Stats()
	_ = guarded.Close()

	if err := report(stdout, bareRes, guardedRes, lim); err != nil {
		fmt.Fprintln(stderr, "starvation:", err)
		return 1
	}
	if guardedRes.sets == 0 {
		fmt.Fprintln(stdout, "FAIL: no SET completed on the guarded client")
		return 1
	}
	return 0
}

// report prints both clients' figures side by side, and the guarded
// client's limiter figures.
func report(stdout io.Writer, bareRes, guardedRes figures, lim hooks.LimiterStats) error {
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "client\tSET ops/s\tSET p50\tSET p99\tSET errors\tBLPOPs answered")
	for _, r := range []struct {
		name string
		res  figures
	}{{"bare go-redis", bareRes}, {"redisguard", guardedRes}} {
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%d\t%d\n", r.name, r.res.opsPerSec, round(r.res.p50), round(r.res.p99),
			r.res.errors, r.res.blpops)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nguarded limiter: %d of %d slots for blocking commands; the BLPOPs beyond them waited for a permit (longest wait %s), %d commands rejected\n",
		lim.MaxBlocking, lim.MaxInFlight, round(lim.MaxWaitSeen), lim.Rejected)
	for _, e := range []struct {
		name string
		res  figures
	}{{"bare", bareRes}, {"guarded", guardedRes}} {
		if e.res.firstErr != nil {
			fmt.Fprintf(stdout, "%s: first SET error: %v\n", e.name, e.res.firstErr)
		}
	}
	return nil
}

// figures are one client's results: ops/s counts the SETs that completed
// within the duration; the latencies are those of every SET sent, the ones
// still waiting at the end included (measured until they complete).
type figures struct {
	sets, blpops, errors int
	opsPerSec            float64
	p50, p99             time.Duration
	firstErr             error
}

// load runs the BLPOP and SET loops on c for d, then stops them and waits.
func load(c redis.UniversalClient, d time.Duration) figures {
	ctx, cancel := context.WithCancel(context.Background())
	var (
		wg       sync.WaitGroup
		blpops   atomic.Int64
		inTime   atomic.Int64 // SETs completed before the end
		stopped  atomic.Bool
		mu       sync.Mutex
		lats     []time.Duration
		errs     int
		firstErr error
	)
	for range blockers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := c.BLPop(ctx, block, "starvation:empty").Err(); err == nil || errors.Is(err, redis.Nil) {
					blpops.Add(1)
				}
			}
		}()
	}
	start := time.Now()
	for i := range setters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			var myErrs int
			var myFirst error
			key := fmt.Sprintf("starvation:key:%d", i)
			for !stopped.Load() {
				// Not cancelled at the end: a SET that waits is measured
				// until it completes.
				t0 := time.Now()
				err := c.Set(context.Background(), key, "v", 0).Err()
				if !stopped.Load() {
					inTime.Add(1)
				}
				if err != nil {
					myErrs++
					if myFirst == nil {
						myFirst = err
					}
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lats = append(lats, mine...)
			errs += myErrs
			if firstErr == nil {
				firstErr = myFirst
			}
			mu.Unlock()
		}()
	}
	time.Sleep(d)
	stopped.Store(true)
	elapsed := time.Since(start)
	cancel() // the BLPOPs
	wg.Wait()

	f := figures{sets: len(lats), blpops: int(blpops.Load()), errors: errs, firstErr: firstErr}
	f.opsPerSec = float64(inTime.Load()) / elapsed.Seconds()
	if len(lats) > 0 {
		slices.Sort(lats)
		f.p50 = lats[len(lats)/2]
		f.p99 = lats[min(len(lats)-1, len(lats)*99/100)]
	}
	return f
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}
