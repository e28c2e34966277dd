package hooks

import (
	"context"
	"sync"
	"time"
)

// The state word of a limCore packs the permits in use, the budgets'
// generation and two flags:
//
//	bits  0..20  commands in flight (general budget)
//	bits 21..41  blocking commands in flight
//	bits 42..61  generation of the budgets, which SetLimits advances
//	bit  62      short commands are queued
//	bit  63      blocking commands are queued
//
// Every change goes through a compare-and-swap of the whole word, so the
// lock-free fast path and the locked slow path always see each other. A
// lock-free change loads the word, then the budgets, then swaps: were the
// budgets replaced in between, the generation has moved and the swap
// fails, so no permit is ever taken or given back by stale budgets (short
// of 2^20 changes of the budgets during one swap).
const (
	limCountBits = 21 // holds maxLimiterBudget
	limCountMask = 1<<limCountBits - 1
	limBlkShift  = limCountBits
	limGenShift  = 2 * limCountBits
	limGenMask   = (uint64(1)<<20 - 1) << limGenShift
	limShortWait = uint64(1) << 62
	limBlkWait   = uint64(1) << 63
)

func limInFlight(s uint64) uint64 { return s & limCountMask }
func limBlocking(s uint64) uint64 { return s >> limBlkShift & limCountMask }

// limDelta is what a command adds to the state word while it holds its
// permits.
func limDelta(blocking bool) uint64 {
	if blocking {
		return 1 | 1<<limBlkShift
	}
	return 1
}

// fits reports whether the permits of a command are free in state s.
func (b *limBudgets) fits(s uint64, blocking bool) bool {
	if limInFlight(s) >= b.maxIn {
		return false
	}
	if blocking {
		return limBlocking(s) < b.maxBlk
	}
	return limInFlight(s)-limBlocking(s) < b.maxShort
}

// fastOK reports whether a command may take its permits without the lock:
// they are free and no queued waiter could be overtaken.
func (b *limBudgets) fastOK(s uint64, blocking bool) bool {
	if !b.fits(s, blocking) || s&limShortWait != 0 {
		return false
	}
	if blocking {
		return s&limBlkWait == 0
	}
	// Queued blocking commands are no obstacle while the blocking budget is
	// spent: they could not use the permit.
	return s&limBlkWait == 0 || limBlocking(s) >= b.maxBlk
}

// acquire takes a permit (two for a blocking command) or returns why not.
func (c *limCore) acquire(ctx context.Context, blocking bool) error {
	d := limDelta(blocking)
	for {
		s := c.state.Load()
		if !c.budgets.Load().fastOK(s, blocking) {
			return c.acquireSlow(ctx, blocking)
		}
		if c.state.CompareAndSwap(s, s+d) {
			c.admitted.Add(1)
			return nil
		}
	}
}

func (c *limCore) acquireSlow(ctx context.Context, blocking bool) error {
	if err := ctx.Err(); err != nil {
		c.cancelled.Add(1)
		return &waitEndedError{msg: "hooks: limiter: context ended before a permit was free", cause: err}
	}
	d := limDelta(blocking)
	bit := limShortWait
	q := &c.shortQ
	if blocking {
		bit, q = limBlkWait, &c.blkQ
	}
	// A full queue refuses without the lock, which belongs to the releases
	// that grant waiters: callers refused in a tight loop must not slow them.
	if b, s := c.budgets.Load(), c.state.Load(); !b.fits(s, blocking) && b.waitBound() > 0 && c.waiting.Load() >= b.waitBound() {
		c.rejected.Add(1)
		return c.limitErr(b, 0, true, blocking, s)
	}

	c.mu.Lock()
	b := c.budgets.Load() // fixed while mu is held
	for {
		s := c.state.Load()
		if b.fits(s, blocking) {
			// By the invariant nobody queued could use these permits.
			if c.state.CompareAndSwap(s, s+d) {
				c.mu.Unlock()
				c.admitted.Add(1)
				return nil
			}
			continue
		}
		if w := b.waitBound(); w > 0 && c.waiting.Load() >= w {
			c.rejected.Add(1)
			c.mu.Unlock()
			return c.limitErr(b, 0, true, blocking, s)
		}
		// Raising the flag in the same compare-and-swap that saw the permits
		// taken: a release that lands after it must take the lock, and
		// will find this waiter queued.
		if c.state.CompareAndSwap(s, s|bit) {
			break
		}
	}
	w := waiterPool.Get().(*waiter)
	w.blocking = blocking
	c.seq++
	w.seq = c.seq
	q.pushBack(w)
	c.waiting.Add(1)
	c.mu.Unlock()

	start := monoNow()
	limit, byDeadline := waitLimit(ctx, b.limits.MaxWait)
	var timeout <-chan time.Time
	var t *time.Timer
	if limit > 0 || byDeadline {
		t = c.waitTimer(w, limit)
		timeout = t.C
	}

	select {
	case <-w.ch:
		stopTimer(t)
		c.endWait(start, w)
		c.admitted.Add(1)
		return nil
	case <-ctx.Done():
		stopTimer(t)
		return c.abandon(w, start, ctx.Err())
	case <-timeout:
		// The timer fired: it holds no value any more.
		if byDeadline {
			return c.abandon(w, start, context.DeadlineExceeded)
		}
		return c.abandon(w, start, nil)
	}
}

// waitLimit returns how long a wait for a permit may last under maxWait
// (0: no bound) and ctx, and whether ctx's deadline is what bounds it.
func waitLimit(ctx context.Context, maxWait time.Duration) (limit time.Duration, byDeadline bool) {
	limit = maxWait
	if dl, ok := waitDeadline(ctx); ok {
		if until := time.Until(dl); limit <= 0 || until < limit {
			return max(until, 0), true
		}
	}
	return limit, false
}

// stopTimer stops t, if any. A timer that fired meanwhile holds no value
// since Go 1.23; a program run with GODEBUG=asynctimerchan=1 keeps the old
// buffered channel, so the value is drained for the next wait.
func stopTimer(t *time.Timer) {
	if t != nil && !t.Stop() {
		select {
		case <-t.C:
		default:
		}
	}
}

// waitTimer returns a timer that fires after d, for w's wait: w's own,
// reset (waiters are pooled, and their timers with them), or with
// c.newTimer a new one, the standard way that make bench's limiter-std
// scenario measures beside it. The caller stops it unless it fired, before
// w goes back to the pool; since Go 1.23 a stopped timer keeps no stale
// value for the next wait.
func (c *limCore) waitTimer(w *waiter, d time.Duration) *time.Timer {
	switch {
	case c.newTimer:
		return time.NewTimer(d)
	case w.timer == nil:
		w.timer = time.NewTimer(d)
	default:
		w.timer.Reset(d)
	}
	return w.timer
}

// abandon ends a wait that the context (cause != nil) or MaxWait (cause
// == nil) cut short. The wait leaves the queue and is counted in one step
// under mu (see limCore).
func (c *limCore) abandon(w *waiter, start int64, cause error) error {
	blocking := w.blocking
	c.mu.Lock()
	if w.granted {
		// The permits arrived while the wait was ending.
		<-w.ch // sent under mu, before granted was visible
		c.endWait(start, w)
		if cause == nil {
			// MaxWait ran out but the permit is here: use it.
			c.mu.Unlock()
			c.admitted.Add(1)
			return nil
		}
		// The caller is gone: hand the permits on rather than leak them.
		c.settle(limDelta(blocking), false)
		c.cancelled.Add(1)
		c.mu.Unlock()
		return &waitEndedError{msg: "hooks: limiter: context ended while waiting for a permit", cause: cause}
	}
	q, bit := &c.shortQ, limShortWait
	if blocking {
		q, bit = &c.blkQ, limBlkWait
	}
	q.remove(w)
	c.waiting.Add(-1)
	if q.head == nil {
		// Leaving frees nothing, and a waiter that could not be granted
		// does not make another one grantable: only the flag changes.
		for {
			s := c.state.Load()
			if c.state.CompareAndSwap(s, s&^bit) {
				break
			}
		}
	}
	waited := c.endWait(start, w)
	if cause != nil {
		c.cancelled.Add(1)
		c.mu.Unlock()
		return &waitEndedError{msg: "hooks: limiter: context ended while waiting for a permit", cause: cause}
	}
	c.rejected.Add(1)
	s, b := c.state.Load(), c.budgets.Load()
	c.mu.Unlock()
	return c.limitErr(b, waited, false, blocking, s)
}

// endWait records the wait, begun at start (monoNow), and recycles w. w must be out of every queue
// and its channel empty.
func (c *limCore) endWait(start int64, w *waiter) time.Duration {
	waited := time.Duration(monoNow() - start)
	c.totalWait.Add(int64(waited))
	for {
		m := c.maxWaitSeen.Load()
		if int64(waited) <= m || c.maxWaitSeen.CompareAndSwap(m, int64(waited)) {
			break
		}
	}
	w.reset()
	waiterPool.Put(w)
	return waited
}

// release gives back a command's permits and hands them to waiters.
func (c *limCore) release(blocking bool) {
	d := limDelta(blocking)
	for {
		s := c.state.Load()
		n := s - d
		// Without the lock only when no waiter could use what is freed.
		if n&limShortWait != 0 || (n&limBlkWait != 0 && limBlocking(n) < c.budgets.Load().maxBlk) {
			break
		}
		if c.state.CompareAndSwap(s, n) {
			return
		}
	}
	c.mu.Lock()
	c.settle(d, false)
	c.mu.Unlock()
}

// settle frees rel and grants waiters in arrival order, in one
// compare-and-swap, so that no lock-free acquire can slip in between; with
// newGen it also advances the generation of the budgets. c.mu must be
// held.
func (c *limCore) settle(rel uint64, newGen bool) {
	b := c.budgets.Load()
	for {
		s := c.state.Load()
		n := s - rel
		in, blk := limInFlight(n), limBlocking(n)
		sp, bp := c.shortQ.head, c.blkQ.head
		ns, nb := 0, 0
		for in < b.maxIn {
			var pick *waiter
			if sp != nil && in-blk < b.maxShort {
				pick = sp
			}
			if bp != nil && blk < b.maxBlk && (pick == nil || bp.seq < pick.seq) {
				pick = bp
			}
			if pick == nil {
				break
			}
			in++
			if pick.blocking {
				blk++
				bp = bp.next
				nb++
			} else {
				sp = sp.next
				ns++
			}
		}
		gen := n & limGenMask
		if newGen {
			gen = (gen + 1<<limGenShift) & limGenMask
		}
		next := in | blk<<limBlkShift | gen
		if sp != nil {
			next |= limShortWait
		}
		if bp != nil {
			next |= limBlkWait
		}
		if !c.state.CompareAndSwap(s, next) {
			continue
		}
		for ; ns > 0; ns-- {
			c.grant(c.shortQ.popFront())
		}
		for ; nb > 0; nb-- {
			c.grant(c.blkQ.popFront())
		}
		return
	}
}

func (c *limCore) grant(w *waiter) {
	w.granted = true
	c.waiting.Add(-1)
	w.ch <- struct{}{}
}

// stats reads the figures under mu, where waits are queued, granted and
// ended, so that they agree (see LimiterStats).
func (c *limCore) stats() LimiterStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	var blkWaiting int64
	for w := c.blkQ.head; w != nil; w = w.next {
		blkWaiting++
	}
	s := c.state.Load()
	return LimiterStats{
		InFlight:         int64(limInFlight(s)),
		InFlightBlocking: int64(limBlocking(s)),
		Waiting:          c.waiting.Load(),
		WaitingBlocking:  blkWaiting,
		Admitted:         c.admitted.Load(),
		Rejected:         c.rejected.Load(),
		Cancelled:        c.cancelled.Load(),
		TotalWait:        time.Duration(c.totalWait.Load()),
		MaxWaitSeen:      time.Duration(c.maxWaitSeen.Load()),
		Limit:            int64(c.budgets.Load().maxShort),
		LimiterLimits:    c.budgets.Load().limits,
	}
}

// waiter is a command queued for a permit.
type waiter struct {
	prev, next *waiter
	seq        uint64
	blocking   bool
	granted    bool          // set under mu when the permits are its own
	ch         chan struct{} // capacity 1; receives once, when granted
	timer      *time.Timer   // the wait's, stopped or fired when pooled
}

func (w *waiter) reset() {
	w.prev, w.next = nil, nil
	w.seq, w.blocking, w.granted = 0, false, false
}

var waiterPool = sync.Pool{New: func() any { return &waiter{ch: make(chan struct{}, 1)} }}

// waitList is an intrusive FIFO of waiters.
type waitList struct{ head, tail *waiter }

func (l *waitList) pushBack(w *waiter) {
	w.prev, w.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = w
	} else {
		l.head = w
	}
	l.tail = w
}

func (l *waitList) popFront() *waiter {
	w := l.head
	l.remove(w)
	return w
}

func (l *waitList) remove(w *waiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		l.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		l.tail = w.prev
	}
	w.prev, w.next = nil, nil
}
