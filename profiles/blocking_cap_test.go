package profiles_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/internal/redistest"
	"github.com/redisguard/redisguard/profiles"
)

// capHandle is one way a user holds a guarded client.
type capHandle struct {
	name string
	new  func(t *testing.T, cfg profiles.Config) redis.UniversalClient
}

// capHandles are the handles the blocking-cap guarantees are checked
// through: a *redis.Client built from the Config's options with the hooks
// added by Apply, and the *profiles.Client of NewClient.
var capHandles = []capHandle{
	{"Apply", func(t *testing.T, cfg profiles.Config) redis.UniversalClient {
		opts, err := cfg.ClientOptions()
		if err != nil {
			t.Fatal(err)
		}
		rdb := redis.NewClient(opts)
		t.Cleanup(func() { _ = rdb.Close() })
		guards, err := profiles.Apply(rdb, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = guards.Breaker.Close() })
		return rdb
	}},
	{"NewClient", func(t *testing.T, cfg profiles.Config) redis.UniversalClient {
		c, err := profiles.NewClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}},
}

// capConfig is the API preset for srv with a blocking cap of capWait.
func capConfig(srv *redistest.Server, capWait time.Duration) profiles.Config {
	cfg := profiles.API()
	cfg.Addr = srv.Addr()
	cfg.BlockingTimeout = capWait
	return cfg
}

// warmConns sends a PING so the pool holds a connection, and returns the
// pool's connection count.
func warmConns(t *testing.T, rdb redis.UniversalClient) uint32 {
	t.Helper()
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	return rdb.PoolStats().TotalConns
}

// TestBlockingCommandAtCapAnswersNilAndKeepsConnection: with a 1 s cap,
// every blocking command the command table knows that asks to wait for
// the cap, longer, or forever (timeout 0, BLOCK 0), in integer and decimal
// forms, gets the server's own "nothing came" answer at the cap (redis.Nil;
// WAIT's count of replicas), not a timeout, and its connection stays in
// the pool. Before, the deadline was the cap itself: the server's answer
// raced it, the caller got "may have been applied ... i/o timeout" and the
// connection was dropped.
func TestBlockingCommandAtCapAnswersNilAndKeepsConnection(t *testing.T) {
	const capWait = time.Second
	srv := redistest.Start(t)
	ctx := context.Background()
	type result struct {
		err  error
		args []interface{}
	}
	cases := []struct {
		name string
		run  func(rdb redis.UniversalClient, key string) result
		pos  int // index of the timeout argument in Args
		want interface{}
	}{
		{"BLPOP at the cap", func(r redis.UniversalClient, k string) result {
			c := r.BLPop(ctx, capWait, k)
			return result{c.Err(), c.Args()}
		}, 2, int64(1)},
		{"BLPOP 0", func(r redis.UniversalClient, k string) result {
			c := r.BLPop(ctx, 0, k)
			return result{c.Err(), c.Args()}
		}, 2, int64(1)},
		{"BLPOP above the cap", func(r redis.UniversalClient, k string) result {
			c := r.BLPop(ctx, 5*time.Second, k)
			return result{c.Err(), c.Args()}
		}, 2, int64(1)},
		{"BLPOP decimal string above the cap", func(r redis.UniversalClient, k string) result {
			c := r.Do(ctx, "blpop", k, "1.5")
			return result{c.Err(), c.Args()}
		}, 2, int64(1)},
		{"BLPOP float above the cap", func(r redis.UniversalClient, k string) result {
			c := r.Do(ctx, "BLPOP", k, 2.25)
			return result{c.Err(), c.Args()}
		}, 2, int64(1)},
		{"BLPOP decimal zero", func(r redis.UniversalClient, k string) result {
			c := r.Do(ctx, "blpop", k, "0.0")
			return result{c.Err(), c.Args()}
		}, 2, int64(1)},
		{"BLPOP decimal below the cap untouched", func(r redis.UniversalClient, k string) result {
			c := r.Do(ctx, "blpop", k, "0.5")
			return result{c.Err(), c.Args()}
		}, 2, "0.5"},
		{"BRPOP 0", func(r redis.UniversalClient, k string) result {
			c := r.BRPop(ctx, 0, k)
			return result{c.Err(), c.Args()}
		}, 2, int64(1)},
		{"BRPOPLPUSH 0", func(r redis.UniversalClient, k string) result {
			c := r.BRPopLPush(ctx, k, k+":dst", 0)
			return result{c.Err(), c.Args()}
		}, 3, int64(1)},
		{"BLMOVE 0", func(r redis.UniversalClient, k string) result {
			c := r.BLMove(ctx, k, k+":dst", "LEFT", "RIGHT", 0)
			return result{c.Err(), c.Args()}
		}, 5, int64(1)},
		{"BLMPOP 0", func(r redis.UniversalClient, k string) result {
			c := r.BLMPop(ctx, 0, "left", 1, k)
			return result{c.Err(), c.Args()}
		}, 1, int64(1)},
		{"BZPOPMIN 0", func(r redis.UniversalClient, k string) result {
			c := r.BZPopMin(ctx, 0, k)
			return result{c.Err(), c.Args()}
		}, 2, int64(1)},
		{"BZPOPMAX above the cap", func(r redis.UniversalClient, k string) result {
			c := r.BZPopMax(ctx, 3*time.Second, k)
			return result{c.Err(), c.Args()}
		}, 2, int64(1)},
		{"BZMPOP 0", func(r redis.UniversalClient, k string) result {
			c := r.BZMPop(ctx, 0, "min", 1, k)
			return result{c.Err(), c.Args()}
		}, 1, int64(1)},
		{"XREAD BLOCK 0", func(r redis.UniversalClient, k string) result {
			c := r.XRead(ctx, &redis.XReadArgs{Streams: []string{k, "$"}, Block: 0})
			return result{c.Err(), c.Args()}
		}, 2, int64(1000)},
		{"XREAD BLOCK above the cap, in milliseconds", func(r redis.UniversalClient, k string) result {
			c := r.XRead(ctx, &redis.XReadArgs{Streams: []string{k, "$"}, Count: 1, Block: 4 * time.Second})
			return result{c.Err(), c.Args()}
		}, 4, int64(1000)},
		{"XREADGROUP BLOCK 0", func(r redis.UniversalClient, k string) result {
			if err := r.XGroupCreateMkStream(ctx, k, "g", "$").Err(); err != nil {
				return result{err: err}
			}
			c := r.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "c", Streams: []string{k, ">"}, Block: 0})
			return result{c.Err(), c.Args()}
		}, 5, int64(1000)},
		{"WAIT 0", func(r redis.UniversalClient, _ string) result {
			c := redis.NewIntCmd(ctx, "wait", 1, 0)
			_ = r.Process(ctx, c)
			if c.Err() == nil && c.Val() == 0 {
				// No replica: WAIT answers 0 at the end of its wait.
				return result{redis.Nil, c.Args()}
			}
			return result{fmt.Errorf("WAIT: %d, %v", c.Val(), c.Err()), c.Args()}
		}, 2, int64(1000)},
	}
	// Every case waits out the cap: run them all at once, each on its own
	// client (so no Limiter budget is shared), then check each.
	type outcome struct {
		res          result
		before, left uint32
	}
	outs := make([][]outcome, len(capHandles))
	var wg sync.WaitGroup
	for hi, h := range capHandles {
		outs[hi] = make([]outcome, len(cases))
		for i, c := range cases {
			rdb := h.new(t, capConfig(srv, capWait))
			before := warmConns(t, rdb)
			wg.Add(1)
			go func() {
				defer wg.Done()
				res := c.run(rdb, fmt.Sprintf("cap:%s:%d", h.name, i))
				outs[hi][i] = outcome{res, before, rdb.PoolStats().TotalConns}
			}()
		}
	}
	wg.Wait()
	for hi, h := range capHandles {
		for i, c := range cases {
			t.Run(h.name+"/"+c.name, func(t *testing.T) {
				o := outs[hi][i]
				if o.res.err != redis.Nil {
					t.Errorf("got %v, want redis.Nil: the server's answer at the end of the wait", o.res.err)
				}
				if o.left != o.before {
					t.Errorf("pool holds %d connections after the command, want %d: the connection was dropped", o.left, o.before)
				}
				if c.pos >= len(o.res.args) || o.res.args[c.pos] != c.want {
					t.Errorf("Args %v: want %v (%T) at %d", o.res.args, c.want, c.want, c.pos)
				}
			})
		}
	}
}

// TestBlockingPipelineAtCapAnswersNil: a pipeline of two blocking commands
// that ask to wait forever gets both waits capped, and a deadline that
// covers both waits (the server runs them one after the other) plus the
// margin: both answer redis.Nil and the connection stays.
func TestBlockingPipelineAtCapAnswersNil(t *testing.T) {
	const capWait = time.Second
	srv := redistest.Start(t)
	ctx := context.Background()
	for _, h := range capHandles {
		t.Run(h.name, func(t *testing.T) {
			rdb := h.new(t, capConfig(srv, capWait))
			conns := warmConns(t, rdb)
			var a, b *redis.StringSliceCmd
			_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				a = p.BLPop(ctx, 0, "pipe:a:"+h.name)
				b = p.BRPop(ctx, 0, "pipe:b:"+h.name)
				return nil
			})
			if err != redis.Nil || a.Err() != redis.Nil || b.Err() != redis.Nil {
				t.Fatalf("pipeline: %v; BLPOP: %v; BRPOP: %v; want redis.Nil each", err, a.Err(), b.Err())
			}
			if n := rdb.PoolStats().TotalConns; n != conns {
				t.Errorf("pool holds %d connections after the pipeline, want %d", n, conns)
			}
		})
	}
}

// blockedClients reads blocked_clients from INFO clients.
func blockedClients(t *testing.T, rdb *redis.Client) int {
	t.Helper()
	out, err := rdb.Info(context.Background(), "clients").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "blocked_clients:"); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no blocked_clients in INFO clients: %q", out)
	return 0
}

// waitBlocked waits until the server reports a blocked client, or done
// is closed (the command returned first: false).
func waitBlocked(t *testing.T, rdb *redis.Client, done <-chan struct{}) bool {
	t.Helper()
	for blockedClients(t, rdb) == 0 {
		select {
		case <-done:
			return false
		case <-time.After(time.Millisecond):
		}
	}
	return true
}

// TestBlockingElementPushedAtCapIsNeverLost pushes an element at about the
// moment the server ends a capped BLPOP (from a little before to a little
// after), several times: each element is either delivered to the caller
// (and gone from the list) or left in the list while the caller gets
// redis.Nil. It is never popped by the server and then lost with a
// connection the client dropped at its deadline.
func TestBlockingElementPushedAtCapIsNeverLost(t *testing.T) {
	const capWait = time.Second
	// From the cap measured from when the server reports the client
	// blocked: the server ends the wait a little after that, so early
	// pushes are delivered and late ones stay in the list.
	offsets := []time.Duration{
		-30 * time.Millisecond, -5 * time.Millisecond, 0, 5 * time.Millisecond,
		20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond,
	}
	ctx := context.Background()
	for _, h := range capHandles {
		t.Run(h.name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t) // blocked_clients counts this handle's consumer only
			rdb := h.new(t, capConfig(srv, capWait))
			pusher := srv.Client(t, nil)
			delivered, left, bad := 0, 0, 0
			for i, off := range offsets {
				key := fmt.Sprintf("near:%d", i)
				var (
					got []string
					err error
				)
				done := make(chan struct{})
				go func() {
					defer close(done)
					// Forever, capped to 1 s, or 1 s: the same wait.
					wait := time.Duration(0)
					if i%2 == 1 {
						wait = capWait
					}
					got, err = rdb.BLPop(ctx, wait, key).Result()
				}()
				if !waitBlocked(t, pusher, done) {
					bad++
					t.Errorf("try %d: BLPOP returned before it blocked: %q, %v", i, got, err)
					continue
				}
				time.Sleep(capWait + off)
				if err := pusher.LPush(ctx, key, "job").Err(); err != nil {
					t.Fatal(err)
				}
				<-done
				n, lerr := pusher.LLen(ctx, key).Result()
				if lerr != nil {
					t.Fatal(lerr)
				}
				switch {
				case err == nil && len(got) == 2 && got[1] == "job" && n == 0:
					delivered++
				case err == redis.Nil && n == 1:
					left++
				default:
					bad++
					t.Errorf("push at cap%+v: BLPOP got %q, %v; LLEN %d: the element was lost or doubled", off, got, err, n)
				}
			}
			t.Logf("%d delivered to the caller, %d left in the list, %d failed", delivered, left, bad)
		})
	}
}

// TestBlockingCapNotCutByDefaultMargin is the seed worker's case through
// the Worker preset: a BLPOP asking for exactly the preset's cap is not
// given a deadline equal to that cap. It checks the deadline go-redis
// sees, without waiting the cap out.
func TestBlockingCapNotCutByDefaultMargin(t *testing.T) {
	srv := redistest.Start(t)
	cfg := profiles.Worker()
	cfg.Addr = srv.Addr()
	for _, h := range capHandles {
		t.Run(h.name, func(t *testing.T) {
			rdb := h.new(t, cfg)
			ctx, cancel := context.WithCancel(context.Background())
			seen := make(chan time.Duration, 1)
			rdb.AddHook(deadlineProbe{seen: seen, stop: cancel})
			err := rdb.BLPop(ctx, profiles.Worker().BlockingTimeout, "seed:jobs").Err()
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("BLPOP: %v, want the probe's cancellation", err)
			}
			if d := <-seen; d <= profiles.Worker().BlockingTimeout {
				t.Fatalf("BLPOP %v got a deadline %v away: not above the wait it asks the server for",
					profiles.Worker().BlockingTimeout, d)
			}
		})
	}
}

// deadlineProbe is a hook added after the preset's hooks: it reports how
// far away the deadline of a blocking command is and cancels it instead
// of sending it.
type deadlineProbe struct {
	seen chan<- time.Duration
	stop context.CancelFunc
}

func (deadlineProbe) DialHook(next redis.DialHook) redis.DialHook { return next }

func (p deadlineProbe) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() != "blpop" {
			return next(ctx, cmd)
		}
		dl, ok := ctx.Deadline()
		d := time.Duration(-1)
		if ok {
			d = time.Until(dl)
		}
		p.seen <- d
		p.stop()
		return ctx.Err()
	}
}

func (deadlineProbe) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
