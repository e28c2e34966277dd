package hooks_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
)

// TestLimiterSetLimitsChecksAsNewLimiter: SetLimits refuses what NewLimiter
// refuses, with the same message but for the type the caller passed, and
// changes nothing then; what it accepts gets NewLimiter's defaults.
func TestLimiterSetLimitsChecksAsNewLimiter(t *testing.T) {
	lim, err := hooks.NewLimiter(hooks.LimiterOptions{MaxInFlight: 8, MaxBlocking: 3, MaxWait: time.Second, MaxWaiting: 5})
	if err != nil {
		t.Fatal(err)
	}
	before := lim.Stats().LimiterLimits
	for _, c := range []struct {
		lim  hooks.LimiterLimits
		want string
	}{
		{hooks.LimiterLimits{}, "hooks: LimiterLimits.MaxInFlight is 0; it must be at least 2"},
		{hooks.LimiterLimits{MaxInFlight: 1<<20 + 1}, "hooks: LimiterLimits.MaxInFlight is 1048577; it must be at most 1048576"},
		{hooks.LimiterLimits{MaxInFlight: 8, MaxBlocking: -1}, "hooks: LimiterLimits.MaxBlocking is -1; it must not be negative"},
		{hooks.LimiterLimits{MaxInFlight: 8, MaxBlocking: 8}, "hooks: LimiterLimits.MaxBlocking is 8; it must be below MaxInFlight (8)"},
		{hooks.LimiterLimits{MaxInFlight: 8, MaxWait: -time.Second}, "hooks: LimiterLimits.MaxWait is -1s; it must not be negative"},
		{hooks.LimiterLimits{MaxInFlight: 8, MaxWaiting: -2}, "hooks: LimiterLimits.MaxWaiting is -2; it must not be negative"},
		{hooks.LimiterLimits{MaxInFlight: 8, MinInFlight: 9}, "hooks: LimiterLimits.MinInFlight is 9; it must be between 0 and MaxInFlight (8)"},
		{hooks.LimiterLimits{MaxInFlight: 8, MinInFlight: -1}, "hooks: LimiterLimits.MinInFlight is -1; it must be between 0 and MaxInFlight (8)"},
	} {
		err := lim.SetLimits(c.lim)
		if err == nil || err.Error() != c.want {
			t.Errorf("SetLimits(%+v) = %v, want %q", c.lim, err, c.want)
		}
		_, nerr := hooks.NewLimiter(hooks.LimiterOptions{
			MaxInFlight: c.lim.MaxInFlight, MaxBlocking: c.lim.MaxBlocking,
			MaxWait: c.lim.MaxWait, MaxWaiting: c.lim.MaxWaiting, MinInFlight: c.lim.MinInFlight,
		})
		if want := strings.Replace(c.want, "LimiterLimits.", "LimiterOptions.", 1); nerr == nil || nerr.Error() != want {
			t.Errorf("NewLimiter with %+v = %v, want %q", c.lim, nerr, want)
		}
		if got := lim.Stats().LimiterLimits; got != before {
			t.Errorf("a refused SetLimits(%+v) changed the limits to %+v", c.lim, got)
		}
	}
	if err := lim.SetLimits(hooks.LimiterLimits{MaxInFlight: 40}); err != nil {
		t.Fatal(err)
	}
	if got, want := lim.Stats().LimiterLimits, (hooks.LimiterLimits{MaxInFlight: 40, MaxBlocking: 10}); got != want {
		t.Errorf("limits %+v, want %+v (NewLimiter's defaults)", got, want)
	}
}

// setLimitsLoad is the record of TestLimiterSetLimitsUnderLoad's callers.
type setLimitsLoad struct {
	calls, ok, failedAfterAdmission, limited, notSent atomic.Uint64
}

// count files one call's outcome: every call is admitted, refused with
// ErrLimited, or ended by its context while it waited (ErrNotSent, the
// only other error the Limiter returns); a command admitted and then cut
// by its own deadline is admitted. It reports ErrLimited.
func (r *setLimitsLoad) count(t *testing.T, err error) (limited bool) {
	r.calls.Add(1)
	switch {
	case err == nil || errors.Is(err, redis.Nil):
		r.ok.Add(1)
	case errors.Is(err, hooks.ErrLimited):
		r.limited.Add(1)
		return true
	case errors.Is(err, hooks.ErrNotSent):
		if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("a refusal that is neither ErrLimited nor the context's: %v", err)
		}
		r.notSent.Add(1)
	default:
		r.failedAfterAdmission.Add(1)
	}
	return false
}

// TestLimiterSetLimitsUnderLoad changes a Limiter's budgets, up and down,
// while 300 goroutines send GET, SET, RPUSH and BLPOP to a real server
// through it, some with deadlines or cancellations that end their waits,
// under budgets with and without MaxWait and MaxWaiting. After each change
// it waits until the commands admitted before it drain below the new
// budgets, and from then on the commands in flight (as Stats reports them,
// and as counted by a hook inside the Limiter, around the command sent)
// never exceed them. When the load stops nothing is in flight or waiting,
// and every call is counted exactly once: Admitted, Rejected and Cancelled
// match what the callers got.
func TestLimiterSetLimitsUnderLoad(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t, &redis.Options{PoolSize: 40, MaxRetries: -1, ContextTimeoutEnabled: true})
	lim, err := hooks.NewLimiter(hooks.LimiterOptions{MaxInFlight: 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := hooks.Attach(rdb, lim); err != nil {
		t.Fatal(err)
	}
	// A hook added after Attach runs inside the Limiter: it sees only
	// commands that hold a permit.
	var cur, curBlk, bound, boundBlk atomic.Int64
	bound.Store(4)
	boundBlk.Store(1)
	var over atomic.Uint64
	var overMsg atomic.Value
	rdb.AddHook(insideHook(func(cmd redis.Cmder, send func() error) error {
		blocking := cmd.Name() == "blpop"
		switch cmd.Name() {
		case "get", "set", "rpush", "blpop":
		default:
			return send() // a new connection's handshake takes no permit
		}
		n, nb := cur.Add(1), int64(0)
		if blocking {
			nb = curBlk.Add(1)
		}
		if b, bb := bound.Load(), boundBlk.Load(); n > b || nb > bb {
			over.Add(1)
			overMsg.Store(fmt.Sprintf("%d in flight (%d blocking) under budgets %d/%d", n, nb, b, bb))
		}
		err := send()
		if blocking {
			curBlk.Add(-1)
		}
		cur.Add(-1)
		return err
	}))

	var rec setLimitsLoad
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 300 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				switch rand.IntN(6) {
				case 0:
					ctx, cancel = context.WithTimeout(ctx, time.Duration(1+rand.IntN(3000))*time.Microsecond)
				case 1:
					ctx, cancel = context.WithCancel(ctx)
					time.AfterFunc(time.Duration(rand.IntN(2000))*time.Microsecond, cancel)
				}
				key := fmt.Sprintf("setlimits:%d", rand.IntN(20))
				var err error
				switch r := rand.IntN(10); {
				case r == 0:
					// go-redis's BLPop rounds its timeout up to 1s.
					err = rdb.Do(ctx, "blpop", key, "0.01").Err()
				case r == 1:
					err = rdb.RPush(ctx, key, i).Err()
				case r < 5:
					err = rdb.Set(ctx, fmt.Sprintf("setlimits:%d:%d", g, i%10), i, 0).Err()
				default:
					err = rdb.Get(ctx, key+":v").Err()
				}
				cancel()
				if rec.count(t, err) {
					// A refusal comes at once: back off as a caller would,
					// rather than spin.
					time.Sleep(time.Duration(rand.IntN(1000)) * time.Microsecond)
				}
			}
		}()
	}

	phases := []hooks.LimiterLimits{
		{MaxInFlight: 16, MaxBlocking: 4},
		{MaxInFlight: 3, MaxBlocking: 1},
		{MaxInFlight: 24, MaxBlocking: 8, MaxWait: 2 * time.Millisecond},
		{MaxInFlight: 2, MaxBlocking: 1},
		{MaxInFlight: 8, MaxBlocking: 2, MaxWaiting: 50},
		{MaxInFlight: 5, MaxBlocking: 2, MaxWait: time.Millisecond, MaxWaiting: 10},
		{MaxInFlight: 12, MaxBlocking: 3},
	}
	var maxWaiting int64
	for range 2 {
		for _, p := range phases {
			in, blk := int64(p.MaxInFlight), int64(p.MaxBlocking)
			// While the commands admitted under the old budgets drain, the
			// larger of the two bounds them.
			bound.Store(max(bound.Load(), in))
			boundBlk.Store(max(boundBlk.Load(), blk))
			if err := lim.SetLimits(p); err != nil {
				t.Fatal(err)
			}
			waitFor(t, func() bool {
				st := lim.Stats()
				return st.InFlight <= in && st.InFlightBlocking <= blk
			})
			bound.Store(in)
			boundBlk.Store(blk)
			for range 100 {
				st := lim.Stats()
				if st.LimiterLimits != p {
					t.Fatalf("Stats limits %+v, want %+v", st.LimiterLimits, p)
				}
				if st.InFlight > in || st.InFlightBlocking > blk {
					t.Fatalf("after draining, Stats shows %d in flight (%d blocking) under budgets %d/%d",
						st.InFlight, st.InFlightBlocking, in, blk)
				}
				maxWaiting = max(maxWaiting, st.Waiting)
				time.Sleep(time.Millisecond)
			}
		}
	}
	close(stop)
	wg.Wait()

	if n := over.Load(); n > 0 {
		t.Errorf("%d commands were sent over the budgets in force, e.g. %v", n, overMsg.Load())
	}
	st := lim.Stats()
	t.Logf("calls %d: ok %d, admitted then failed %d, limited %d, not sent %d; most waiting %d; stats %+v",
		rec.calls.Load(), rec.ok.Load(), rec.failedAfterAdmission.Load(), rec.limited.Load(), rec.notSent.Load(), maxWaiting, st)
	if st.InFlight != 0 || st.InFlightBlocking != 0 || st.Waiting != 0 || st.WaitingBlocking != 0 {
		t.Errorf("after the load: %+v, want nothing in flight or waiting", st)
	}
	if admitted := rec.ok.Load() + rec.failedAfterAdmission.Load(); st.Admitted != admitted ||
		st.Rejected != rec.limited.Load() || st.Cancelled != rec.notSent.Load() {
		t.Errorf("admitted/rejected/cancelled %d/%d/%d; the callers saw %d/%d/%d",
			st.Admitted, st.Rejected, st.Cancelled, admitted, rec.limited.Load(), rec.notSent.Load())
	}
	if rec.ok.Load() == 0 || rec.limited.Load() == 0 || rec.notSent.Load() == 0 || maxWaiting == 0 {
		t.Errorf("the load did not exercise every outcome: ok %d, limited %d, not sent %d, most waiting %d",
			rec.ok.Load(), rec.limited.Load(), rec.notSent.Load(), maxWaiting)
	}
}

// insideHook is a hook around each command sent: f gets the command and
// the rest of the chain.
type insideHook func(cmd redis.Cmder, send func() error) error

func (insideHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h insideHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		return h(cmd, func() error { return next(ctx, cmd) })
	}
}

func (insideHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// blpopHolders are BLPOPs on keys of their own, each holding a permit until
// its key gets an element.
type blpopHolders struct {
	t    *testing.T
	srv  *redistest.Server
	rdb  *redis.Client
	done map[string]chan error
}

func (h *blpopHolders) start(key string) {
	ch := make(chan error, 1)
	h.done[key] = ch
	go func() { ch <- h.rdb.BLPop(context.Background(), 30*time.Second, key).Err() }()
}

// let pushes to key, on a connection of its own (no permit), and waits for
// its BLPOP to return.
func (h *blpopHolders) let(key string) {
	h.t.Helper()
	if _, err := redistest.Do(h.srv.Addr(), 5*time.Second, "RPUSH", key, "x"); err != nil {
		h.t.Fatal(err)
	}
	if err := <-h.done[key]; err != nil {
		h.t.Fatalf("BLPOP %s: %v", key, err)
	}
}

// TestLimiterLoweredLimitsTakeNothingBack lowers the budgets below what is
// in flight: the commands in flight go on, and the waiters are admitted
// only once fewer than the new budgets are in flight, short and blocking
// each by its own budget.
func TestLimiterLoweredLimitsTakeNothingBack(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t, &redis.Options{PoolSize: 10, MaxRetries: -1})
	lim, err := hooks.NewLimiter(hooks.LimiterOptions{MaxInFlight: 5, MaxBlocking: 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := hooks.Attach(rdb, lim); err != nil {
		t.Fatal(err)
	}
	h := &blpopHolders{t: t, srv: srv, rdb: rdb, done: map[string]chan error{}}
	for _, k := range []string{"lower:1", "lower:2", "lower:3", "lower:4"} {
		h.start(k)
	}
	waitFor(t, func() bool { return lim.Stats().InFlightBlocking == 4 })
	if err := lim.SetLimits(hooks.LimiterLimits{MaxInFlight: 3, MaxBlocking: 2}); err != nil {
		t.Fatal(err)
	}
	getDone := make(chan error, 1)
	go func() { getDone <- rdb.Get(context.Background(), "lower:v").Err() }()
	waitFor(t, func() bool { return lim.Stats().Waiting == 1 })
	h.start("lower:5")
	waitFor(t, func() bool { return lim.Stats().WaitingBlocking == 1 })
	want := func(when string, in, blk, waiting, waitingBlk int64) {
		t.Helper()
		st := lim.Stats()
		if st.InFlight != in || st.InFlightBlocking != blk || st.Waiting != waiting || st.WaitingBlocking != waitingBlk {
			t.Fatalf("%s: %+v, want in flight %d (%d blocking), waiting %d (%d blocking)", when, st, in, blk, waiting, waitingBlk)
		}
	}
	want("budgets lowered to 3/2 under 4 BLPOPs", 4, 4, 2, 1)
	h.let("lower:1")
	want("3 in flight", 3, 3, 2, 1)
	h.let("lower:2")
	// 2 in flight: the GET fits the general budget; the BLPOP, with 2
	// blocking in flight, does not fit the blocking one.
	if err := <-getDone; !errors.Is(err, redis.Nil) {
		t.Fatalf("GET: %v", err)
	}
	want("2 blocking in flight", 2, 2, 1, 1)
	h.let("lower:3")
	waitFor(t, func() bool { return lim.Stats().Waiting == 0 })
	want("1 blocking left", 2, 2, 0, 0)
	h.let("lower:4")
	h.let("lower:5")
	if st := lim.Stats(); st.InFlight != 0 || st.Admitted != 6 || st.Rejected != 0 || st.Cancelled != 0 {
		t.Fatalf("at the end: %+v", st)
	}
}

// TestLimiterRaisedLimitsAdmitWaiters raises the budgets while a short and
// a blocking command wait: both are admitted at once, with no permit
// coming back.
func TestLimiterRaisedLimitsAdmitWaiters(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t, &redis.Options{PoolSize: 10, MaxRetries: -1})
	lim, err := hooks.NewLimiter(hooks.LimiterOptions{MaxInFlight: 3, MaxBlocking: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := hooks.Attach(rdb, lim); err != nil {
		t.Fatal(err)
	}
	h := &blpopHolders{t: t, srv: srv, rdb: rdb, done: map[string]chan error{}}
	h.start("raise:1")
	h.start("raise:2")
	waitFor(t, func() bool { return lim.Stats().InFlightBlocking == 2 })
	h.start("raise:3") // waits for the blocking budget
	waitFor(t, func() bool { return lim.Stats().WaitingBlocking == 1 })
	// The short command that takes the last permit stays in flight: the
	// server is paused for writes.
	if _, err := redistest.Do(srv.Addr(), 5*time.Second, "CLIENT", "PAUSE", "30000", "WRITE"); err != nil {
		t.Fatal(err)
	}
	unpaused := false
	unpause := func() {
		if !unpaused {
			unpaused = true
			if _, err := redistest.Do(srv.Addr(), 5*time.Second, "CLIENT", "UNPAUSE"); err != nil {
				t.Error(err)
			}
		}
	}
	defer unpause()
	setDone := make(chan error, 2)
	go func() { setDone <- rdb.Set(context.Background(), "raise:a", 1, 0).Err() }()
	waitFor(t, func() bool { return lim.Stats().InFlight == 3 })
	go func() { setDone <- rdb.Set(context.Background(), "raise:b", 1, 0).Err() }()
	waitFor(t, func() bool { return lim.Stats().Waiting == 2 })

	if err := lim.SetLimits(hooks.LimiterLimits{MaxInFlight: 6, MaxBlocking: 3}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return lim.Stats().Waiting == 0 })
	if st := lim.Stats(); st.InFlight != 5 || st.InFlightBlocking != 3 {
		t.Fatalf("after raising to 6/3: %+v, want both waiters admitted (5 in flight, 3 blocking)", st)
	}
	unpause()
	for range 2 {
		if err := <-setDone; err != nil {
			t.Fatalf("SET: %v", err)
		}
	}
	for _, k := range []string{"raise:1", "raise:2", "raise:3"} {
		h.let(k)
	}
	if st := lim.Stats(); st.InFlight != 0 || st.Waiting != 0 || st.Admitted != 5 {
		t.Fatalf("at the end: %+v", st)
	}
}
