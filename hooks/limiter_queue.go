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
	w.start = monoNow()
	limit, byDeadline := waitLimit(ctx, b.limits.MaxWait)
	bounded := limit > 0 || byDeadline
	if bounded && !c.newTimer {
		w.deadline, w.byDeadline = w.start+int64(limit), byDeadline
		c.armExpiry(w.deadline)
	}
	q.pushBack(w)
	c.waiting.Add(1)
	c.mu.Unlock()

	if c.newTimer {
		return c.waitWithTimer(ctx, w, limit, bounded, byDeadline)
	}
	done := ctx.Done()
	if done == nil {
		// Timeouts' own context, or none that can be cancelled: the permit
		// or the node's expiry timer (see expire) ends the wait.
		<-w.ch
		return c.received(w)
	}
	select {
	case <-w.ch:
		return c.received(w)
	case <-done:
		return c.abandon(w, ctx.Err())
	}
}

// waitWithTimer waits for w's permits with a timer of its own, started for
// this wait, instead of the node's expiry timer: the standard way, which
// make bench's limiter-std scenario measures beside it.
func (c *limCore) waitWithTimer(ctx context.Context, w *waiter, limit time.Duration, bounded, byDeadline bool) error {
	var timeout <-chan time.Time
	if bounded {
		t := time.NewTimer(limit)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-w.ch:
		return c.received(w)
	case <-ctx.Done():
		return c.abandon(w, ctx.Err())
	case <-timeout:
		if byDeadline {
			return c.abandon(w, context.DeadlineExceeded)
		}
		return c.abandon(w, nil)
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

// received ends a wait that w's channel ended: with the permits, or with
// the error expire left in w.err.
func (c *limCore) received(w *waiter) error {
	if err := w.err; err != nil {
		recycle(w)
		return err
	}
	c.endWait(w)
	c.admitted.Add(1)
	return nil
}

// abandon ends a wait that the context (cause != nil) or, with a timer of
// its own, MaxWait (cause == nil) cut short. The wait leaves the queue and
// is counted in one step under mu (see limCore).
func (c *limCore) abandon(w *waiter, cause error) error {
	blocking := w.blocking
	c.mu.Lock()
	switch {
	case w.granted:
		// The permits arrived while the wait was ending.
		<-w.ch // sent under mu, before granted was visible
		c.endWait(w)
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
	case w.err != nil:
		// expire ended the wait first, and counted it.
		<-w.ch
		c.mu.Unlock()
		err := w.err
		recycle(w)
		return err
	}
	c.dequeue(w)
	waited := c.endWait(w)
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

// dequeue takes a wait that was not granted out of its queue. Leaving frees
// nothing, and a waiter that could not be granted does not make another one
// grantable: only the queue's flag may change. c.mu must be held.
func (c *limCore) dequeue(w *waiter) {
	q, bit := &c.shortQ, limShortWait
	if w.blocking {
		q, bit = &c.blkQ, limBlkWait
	}
	q.remove(w)
	c.waiting.Add(-1)
	if q.head == nil {
		for {
			s := c.state.Load()
			if c.state.CompareAndSwap(s, s&^bit) {
				break
			}
		}
	}
}

// endWait records the wait of w and recycles w, which must be out of every
// queue and its channel empty.
func (c *limCore) endWait(w *waiter) time.Duration {
	waited := time.Duration(monoNow() - w.start)
	c.recordWait(waited)
	recycle(w)
	return waited
}

func (c *limCore) recordWait(waited time.Duration) {
	c.totalWait.Add(int64(waited))
	for {
		m := c.maxWaitSeen.Load()
		if int64(waited) <= m || c.maxWaitSeen.CompareAndSwap(m, int64(waited)) {
			break
		}
	}
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
	start      int64 // when the wait began (monoNow)
	deadline   int64 // when expire ends it (monoNow); 0: not by expire
	blocking   bool
	byDeadline bool          // the deadline is the context's, not MaxWait
	granted    bool          // set under mu when the permits are its own
	err        error         // set under mu when expire ended the wait
	ch         chan struct{} // capacity 1; receives once, when granted or expired
}

func (w *waiter) reset() { *w = waiter{ch: w.ch} }

// recycle puts w, out of every queue and its channel empty, back in the
// pool.
func recycle(w *waiter) {
	w.reset()
	waiterPool.Put(w)
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
