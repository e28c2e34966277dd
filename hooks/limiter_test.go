package hooks

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/internal/redistest"
)

// ltWaitFor polls cond until it holds; it fails the test after a generous
// bound (a readiness wait, not a timing assertion).
func ltWaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func ltNewLimiter(t testing.TB, opt LimiterOptions) *Limiter {
	t.Helper()
	l, err := NewLimiter(opt)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func ltGet(id string) redis.Cmder { return redis.NewStringCmd(context.Background(), "get", id) }

func ltBLPop(id string) redis.Cmder {
	return redis.NewStringSliceCmd(context.Background(), "blpop", id, "5")
}

// ltGate is a next that records the order commands enter it (by their key)
// and holds each one until let is called with its key.
type ltGate struct {
	mu    sync.Mutex
	order []string
	gates map[string]chan struct{}
}

func newLtGate() *ltGate { return &ltGate{gates: make(map[string]chan struct{})} }

func (g *ltGate) gate(id string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	c, ok := g.gates[id]
	if !ok {
		c = make(chan struct{})
		g.gates[id] = c
	}
	return c
}

func (g *ltGate) next(_ context.Context, cmd redis.Cmder) error {
	id := fmt.Sprint(cmd.Args()[1])
	g.mu.Lock()
	g.order = append(g.order, id)
	g.mu.Unlock()
	<-g.gate(id)
	return nil
}

// let ends the command with key id.
func (g *ltGate) let(id string) { close(g.gate(id)) }

func (g *ltGate) entered() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.order...)
}

// ltWaitEntered waits until n commands have entered next. A permit is
// taken before its command enters next: wait for this, not for InFlight,
// before ltLetAndSee counts who entered.
func ltWaitEntered(t *testing.T, g *ltGate, n int) {
	t.Helper()
	ltWaitFor(t, fmt.Sprintf("%d commands in next", n), func() bool { return len(g.entered()) == n })
}

// ltLetAndSee ends the command id and waits until want has entered next.
func ltLetAndSee(t *testing.T, g *ltGate, id, want string) {
	t.Helper()
	n := len(g.entered())
	g.let(id)
	ltWaitFor(t, want+" admitted", func() bool { return len(g.entered()) > n })
	if got := g.entered()[n]; got != want {
		t.Fatalf("after %s ended, %s was admitted; want %s (order %v)", id, got, want, g.entered())
	}
}

// ltRunner returns a function that runs h on a command in a new goroutine
// counted by wg; an error fails the test.
func ltRunner(t *testing.T, wg *sync.WaitGroup, h redis.ProcessHook) func(redis.Cmder) {
	return func(cmd redis.Cmder) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := h(context.Background(), cmd); err != nil {
				t.Error(err)
			}
		}()
	}
}

func TestLimiterOptionsValidation(t *testing.T) {
	bad := []struct {
		opt  LimiterOptions
		want string
	}{
		{LimiterOptions{}, "MaxInFlight is 0"},
		{LimiterOptions{MaxInFlight: 1}, "MaxInFlight is 1"},
		{LimiterOptions{MaxInFlight: -3}, "MaxInFlight is -3"},
		{LimiterOptions{MaxInFlight: 1<<20 + 1}, "MaxInFlight is 1048577"},
		{LimiterOptions{MaxInFlight: 8, MaxBlocking: 8}, "MaxBlocking is 8"},
		{LimiterOptions{MaxInFlight: 8, MaxBlocking: -1}, "MaxBlocking is -1"},
		{LimiterOptions{MaxInFlight: 8, MaxWait: -time.Second}, "MaxWait is -1s"},
		{LimiterOptions{MaxInFlight: 8, MaxWaiting: -2}, "MaxWaiting is -2"},
	}
	for _, c := range bad {
		_, err := NewLimiter(c.opt)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "hooks: ") {
			t.Errorf("NewLimiter(%+v) = %v, want an error containing %q", c.opt, err, c.want)
		}
	}
	defaults := []struct{ in, blk int }{{2, 1}, {4, 1}, {8, 2}, {40, 10}, {7, 1}}
	for _, c := range defaults {
		l := ltNewLimiter(t, LimiterOptions{MaxInFlight: c.in})
		if st := l.Stats(); st.MaxInFlight != c.in || st.MaxBlocking != c.blk {
			t.Errorf("MaxInFlight %d: budgets %d/%d, want %d/%d", c.in, st.MaxInFlight, st.MaxBlocking, c.in, c.blk)
		}
	}
}

// TestLimiterFIFO queues ten commands one by one behind a full budget and
// checks they are admitted in arrival order.
func TestLimiterFIFO(t *testing.T) {
	l := ltNewLimiter(t, LimiterOptions{MaxInFlight: 2})
	g := newLtGate()
	h := l.processHook(g.next)
	var wg sync.WaitGroup
	run := ltRunner(t, &wg, h)
	run(ltGet("h1"))
	run(ltGet("h2"))
	ltWaitFor(t, "two holders", func() bool { return l.Stats().InFlight == 2 })
	ltWaitEntered(t, g, 2)
	var want []string
	for i := range 10 {
		id := "w" + strconv.Itoa(i)
		want = append(want, id)
		run(ltGet(id))
		ltWaitFor(t, id+" queued", func() bool { return l.Stats().Waiting == int64(i+1) })
	}
	// One command ends at a time; each time the next in arrival order
	// must be the one admitted.
	ended := []string{"h1", "h2"}
	for _, id := range want {
		ltLetAndSee(t, g, ended[0], id)
		ended = append(ended[1:], id)
	}
	for _, id := range ended {
		g.let(id)
	}
	wg.Wait()
	ltCheckIdle(t, l, 12, 0, 0)
}

// ltCheckIdle checks that nothing is held or queued and the counters add up.
func ltCheckIdle(t *testing.T, l *Limiter, admitted, rejected, cancelled uint64) {
	t.Helper()
	st := l.Stats()
	if st.InFlight != 0 || st.InFlightBlocking != 0 || st.Waiting != 0 {
		t.Errorf("limiter not idle: %+v", st)
	}
	if st.Admitted != admitted || st.Rejected != rejected || st.Cancelled != cancelled {
		t.Errorf("admitted/rejected/cancelled %d/%d/%d, want %d/%d/%d",
			st.Admitted, st.Rejected, st.Cancelled, admitted, rejected, cancelled)
	}
}

// TestLimiterBlockingBudget checks that blocking commands queue on their own
// budget, in arrival order, while short commands pass them.
func TestLimiterBlockingBudget(t *testing.T) {
	l := ltNewLimiter(t, LimiterOptions{MaxInFlight: 4, MaxBlocking: 2})
	g := newLtGate()
	h := l.processHook(g.next)
	var wg sync.WaitGroup
	run := ltRunner(t, &wg, h)
	run(ltBLPop("b1"))
	run(ltBLPop("b2"))
	ltWaitFor(t, "two blocking in flight", func() bool { return l.Stats().InFlightBlocking == 2 })
	run(ltBLPop("b3"))
	ltWaitFor(t, "b3 queued", func() bool { return l.Stats().Waiting == 1 })
	run(ltBLPop("b4"))
	ltWaitFor(t, "b4 queued", func() bool { return l.Stats().Waiting == 2 })
	// Short commands are admitted at once although blocking ones queue.
	run(ltGet("s1"))
	run(ltGet("s2"))
	ltWaitFor(t, "short commands in flight", func() bool { return l.Stats().InFlight == 4 })
	ltWaitEntered(t, g, 4)
	if st := l.Stats(); st.Waiting != 2 || st.InFlightBlocking != 2 {
		t.Fatalf("stats %+v, want 2 waiting and 2 blocking in flight", st)
	}
	// A fifth short command waits for the general budget.
	run(ltGet("s3"))
	ltWaitFor(t, "s3 queued", func() bool { return l.Stats().Waiting == 3 })
	// b1 ends: b3 (arrived before s3) takes the general and blocking permit.
	ltLetAndSee(t, g, "b1", "b3")
	// s1 ends: b4 is first in line but the blocking budget is spent, so s3
	// gets the permit.
	ltLetAndSee(t, g, "s1", "s3")
	// b2 ends: b4's turn.
	ltLetAndSee(t, g, "b2", "b4")
	for _, id := range []string{"s2", "b3", "s3", "b4"} {
		g.let(id)
	}
	wg.Wait()
	ltCheckIdle(t, l, 7, 0, 0)
}

func TestLimiterMaxWait(t *testing.T) {
	l := ltNewLimiter(t, LimiterOptions{MaxInFlight: 2, MaxWait: 20 * time.Millisecond})
	g := newLtGate()
	h := l.processHook(g.next)
	var wg sync.WaitGroup
	for _, id := range []string{"h1", "h2"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = h(context.Background(), ltGet(id))
		}()
	}
	ltWaitFor(t, "holders", func() bool { return l.Stats().InFlight == 2 })
	err := h(context.Background(), ltGet("late"))
	if !errors.Is(err, ErrLimited) {
		t.Fatalf("err = %v, want ErrLimited", err)
	}
	msg := err.Error()
	for _, part := range []string{"hooks: limiter: waited ", "for a permit (in flight 2/2)", ": hooks: limiter: no permit"} {
		if !strings.Contains(msg, part) {
			t.Errorf("error %q lacks %q", msg, part)
		}
	}
	// A blocking command names the blocking budget too.
	err = h(context.Background(), ltBLPop("late-b"))
	if !errors.Is(err, ErrLimited) || !strings.Contains(err.Error(), "blocking 0/1") {
		t.Errorf("blocking err = %v", err)
	}
	st := l.Stats()
	if st.Rejected != 2 || st.MaxWaitSeen <= 0 || st.TotalWait < st.MaxWaitSeen {
		t.Errorf("stats after two rejections: %+v", st)
	}
	g.let("h1")
	g.let("h2")
	wg.Wait()
	ltCheckIdle(t, l, 2, 2, 0)
}

func TestLimiterMaxWaiting(t *testing.T) {
	l := ltNewLimiter(t, LimiterOptions{MaxInFlight: 2, MaxWaiting: 1})
	g := newLtGate()
	h := l.processHook(g.next)
	var wg sync.WaitGroup
	for _, id := range []string{"h1", "h2", "w1"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := h(context.Background(), ltGet(id)); err != nil {
				t.Error(err)
			}
		}()
		if id == "h2" {
			ltWaitFor(t, "holders", func() bool { return l.Stats().InFlight == 2 })
		}
	}
	ltWaitFor(t, "one waiter", func() bool { return l.Stats().Waiting == 1 })
	err := h(context.Background(), ltGet("shed"))
	if !errors.Is(err, ErrLimited) || !strings.Contains(err.Error(), "1 commands already waiting (MaxWaiting)") {
		t.Fatalf("err = %v, want ErrLimited for MaxWaiting", err)
	}
	for _, id := range []string{"h1", "h2", "w1"} {
		g.let(id)
	}
	wg.Wait()
	ltCheckIdle(t, l, 3, 1, 0)
}

// TestLimiterCancelledWaiterLeavesQueue cancels a queued command: it
// returns the context's error, leaves the queue, and the permit that frees
// later goes to the next waiter.
func TestLimiterCancelledWaiterLeavesQueue(t *testing.T) {
	l := ltNewLimiter(t, LimiterOptions{MaxInFlight: 2})
	g := newLtGate()
	h := l.processHook(g.next)
	var wg sync.WaitGroup
	start := func(ctx context.Context, id string, errp *error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			*errp = h(ctx, ltGet(id))
		}()
	}
	var e1, e2, ea, eb error
	start(context.Background(), "h1", &e1)
	start(context.Background(), "h2", &e2)
	ltWaitFor(t, "holders", func() bool { return l.Stats().InFlight == 2 })
	ltWaitEntered(t, g, 2)
	ctx, cancel := context.WithCancel(context.Background())
	start(ctx, "a", &ea)
	ltWaitFor(t, "a queued", func() bool { return l.Stats().Waiting == 1 })
	start(context.Background(), "b", &eb)
	ltWaitFor(t, "b queued", func() bool { return l.Stats().Waiting == 2 })
	cancel()
	ltWaitFor(t, "a gone", func() bool { return l.Stats().Waiting == 1 })
	if st := l.Stats(); st.InFlight != 2 || st.Cancelled != 1 {
		t.Fatalf("after the cancel: %+v", st)
	}
	ltLetAndSee(t, g, "h1", "b") // a holder ends: b gets its permit
	g.let("h2")
	g.let("b")
	wg.Wait()
	if !errors.Is(ea, context.Canceled) || errors.Is(ea, ErrLimited) {
		t.Errorf("cancelled waiter got %v", ea)
	}
	for _, err := range []error{e1, e2, eb} {
		if err != nil {
			t.Error(err)
		}
	}
	if got := fmt.Sprint(g.entered()[2:]); got != "[b]" {
		t.Errorf("admitted after the holders: %s, want [b]", got)
	}
	ltCheckIdle(t, l, 3, 0, 1)

	// A context that has already ended never queues.
	for _, id := range []string{"x1", "x2"} {
		wg.Add(1)
		go func() { defer wg.Done(); _ = h(context.Background(), ltGet(id)) }()
	}
	ltWaitFor(t, "holders again", func() bool { return l.Stats().InFlight == 2 })
	if err := h(ctx, ltGet("dead")); !errors.Is(err, context.Canceled) {
		t.Errorf("ended context: %v", err)
	}
	g.let("x1")
	g.let("x2")
	wg.Wait()
	ltCheckIdle(t, l, 5, 0, 2)
}

// TestLimiterPermitGrantedToCancelledWaiterIsHandedOn drives the race where
// a permit is granted to a waiter whose context ends at the same moment:
// the waiter must pass the permit to the next one, not keep or lose it.
func TestLimiterPermitGrantedToCancelledWaiterIsHandedOn(t *testing.T) {
	l := ltNewLimiter(t, LimiterOptions{MaxInFlight: 2})
	c := l.core("")
	// Two holders, two queued waiters, put in place by hand.
	if err := c.acquire(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if err := c.acquire(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	queue := func() *waiter {
		c.mu.Lock()
		defer c.mu.Unlock()
		for {
			s := c.state.Load()
			if c.state.CompareAndSwap(s, s|limShortWait) {
				break
			}
		}
		w := waiterPool.Get().(*waiter)
		c.seq++
		w.seq, w.start = c.seq, monoNow()
		c.shortQ.pushBack(w)
		c.waiting.Add(1)
		return w
	}
	first, second := queue(), queue()
	c.release(false) // grants the permit to first
	if !first.granted || second.granted {
		t.Fatalf("granted: first %v, second %v", first.granted, second.granted)
	}
	// first's context ended as the permit arrived.
	err := c.abandon(first, context.Canceled)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("abandon: %v", err)
	}
	if !second.granted {
		t.Fatal("the permit was not handed on to the next waiter")
	}
	if st := c.stats(); st.InFlight != 2 || st.Waiting != 0 || st.Cancelled != 1 {
		t.Fatalf("stats after the hand-over: %+v", st)
	}
	<-second.ch
	c.release(false) // second's command ends
	c.release(false) // the last holder ends
	if st := c.stats(); st.InFlight != 0 || st.Waiting != 0 {
		t.Fatalf("stats at the end: %+v", st)
	}
	if s := c.state.Load(); s != 0 {
		t.Fatalf("state word %#x, want 0", s)
	}

	// The same race with MaxWait instead of the context: the waiter keeps
	// the permit and runs.
	if err := c.acquire(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if err := c.acquire(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	w := queue()
	c.release(false)
	if err := c.abandon(w, nil); err != nil {
		t.Fatalf("MaxWait raced with the grant: %v", err)
	}
	if st := c.stats(); st.InFlight != 2 || st.Waiting != 0 {
		t.Fatalf("stats: %+v", st)
	}
	c.release(false)
	c.release(false)
	if s := c.state.Load(); s != 0 {
		t.Fatalf("state word %#x, want 0", s)
	}
}

// TestLimiterNoLeakUnderLoad runs hundreds of goroutines through a small
// budget with cancellations, MaxWait and MaxWaiting rejections, blocking
// commands and pipelines, and checks that the budgets were never exceeded
// and that every permit came back.
func TestLimiterNoLeakUnderLoad(t *testing.T) {
	const (
		maxIn, maxBlk = 8, 2
		goroutines    = 400
		perGoroutine  = 25
	)
	l := ltNewLimiter(t, LimiterOptions{
		MaxInFlight: maxIn, MaxBlocking: maxBlk,
		MaxWait: 3 * time.Millisecond, MaxWaiting: 250,
	})
	var cur, curBlk, peak, peakBlk atomic.Int64
	raise := func(p *atomic.Int64, v int64) {
		for {
			old := p.Load()
			if v <= old || p.CompareAndSwap(old, v) {
				return
			}
		}
	}
	enter := func(blocking bool) {
		raise(&peak, cur.Add(1))
		if blocking {
			raise(&peakBlk, curBlk.Add(1))
		}
		time.Sleep(time.Duration(rand.IntN(100)) * time.Microsecond)
		if blocking {
			curBlk.Add(-1)
		}
		cur.Add(-1)
	}
	h := l.processHook(func(_ context.Context, cmd redis.Cmder) error {
		enter(cmd.Name() == "blpop")
		return nil
	})
	ph := l.processPipelineHook(func(_ context.Context, cmds []redis.Cmder) error {
		enter(cmds[len(cmds)-1].Name() == "blpop")
		return nil
	})
	var ok, limited, ended atomic.Uint64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perGoroutine {
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				switch rand.IntN(5) {
				case 0:
					ctx, cancel = context.WithTimeout(ctx, time.Duration(rand.IntN(2000))*time.Microsecond)
				case 1:
					ctx, cancel = context.WithCancel(ctx)
					go func() { time.Sleep(time.Duration(rand.IntN(500)) * time.Microsecond); cancel() }()
				}
				id := fmt.Sprintf("k%d-%d", g, i)
				var err error
				switch r := rand.IntN(8); {
				case r == 0:
					err = ph(ctx, []redis.Cmder{ltGet(id), ltGet(id)})
				case r == 1:
					err = ph(ctx, []redis.Cmder{ltGet(id), ltBLPop(id)})
				case r < 4:
					err = h(ctx, ltBLPop(id))
				default:
					err = h(ctx, ltGet(id))
				}
				cancel()
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, ErrLimited):
					limited.Add(1)
				case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
					ended.Add(1)
				default:
					t.Errorf("unexpected error: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	if p := peak.Load(); p > maxIn {
		t.Errorf("%d commands in flight at once, budget %d", p, maxIn)
	}
	if p := peakBlk.Load(); p > maxBlk {
		t.Errorf("%d blocking commands in flight at once, budget %d", p, maxBlk)
	}
	t.Logf("ok %d, limited %d, context ended %d; peak in flight %d, blocking %d",
		ok.Load(), limited.Load(), ended.Load(), peak.Load(), peakBlk.Load())
	if ok.Load() == 0 || limited.Load() == 0 {
		t.Errorf("the load did not exercise both outcomes: ok %d, limited %d", ok.Load(), limited.Load())
	}
	ltCheckIdle(t, l, ok.Load(), limited.Load(), ended.Load())
	if s := l.core("").state.Load(); s != 0 {
		t.Errorf("state word %#x, want 0", s)
	}
}

// TestLimiterPipelineCountsOnce checks that a pipeline takes one permit,
// and a blocking one if any command in it blocks.
func TestLimiterPipelineCountsOnce(t *testing.T) {
	l := ltNewLimiter(t, LimiterOptions{MaxInFlight: 4})
	var seen LimiterStats
	ph := l.processPipelineHook(func(context.Context, []redis.Cmder) error {
		seen = l.Stats()
		return nil
	})
	cmds := make([]redis.Cmder, 10)
	for i := range cmds {
		cmds[i] = ltGet(strconv.Itoa(i))
	}
	if err := ph(context.Background(), cmds); err != nil {
		t.Fatal(err)
	}
	if seen.InFlight != 1 || seen.InFlightBlocking != 0 {
		t.Errorf("plain pipeline: %+v", seen)
	}
	if err := ph(context.Background(), append(cmds, ltBLPop("q"))); err != nil {
		t.Fatal(err)
	}
	if seen.InFlight != 1 || seen.InFlightBlocking != 1 {
		t.Errorf("pipeline with BLPOP: %+v", seen)
	}
	ltCheckIdle(t, l, 2, 0, 0)
}

// TestLimiterRejectedPipelineSetsCommandErrors checks that every command of
// a pipeline the limiter refuses carries the error.
func TestLimiterRejectedPipelineSetsCommandErrors(t *testing.T) {
	l := ltNewLimiter(t, LimiterOptions{MaxInFlight: 2, MaxWaiting: 1})
	g := newLtGate()
	h := l.processHook(g.next)
	var wg sync.WaitGroup
	for _, id := range []string{"h1", "h2", "w"} {
		wg.Add(1)
		go func() { defer wg.Done(); _ = h(context.Background(), ltGet(id)) }()
		if id == "h2" {
			ltWaitFor(t, "holders", func() bool { return l.Stats().InFlight == 2 })
		}
	}
	ltWaitFor(t, "a waiter", func() bool { return l.Stats().Waiting == 1 })
	ph := l.processPipelineHook(func(context.Context, []redis.Cmder) error { t.Error("next ran"); return nil })
	cmds := []redis.Cmder{ltGet("a"), ltGet("b")}
	if err := ph(context.Background(), cmds); !errors.Is(err, ErrLimited) {
		t.Fatalf("err = %v", err)
	}
	for _, cmd := range cmds {
		if !errors.Is(cmd.Err(), ErrLimited) {
			t.Errorf("%v: err %v", cmd.Args(), cmd.Err())
		}
	}
	for _, id := range []string{"h1", "h2", "w"} {
		g.let(id)
	}
	wg.Wait()
}

// TestLimiterUsesItsOwnTable checks that the Limiter uses the flags Timeouts
// found only when both use the same table.
func TestLimiterUsesItsOwnTable(t *testing.T) {
	notBlocking := newCommandTable(withCommand("blpop", flagWrite))
	tmo, err := NewTimeouts(TimeoutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		table *CommandTable
		want  int64
	}{
		{"same table", nil, 1},
		{"own table", notBlocking, 0},
	} {
		l := ltNewLimiter(t, LimiterOptions{MaxInFlight: 4, Commands: c.table})
		var blk int64 = -1
		h := tmo.processHook(l.processHook(func(ctx context.Context, _ redis.Cmder) error {
			if _, ok := ctx.(*deadlineCtx); !ok {
				t.Errorf("%s: Timeouts did not pass its context", c.name)
			}
			blk = l.Stats().InFlightBlocking
			return nil
		}))
		if err := h(context.Background(), ltBLPop("q")); err != nil {
			t.Fatal(err)
		}
		if blk != c.want {
			t.Errorf("%s: blocking in flight %d, want %d", c.name, blk, c.want)
		}
	}
}

func TestLimiterNodeStats(t *testing.T) {
	l := ltNewLimiter(t, LimiterOptions{MaxInFlight: 4})
	next := func(context.Context, redis.Cmder) error { return nil }
	a := l.forNode("10.0.0.1:6379").ProcessHook(next)
	b := l.forNode("10.0.0.2:6379").ProcessHook(next)
	own := l.processHook(next)
	for range 3 {
		_ = a(context.Background(), ltGet("x"))
	}
	_ = b(context.Background(), ltGet("x"))
	_ = own(context.Background(), ltGet("x"))
	ns := l.NodeStats()
	if len(ns) != 3 || ns["10.0.0.1:6379"].Admitted != 3 || ns["10.0.0.2:6379"].Admitted != 1 || ns[""].Admitted != 1 {
		t.Fatalf("NodeStats = %+v", ns)
	}
	if st := l.Stats(); st.Admitted != 5 || st.MaxInFlight != 4 {
		t.Fatalf("Stats = %+v", st)
	}
	if l.forNode("10.0.0.1:6379").(*nodeLimiter).c != l.core("10.0.0.1:6379") {
		t.Fatal("a node's hooks do not share its budget")
	}
}

// ltStarvation is one run of the starvation scenario: pool 8, 16
// goroutines in BLPOP key 5 on an empty list, then SETs from other
// goroutines while every BLPOP is still blocked.
type ltStarvation struct {
	name string
	// hooks returns the hooks to attach (none: bare go-redis).
	hooks func(t *testing.T) []Guard
	// serverBlocked is how many BLPOPs reach the server.
	serverBlocked int
	// sets is how many SETs to try, each with setTimeout.
	sets       int
	setTimeout time.Duration
	wantAllOK  bool
}

// TestLimiterStarvation is the acceptance scenario: with MaxBlocking, 1,000
// SETs complete while 16 BLPOPs are blocked; with bare go-redis, or a
// limiter without a blocking budget, SETs are stuck behind the BLPOPs.
func TestLimiterStarvation(t *testing.T) {
	srv := redistest.Start(t)
	limiter := func(table *CommandTable) func(t *testing.T) []Guard {
		return func(t *testing.T) []Guard {
			return []Guard{ltNewLimiter(t, LimiterOptions{MaxInFlight: 8, MaxBlocking: 4, Commands: table})}
		}
	}
	cases := []ltStarvation{
		{
			name: "guarded", hooks: limiter(nil), serverBlocked: 4,
			sets: 1000, setTimeout: 5 * time.Second, wantAllOK: true,
		},
		{
			// Why the limiter exists: every connection is held by a BLPOP.
			name: "bare", hooks: func(*testing.T) []Guard { return nil }, serverBlocked: 8,
			sets: 8, setTimeout: time.Second,
		},
		{
			// The same limiter with no blocking budget: a table that
			// does not know BLPOP blocks lets BLPOPs take every permit.
			name: "no blocking budget", hooks: limiter(newCommandTable(withCommand("blpop", flagWrite))), serverBlocked: 8,
			sets: 8, setTimeout: time.Second,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			done, blpopsBefore := ltRunStarvation(t, srv, c)
			t.Logf("%s: %d of %d SETs completed while 16 BLPOPs were blocked (%d BLPOPs had returned)",
				c.name, done, c.sets, blpopsBefore)
			if blpopsBefore != 0 {
				t.Fatalf("%d BLPOPs returned before the SETs ended: the scenario did not hold", blpopsBefore)
			}
			if c.wantAllOK && done != c.sets {
				t.Fatalf("only %d of %d SETs completed", done, c.sets)
			}
			if !c.wantAllOK && done != 0 {
				t.Fatalf("%d SETs completed; expected them stuck behind the BLPOPs", done)
			}
		})
	}
}

func ltRunStarvation(t *testing.T, srv *redistest.Server, c ltStarvation) (setsDone, blpopsBefore int) {
	rdb := srv.Client(t, &redis.Options{PoolSize: 8, MaxRetries: -1, ContextTimeoutEnabled: true})
	hs := c.hooks(t)
	if len(hs) > 0 {
		if err := Attach(rdb, hs...); err != nil {
			t.Fatal(err)
		}
	}
	var lim *Limiter
	for _, h := range hs {
		if l, ok := h.(*Limiter); ok {
			lim = l
		}
	}
	key := "starve:" + strings.ReplaceAll(c.name, " ", "-")
	var blpops sync.WaitGroup
	var returned atomic.Int64
	for range 16 {
		blpops.Add(1)
		go func() {
			defer blpops.Done()
			err := rdb.BLPop(context.Background(), 5*time.Second, key).Err()
			returned.Add(1)
			if err != nil && err != redis.Nil {
				t.Errorf("BLPOP: %v", err)
			}
		}()
	}
	// Release the BLPOPs however the test ends, from a connection of its own.
	t.Cleanup(func() {
		items := make([]string, 0, 18)
		items = append(items, "RPUSH", key)
		for i := range 16 {
			items = append(items, strconv.Itoa(i))
		}
		if _, err := redistest.Do(srv.Addr(), 5*time.Second, items...); err != nil {
			t.Errorf("RPUSH: %v", err)
		}
		blpops.Wait()
	})
	ltWaitFor(t, fmt.Sprintf("%d BLPOPs blocked on the server", c.serverBlocked), func() bool {
		return ltBlockedClients(t, srv) == c.serverBlocked
	})
	if lim != nil {
		ltWaitFor(t, "the other BLPOPs queued in the limiter", func() bool {
			st := lim.Stats()
			return st.InFlight == int64(c.serverBlocked) && st.Waiting == int64(16-c.serverBlocked)
		})
	}

	var ok atomic.Int64
	var sets sync.WaitGroup
	work := make(chan int)
	for range 8 {
		sets.Add(1)
		go func() {
			defer sets.Done()
			for i := range work {
				ctx, cancel := context.WithTimeout(context.Background(), c.setTimeout)
				err := rdb.Set(ctx, fmt.Sprintf("%s:set:%d", key, i), i, 0).Err()
				cancel()
				if err == nil {
					ok.Add(1)
				} else if c.wantAllOK {
					t.Errorf("SET: %v", err)
				}
			}
		}()
	}
	for i := range c.sets {
		work <- i
	}
	close(work)
	sets.Wait()
	blpopsBefore = int(returned.Load())
	if got := ltBlockedClients(t, srv); got != c.serverBlocked {
		t.Errorf("%d clients blocked on the server after the SETs, want %d", got, c.serverBlocked)
	}
	return int(ok.Load()), blpopsBefore
}

// ltBlockedClients reads blocked_clients from INFO clients.
func ltBlockedClients(t testing.TB, srv *redistest.Server) int {
	t.Helper()
	info, err := redistest.Do(srv.Addr(), 5*time.Second, "INFO", "clients")
	if err != nil {
		t.Fatalf("INFO clients: %v", err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "blocked_clients:"); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("blocked_clients %q: %v", v, err)
			}
			return n
		}
	}
	t.Fatalf("no blocked_clients in INFO clients:\n%s", info)
	return 0
}

// TestLimiterConnectionHandshakeNeedsNoPermit is the regression test for a
// deadlock: go-redis sends a new connection's HELLO through the hooks,
// nested in the command that holds the last permit. The handshake must
// not wait for a permit.
func TestLimiterConnectionHandshakeNeedsNoPermit(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t, &redis.Options{PoolSize: 4, MaxRetries: -1})
	l := ltNewLimiter(t, LimiterOptions{MaxInFlight: 2, MaxBlocking: 1, MaxWait: 2 * time.Second})
	if err := Attach(rdb, l); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- rdb.BLPop(context.Background(), 10*time.Second, "handshake:q").Err() }()
	ltWaitFor(t, "the BLPOP blocked", func() bool { return ltBlockedClients(t, srv) == 1 })
	// The GET takes the last permit and needs a new connection.
	if err := rdb.Get(context.Background(), "handshake:k").Err(); err != redis.Nil {
		t.Errorf("GET on a new connection holding the last permit: %v", err)
	}
	if _, err := redistest.Do(srv.Addr(), 5*time.Second, "RPUSH", "handshake:q", "x"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("BLPOP: %v", err)
	}
	if st := l.Stats(); st.InFlight != 0 || st.Admitted != 2 || st.Rejected != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestLimiterSetLimitsInvalidatesRacingSwaps: a lock-free acquire (or
// release) that loaded the state word and the budgets before SetLimits
// cannot land its swap after it, since the budgets' generation moved: no
// permit is taken by budgets no longer in force. A node budget made after
// the change starts with the new budgets.
func TestLimiterSetLimitsInvalidatesRacingSwaps(t *testing.T) {
	l := ltNewLimiter(t, LimiterOptions{MaxInFlight: 4})
	c := l.core("")
	for range 3 {
		if err := c.acquire(context.Background(), false); err != nil {
			t.Fatal(err)
		}
	}
	// An acquire loads the word, then the budgets, and finds room.
	s := c.state.Load()
	if !c.budgets.Load().fastOK(s, false) {
		t.Fatal("the fourth permit is not free under the first budgets")
	}
	if err := l.SetLimits(LimiterLimits{MaxInFlight: 2}); err != nil {
		t.Fatal(err)
	}
	// Its swap now must fail, and its next try sees no room.
	if c.state.CompareAndSwap(s, s+limDelta(false)) {
		t.Fatal("a swap prepared under the old budgets landed after SetLimits")
	}
	if now := c.state.Load(); limInFlight(now) != 3 || c.budgets.Load().fastOK(now, false) {
		t.Fatalf("state %#x: want 3 in flight and no room under the new budgets", now)
	}
	if got := l.core("10.0.0.9:6379").budgets.Load().limits; got != (LimiterLimits{MaxInFlight: 2, MaxBlocking: 1}) {
		t.Errorf("a new node's limits %+v", got)
	}
	for range 3 {
		c.release(false)
	}
	if now := c.state.Load(); now&^limGenMask != 0 {
		t.Fatalf("state %#x after the releases, want no permit and no flag", now)
	}
}

// TestLimiterAdaptiveQueueBoundIsNamed: with the adaptive limit on and no
// MaxWaiting, the queue is bounded by the limit, and the refusal says so
// rather than naming a MaxWaiting that was never set.
func TestLimiterAdaptiveQueueBoundIsNamed(t *testing.T) {
	l := ltNewLimiter(t, LimiterOptions{MaxInFlight: 2, MinInFlight: 1})
	g := newLtGate()
	h := l.processHook(g.next)
	var wg sync.WaitGroup
	// The limit starts at MaxInFlight: two run, two wait.
	ids := []string{"h1", "h2", "w1", "w2"}
	for i, id := range ids {
		wg.Go(func() {
			if err := h(context.Background(), ltGet(id)); err != nil {
				t.Error(err)
			}
		})
		ltWaitFor(t, id, func() bool { st := l.Stats(); return st.InFlight+st.Waiting == int64(i+1) })
	}
	err := h(context.Background(), ltGet("shed"))
	if !errors.Is(err, ErrLimited) || !strings.Contains(err.Error(), "2 commands already waiting (the adaptive limit)") {
		t.Fatalf("err = %v, want ErrLimited naming the adaptive limit", err)
	}
	for _, id := range ids {
		g.let(id)
	}
	wg.Wait()
}
