package hooks_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
)

// These tests check that a session holding a connection (a WATCH
// transaction, a Conn, an EphemeralConn) is never made to wait for a
// Limiter permit, which deadlocked against commands holding permits while
// they waited for a pool connection.

// guard attaches the whole hook chain, with a Limiter of maxInFlight per
// node, and returns the Limiter.
func guard(t *testing.T, rdb redis.UniversalClient, maxInFlight int) *hooks.Limiter {
	t.Helper()
	to, err := hooks.NewTimeouts(hooks.TimeoutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	re, err := hooks.NewRetry(hooks.RetryOptions{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	br, err := hooks.NewBreaker(hooks.BreakerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = br.Close() })
	lim, err := hooks.NewLimiter(hooks.LimiterOptions{MaxInFlight: maxInFlight, MaxWait: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := hooks.Attach(rdb, to, re, br, lim); err != nil {
		t.Fatal(err)
	}
	return lim
}

// watchIncrements runs go-redis's "Tx should Watch" test: n goroutines each
// increment key once with WATCH, GET and a MULTI/EXEC SET, starting over
// when another transaction changed the key first. It returns the errors.
func watchIncrements(ctx context.Context, rdb redis.UniversalClient, key string, n int) []error {
	incr := func() error {
		for {
			err := rdb.Watch(ctx, func(tx *redis.Tx) error {
				v, err := tx.Get(ctx, key).Int64()
				if err != nil && !errors.Is(err, redis.Nil) {
					return err
				}
				_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
					pipe.Set(ctx, key, strconv.FormatInt(v+1, 10), 0)
					return nil
				})
				return err
			}, key)
			if !errors.Is(err, redis.TxFailedErr) {
				return err
			}
		}
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for range n {
		wg.Go(func() {
			if err := incr(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errs
}

func checkIncrements(t *testing.T, rdb redis.UniversalClient, key string, n int, errs []error) {
	t.Helper()
	if len(errs) > 0 {
		t.Errorf("%d of %d increments failed; first: %v", len(errs), n, errs[0])
	}
	got, err := rdb.Get(context.Background(), key).Int()
	if err != nil {
		t.Fatalf("GET %s: %v", key, err)
	}
	if got != n {
		t.Errorf("%s = %d after %d increments, want %d", key, got, n, n)
	}
}

// TestWatchTransactionsDoNotDeadlockOnLimiter is go-redis's "Tx should
// Watch" with the hooks: on a pool of 10 with a Limiter of 8, every one of
// 100 increments used to fail with "context ended while waiting for a
// permit", the counter left at 0.
func TestWatchTransactionsDoNotDeadlockOnLimiter(t *testing.T) {
	const n = 100
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	t.Run("single", func(t *testing.T) {
		s := redistest.Start(t)
		rdb := s.Client(t, &redis.Options{PoolSize: 10, MaxRetries: -1, ContextTimeoutEnabled: true})
		lim := guard(t, rdb, 8)
		checkIncrements(t, rdb, "counter", n, watchIncrements(ctx, rdb, "counter", n))
		if st := lim.Stats(); st.InFlight != 0 || st.Waiting != 0 {
			t.Errorf("limiter after the run: %+v", st)
		}
	})

	t.Run("cluster", func(t *testing.T) {
		cl := redistest.StartCluster(t, 3, 0)
		rdb := redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: cl.Addrs(), PoolSize: 10, MaxRetries: -1, ContextTimeoutEnabled: true,
		})
		t.Cleanup(func() { _ = rdb.Close() })
		guard(t, rdb, 8)
		checkIncrements(t, rdb, "{tx}counter", n, watchIncrements(ctx, rdb, "{tx}counter", n))
	})

	t.Run("ring", func(t *testing.T) {
		a, b := redistest.Start(t), redistest.Start(t)
		rdb := redis.NewRing(&redis.RingOptions{
			Addrs:    map[string]string{"a": a.Addr(), "b": b.Addr()},
			PoolSize: 10, MaxRetries: -1, ContextTimeoutEnabled: true,
		})
		t.Cleanup(func() { _ = rdb.Close() })
		guard(t, rdb, 8)
		checkIncrements(t, rdb, "counter", n, watchIncrements(ctx, rdb, "counter", n))
	})
}

// TestHeldConnectionCommandsNeedNoPermit builds the deadlock step by step:
// sessions hold every pool connection, commands holding every permit wait
// for the pool, and then a session sends its next command. It must go
// through on the connection it holds instead of waiting for a permit.
func TestHeldConnectionCommandsNeedNoPermit(t *testing.T) {
	s := redistest.Start(t)
	type session interface {
		Ping(context.Context) *redis.StatusCmd
		Set(context.Context, string, any, time.Duration) *redis.StatusCmd
		Pipelined(context.Context, func(redis.Pipeliner) error) ([]redis.Cmder, error)
		TxPipelined(context.Context, func(redis.Pipeliner) error) ([]redis.Cmder, error)
		Close() error
	}
	for _, tc := range []struct {
		name string
		open func(*redis.Client) session
	}{
		{"Conn", func(c *redis.Client) session { return c.Conn() }},
		{"EphemeralConn", func(c *redis.Client) session { return c.EphemeralConn() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const pool = 2
			rdb := s.Client(t, &redis.Options{PoolSize: pool, MaxRetries: -1, ContextTimeoutEnabled: true})
			lim := guard(t, rdb, pool)
			ctx := context.Background()

			// Sessions take every connection of the pool.
			var held []session
			for i := range pool {
				c := tc.open(rdb)
				if err := c.Ping(ctx).Err(); err != nil {
					t.Fatalf("session %d: PING: %v", i, err)
				}
				held = append(held, c)
			}
			// Commands take every permit and wait for a pool connection.
			var wg sync.WaitGroup
			errs := make(chan error, pool)
			for i := range pool {
				wg.Go(func() {
					errs <- rdb.Set(ctx, fmt.Sprint("waiting", i), "v", 0).Err()
				})
			}
			waitFor(t, func() bool { return lim.Stats().InFlight == pool })

			// The sessions' next commands run on the connections they hold.
			for i, c := range held {
				k := fmt.Sprint("held", i)
				if err := c.Set(ctx, k, "v", 0).Err(); err != nil {
					t.Errorf("session %d: SET while the limiter is full: %v", i, err)
				}
				if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
					p.Get(ctx, k)
					return nil
				}); err != nil {
					t.Errorf("session %d: pipeline while the limiter is full: %v", i, err)
				}
				if _, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
					p.Incr(ctx, k+"n")
					return nil
				}); err != nil {
					t.Errorf("session %d: MULTI/EXEC while the limiter is full: %v", i, err)
				}
			}
			if st := lim.Stats(); st.Rejected != 0 || st.Cancelled != 0 {
				t.Errorf("limiter refused commands: %+v", st)
			}
			for _, c := range held {
				_ = c.Close()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Errorf("a command waiting for the pool: %v", err)
				}
			}
		})
	}
}

// TestWatchHoldingConnectionNeedsNoPermit is the same step by step
// deadlock for a WATCH transaction, on every handle whose Watch pins a
// connection: the transaction's GET and EXEC run while other commands hold
// every permit and wait for the connection it holds.
func TestWatchHoldingConnectionNeedsNoPermit(t *testing.T) {
	const pool = 2
	opts := func() (redis.Options, redis.ClusterOptions, redis.RingOptions) {
		return redis.Options{PoolSize: pool, MaxRetries: -1, ContextTimeoutEnabled: true},
			redis.ClusterOptions{PoolSize: pool, MaxRetries: -1, ContextTimeoutEnabled: true},
			redis.RingOptions{PoolSize: pool, MaxRetries: -1, ContextTimeoutEnabled: true}
	}
	for _, tc := range []struct {
		name string
		make func(t *testing.T) redis.UniversalClient
	}{
		{"single", func(t *testing.T) redis.UniversalClient {
			o, _, _ := opts()
			return redistest.Start(t).Client(t, &o)
		}},
		{"cluster", func(t *testing.T) redis.UniversalClient {
			_, o, _ := opts()
			o.Addrs = redistest.StartCluster(t, 3, 0).Addrs()
			c := redis.NewClusterClient(&o)
			t.Cleanup(func() { _ = c.Close() })
			return c
		}},
		{"ring", func(t *testing.T) redis.UniversalClient {
			_, _, o := opts()
			o.Addrs = map[string]string{"a": redistest.Start(t).Addr()}
			c := redis.NewRing(&o)
			t.Cleanup(func() { _ = c.Close() })
			return c
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rdb := tc.make(t)
			lim := guard(t, rdb, pool)
			ctx := context.Background()
			const key = "{w}counter"
			if err := rdb.Set(ctx, key, 0, 0).Err(); err != nil {
				t.Fatal(err)
			}
			pinned := make(chan struct{})
			release := make(chan struct{})
			var wg sync.WaitGroup
			// Two transactions hold both connections of the key's node.
			txErrs := make(chan error, pool)
			for range pool {
				wg.Go(func() {
					txErrs <- rdb.Watch(ctx, func(tx *redis.Tx) error {
						pinned <- struct{}{}
						<-release
						v, err := tx.Get(ctx, key).Int()
						if err != nil {
							return err
						}
						_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
							p.Set(ctx, key, v+1, 0)
							return nil
						})
						return err
					}, key)
				})
			}
			for range pool {
				<-pinned
			}
			// Commands to the same node take every permit of the node and
			// wait for a connection.
			getErrs := make(chan error, pool)
			for range pool {
				wg.Go(func() { getErrs <- rdb.Get(ctx, key).Err() })
			}
			waitFor(t, func() bool { return lim.Stats().InFlight == pool })
			close(release)
			wg.Wait()
			close(txErrs)
			close(getErrs)
			failed := 0
			for err := range txErrs {
				// Both transactions watched the key; the second EXEC finds it
				// changed by the first.
				if err != nil && !errors.Is(err, redis.TxFailedErr) {
					t.Errorf("transaction: %v", err)
				}
				if err != nil {
					failed++
				}
			}
			for err := range getErrs {
				if err != nil {
					t.Errorf("GET waiting for a connection: %v", err)
				}
			}
			if got, err := rdb.Get(ctx, key).Int(); err != nil || got != pool-failed {
				t.Errorf("%s = %d, %v; want %d", key, got, err, pool-failed)
			}
		})
	}
}

// waitFor polls cond until it holds, failing the test after a generous
// bound.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestOnConnectCommandsNeedNoPermit: an Options.OnConnect callback runs its
// commands on the new connection, nested in the command that is opening
// it and holds a permit. With the other permit held too, its PING used to
// wait for a permit until MaxWait, and the command failed.
func TestOnConnectCommandsNeedNoPermit(t *testing.T) {
	s := redistest.Start(t)
	var onConnect sync.Map
	rdb := s.Client(t, &redis.Options{
		PoolSize: 4, MaxRetries: -1, ContextTimeoutEnabled: true,
		OnConnect: func(ctx context.Context, cn *redis.Conn) error {
			err := cn.Ping(ctx).Err()
			onConnect.Store(time.Now(), err)
			return err
		},
	})
	lim, err := hooks.NewLimiter(hooks.LimiterOptions{MaxInFlight: 2, MaxWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := hooks.Attach(rdb, lim); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// A blocking command holds one permit and one connection.
	blpop := make(chan error, 1)
	go func() { blpop <- rdb.BLPop(ctx, 10*time.Second, "q").Err() }()
	waitFor(t, func() bool { return lim.Stats().InFlightBlocking == 1 })
	// GET takes the other permit and opens a second connection.
	if err := rdb.Get(ctx, "k").Err(); err != nil && !errors.Is(err, redis.Nil) {
		t.Errorf("GET on a new connection whose OnConnect sends PING: %v", err)
	}
	if err := rdb.RPush(ctx, "q", "x").Err(); err != nil {
		t.Errorf("RPUSH: %v", err)
	}
	if err := <-blpop; err != nil {
		t.Errorf("BLPOP: %v", err)
	}
	onConnect.Range(func(_, v any) bool {
		if v != nil {
			t.Errorf("OnConnect PING: %v", v)
		}
		return true
	})
}
