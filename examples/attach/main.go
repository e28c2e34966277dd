// Command attach shows redisguard added to a go-redis client an application
// already has, with one call (profiles.Apply), and what it changes: with a
// pool of 10 and 10 goroutines blocked in BLPOP, a GET on the bare client
// waits until a BLPOP gives its connection back; once the hooks are
// attached, the BLPOPs may hold only the limiter's blocking budget and the
// GET goes through at once.
//
//	go run ./examples/attach
//
// With REDIS_URL unset it uses an embedded in-process Redis and says so on
// its first line. It exits 1 if the guarded GET had to wait for a BLPOP.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
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
	poolSize = 10
	blockers = 10              // goroutines in BLPOP, as many as the pool has connections
	block    = 2 * time.Second // each BLPOP's timeout
	list     = "attach:empty-list"
	key      = "attach:key"
)

func main() {
	os.Exit(run(os.Stdout, os.Stderr))
}

func run(stdout, stderr io.Writer) int {
	target, err := exampleredis.Open()
	if err != nil {
		fmt.Fprintln(stderr, "attach:", err)
		return 1
	}
	defer target.Close()
	fmt.Fprintln(stdout, target.Line())

	opt, err := target.ClientOptions()
	if err != nil {
		fmt.Fprintln(stderr, "attach:", err)
		return 1
	}
	// The client the application already has. Two settings matter to the
	// hooks (see profiles.Apply): go-redis's own retries off, since the
	// Retry hook decides per command, and context deadlines reaching the
	// socket, since the Timeouts hook works through them.
	opt.PoolSize = poolSize
	opt.MaxRetries = -1
	opt.ContextTimeoutEnabled = true
	rdb := redis.NewClient(opt)

	ctx := context.Background()
	if err := rdb.Set(ctx, key, "hello", 0).Err(); err != nil {
		_ = rdb.Close()
		fmt.Fprintln(stderr, "attach: cannot reach Redis:", err)
		return 1
	}
	fmt.Fprintf(stdout, "a client with a pool of %d; %d goroutines wait in BLPOP %s on an empty list; then one GET\n\n",
		poolSize, blockers, block)

	bare, err := phase(ctx, rdb, nil)
	if err != nil {
		_ = rdb.Close()
		fmt.Fprintln(stderr, "attach: bare client:", err)
		return 1
	}

	// The one call: the API preset's hooks, sized for this pool.
	cfg := profiles.API()
	cfg.PoolSize = poolSize
	cfg.MaxConcurrentOps = 8 // commands in flight, below the pool size
	cfg.MaxBlocking = 4      // of which blocking ones: 4 slots always stay for short commands
	hs, err := profiles.Apply(rdb, cfg)
	if err != nil {
		_ = rdb.Close()
		fmt.Fprintln(stderr, "attach:", err)
		return 1
	}

	guarded, err := phase(ctx, rdb, hs.Limiter)
	_ = rdb.Close() // done with the client either way
	_ = hs.Breaker.Close()
	if err != nil {
		fmt.Fprintln(stderr, "attach: guarded client:", err)
		return 1
	}

	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "client\tGET took\tBLPOPs returned before the GET answered")
	fmt.Fprintf(tw, "bare go-redis\t%s\t%d of %d: the GET waited for one of their connections\n",
		round(bare.get), bare.returnedBefore, blockers)
	fmt.Fprintf(tw, "after profiles.Apply\t%s\t%d of %d: %d BLPOPs held the blocking budget, %d waited in the limiter, not in the pool\n",
		round(guarded.get), guarded.returnedBefore, blockers, guarded.stats.InFlightBlocking, guarded.stats.Waiting)
	if err := tw.Flush(); err != nil {
		fmt.Fprintln(stderr, "attach:", err)
		return 1
	}

	if guarded.returnedBefore > 0 {
		fmt.Fprintln(stdout, "\nFAIL: the guarded GET waited for a BLPOP")
		return 1
	}
	fmt.Fprintln(stdout, "\nOK: with the hooks attached, blocked BLPOPs no longer stall the GET")
	return 0
}

type result struct {
	get            time.Duration
	returnedBefore int32
	stats          hooks.LimiterStats // when guarded: the limiter just before the GET
}

// phase starts the BLPOPs, waits until they hold what they can (every pool
// connection on the bare client; the blocking budget on the guarded one),
// times one GET, then releases the BLPOPs and waits for them.
func phase(ctx context.Context, rdb *redis.Client, lim *hooks.Limiter) (result, error) {
	var (
		res      result
		returned atomic.Int32
		wg       sync.WaitGroup
	)
	if err := rdb.Del(ctx, list).Err(); err != nil {
		return res, err
	}
	for range blockers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = rdb.BLPop(ctx, block, list).Err() // a value, or redis.Nil after the timeout
			returned.Add(1)
		}()
	}
	ready := func() bool {
		if lim != nil {
			st := lim.Stats()
			return st.InFlightBlocking == int64(st.MaxBlocking) && st.Waiting == int64(blockers-st.MaxBlocking)
		}
		ps := rdb.PoolStats()
		return ps.TotalConns == poolSize && ps.IdleConns == 0
	}
	for deadline := time.Now().Add(block / 2); !ready(); {
		if time.Now().After(deadline) {
			wg.Wait()
			return res, errors.New("the BLPOPs did not start in time")
		}
		time.Sleep(time.Millisecond)
	}
	if lim != nil {
		res.stats = lim.Stats()
	}

	start := time.Now()
	err := rdb.Get(ctx, key).Err()
	res.get = time.Since(start)
	res.returnedBefore = returned.Load()

	// Release the BLPOPs still waiting, and clean up.
	vals := make([]any, blockers)
	for i := range vals {
		vals[i] = i
	}
	perr := rdb.RPush(ctx, list, vals...).Err()
	wg.Wait()
	if err == nil {
		err = perr
	}
	if err == nil {
		err = rdb.Del(ctx, list).Err()
	}
	return res, err
}

func round(d time.Duration) time.Duration {
	if d > time.Millisecond {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Microsecond)
}
