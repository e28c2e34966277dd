package hooks_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
	"github.com/redisguard/redisguard/profiles"
)

// guardedHandle is one way a user holds a client with the API preset's hooks.
type guardedHandle struct {
	name string
	// open returns the client (closed in t.Cleanup) and its Breaker.
	open func(t *testing.T, addr string, socketTimeout time.Duration) (redis.UniversalClient, *hooks.Breaker)
}

var guardedHandles = []guardedHandle{
	{"profiles.NewClient", func(t *testing.T, addr string, socketTimeout time.Duration) (redis.UniversalClient, *hooks.Breaker) {
		c := profiles.API()
		c.Addr = addr
		c.SocketTimeout = socketTimeout
		pc, err := profiles.NewClient(c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = pc.Close() })
		return pc, pc.Hooks.Breaker
	}},
	{"redis.Client+profiles.Apply", func(t *testing.T, addr string, socketTimeout time.Duration) (redis.UniversalClient, *hooks.Breaker) {
		rdb := redis.NewClient(&redis.Options{
			Addr: addr, PoolSize: profiles.API().PoolSize, ReadTimeout: socketTimeout, WriteTimeout: socketTimeout,
			ContextTimeoutEnabled: true, MaxRetries: -1,
		})
		t.Cleanup(func() { _ = rdb.Close() })
		h, err := profiles.Apply(rdb, profiles.API())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = h.Breaker.Close() })
		return rdb, h.Breaker
	}},
}

// deadlineErr reports an error a command cut by a deadline returns. On a
// cluster a command that is not idempotent gets a MaybeAppliedError, which
// keeps the network error apart (see its doc).
func deadlineErr(err error) bool {
	var m *hooks.MaybeAppliedError
	if errors.As(err, &m) {
		err = m.Cause()
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded)
}

// TestCallerDeadlineOpenedBreaker: commands cut by their caller's own
// deadline (BLPOP 2s under 30 ms; GET of a 4 MB value under 1 ms, alone, in
// a pipeline and in a MULTI/EXEC) on a healthy server used to open the
// node's circuit for every caller (five were enough). A thousand of them
// now leave it closed, through a *profiles.Client and a *redis.Client with
// profiles.Apply, and on a cluster.
func TestCallerDeadlineOpenedBreaker(t *testing.T) {
	s := redistest.Start(t)
	for _, h := range guardedHandles {
		t.Run(h.name, func(t *testing.T) {
			rdb, brk := h.open(t, s.Addr(), 0)
			cutByCallerDeadlines(t, rdb, brk)
		})
	}
	t.Run("profiles.NewClient/cluster", func(t *testing.T) {
		cl := redistest.StartCluster(t, 3, 0)
		c := profiles.API()
		c.ClusterAddrs = cl.Addrs()
		pc, err := profiles.NewClient(c)
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		cutByCallerDeadlines(t, pc, pc.Hooks.Breaker)
	})
}

// cutByCallerDeadlines sends 1,000 commands cut by their caller's deadline
// and checks that no circuit opened.
func cutByCallerDeadlines(t *testing.T, rdb redis.UniversalClient, brk *hooks.Breaker) {
	t.Helper()
	ctx := context.Background()
	if err := rdb.Set(ctx, "big", strings.Repeat("x", 4<<20), 0).Err(); err != nil {
		t.Fatal(err)
	}
	getBig := func(p redis.Pipeliner) error {
		p.Get(ctx, "big")
		return nil
	}
	const workers, perWorker = 8, 125 // 1,000 commands
	var mu sync.Mutex
	cut, unexpected := 0, []error(nil)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				var err error
				switch (w + i) % 4 {
				case 0, 2:
					cctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
					err = rdb.BLPop(cctx, 2*time.Second, "empty").Err()
					cancel()
				case 1:
					cctx, cancel := context.WithTimeout(ctx, time.Millisecond)
					err = rdb.Get(cctx, "big").Err()
					cancel()
				case 3:
					cctx, cancel := context.WithTimeout(ctx, time.Millisecond)
					if i%2 == 0 {
						_, err = rdb.Pipelined(cctx, getBig)
					} else {
						_, err = rdb.TxPipelined(cctx, getBig)
					}
					cancel()
				}
				mu.Lock()
				switch {
				case err == nil:
				case deadlineErr(err):
					cut++
				default:
					unexpected = append(unexpected, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(unexpected) > 0 {
		t.Errorf("%d commands failed other than by their deadline, first: %v", len(unexpected), unexpected[0])
	}
	if cut < workers*perWorker/2 {
		t.Errorf("only %d of %d commands were cut by their deadline; the test needs the BLPOPs at least", cut, workers*perWorker)
	}
	for addr, st := range brk.States() {
		if st != hooks.BreakerClosed {
			t.Errorf("after %d commands cut by caller deadlines the breaker of %s is %v, want closed", cut, addr, st)
		}
	}
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Errorf("SET after the cut commands: %v", err)
	}
}

// TestStalledServerStillOpensBreaker: a server that stops answering
// (SIGSTOP) still opens the circuit, through the hooks' own class deadline
// (GET: 3 s) and through the client's socket timeout, even when every
// caller set a longer deadline of its own.
func TestStalledServerStillOpensBreaker(t *testing.T) {
	for _, c := range []struct {
		name          string
		h             guardedHandle
		socketTimeout time.Duration
	}{
		{"class deadline/" + guardedHandles[0].name, guardedHandles[0], 0},
		{"socket timeout/" + guardedHandles[1].name, guardedHandles[1], 300 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := redistest.Start(t)
			rdb, brk := c.h.open(t, s.Addr(), c.socketTimeout)
			ctx := context.Background()
			if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			s.Pause()
			defer s.Resume()
			var wg sync.WaitGroup
			errs := make([]error, 8)
			for i := range errs {
				wg.Go(func() {
					cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
					defer cancel()
					errs[i] = rdb.Get(cctx, "k").Err()
				})
			}
			wg.Wait()
			for i, err := range errs {
				if err == nil {
					t.Fatalf("GET %d on a stopped server succeeded", i)
				}
			}
			if st := hooks.StateOf(brk, s.Addr()); st != hooks.BreakerOpen {
				t.Fatalf("after 8 GETs timed out on a stopped server the breaker is %v, want open (errors: %v)", st, errs[0])
			}
			cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			if err := rdb.Get(cctx, "k").Err(); !errors.Is(err, hooks.ErrCircuitOpen) {
				t.Fatalf("GET with the circuit open: %v, want ErrCircuitOpen", err)
			}
		})
	}
}

// TestDeadServerNeverOpenedBreakerForShortDeadlines: with the server
// killed, GETs under a 200 ms caller deadline used to leave the circuit
// closed for ever (each waited out its deadline behind go-redis's
// background dial and got "context deadline exceeded"), so an API setting
// request deadlines never failed fast. Refused dials now count against the
// node whatever the caller's deadline: by the 30th GET the circuit is open
// and calls fail with ErrCircuitOpen and no I/O.
func TestDeadServerNeverOpenedBreakerForShortDeadlines(t *testing.T) {
	for _, h := range guardedHandles {
		t.Run(h.name, func(t *testing.T) {
			s := redistest.Start(t)
			rdb, brk := h.open(t, s.Addr(), 0)
			ctx := context.Background()
			if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			s.Kill()
			get := func() error {
				cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
				defer cancel()
				return rdb.Get(cctx, "k").Err()
			}
			var last error
			for range 30 {
				last = get()
			}
			if !errors.Is(last, hooks.ErrCircuitOpen) {
				t.Fatalf("30th GET to a dead server: %v, want ErrCircuitOpen", last)
			}
			if st := hooks.StateOf(brk, s.Addr()); st != hooks.BreakerOpen {
				t.Fatalf("breaker %v, want open", st)
			}
			// Calls refused by the open circuit: counted, and timed for
			// the record (not asserted).
			const n = 10000
			start := time.Now()
			for i := range n {
				if err := get(); !errors.Is(err, hooks.ErrCircuitOpen) {
					t.Fatalf("GET %d with the circuit open: %v, want ErrCircuitOpen", i, err)
				}
			}
			t.Logf("%d GETs refused by the open circuit: %v per call", n, time.Since(start)/n)
		})
	}
}
