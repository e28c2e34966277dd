package hooks

import (
	"context"
	"time"
)

// A wait for a permit that has a deadline (MaxWait, or the context's when
// its Done channel cannot tell: Timeouts' own context has none) is ended by
// its node's one expiry timer, not by a timer of its own. The timer is
// armed, under mu, at or before the earliest deadline of the queued waits:
// a new wait with an earlier deadline moves it forward; a wait granted
// first leaves it where it is, and when it fires for nobody it is armed
// again for the earliest deadline left. So a wait costs no timer of its
// own, and most waits end with their permit without touching the timer.

// armExpiry makes the node's expiry timer fire by d (monoNow's clock).
// c.mu must be held.
func (c *limCore) armExpiry(d int64) {
	if c.expiryAt != 0 && c.expiryAt <= d {
		return
	}
	c.expiryAt = d
	wait := time.Duration(d - monoNow())
	if c.expiry == nil {
		c.expiry = time.AfterFunc(wait, c.expire)
		return
	}
	c.expiry.Reset(wait)
}

// expire ends every queued wait whose deadline has passed, and arms the
// timer for the earliest deadline left.
func (c *limCore) expire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expiryAt = 0
	now := monoNow()
	var next int64
	for _, q := range [...]*waitList{&c.shortQ, &c.blkQ} {
		for w := q.head; w != nil; {
			after := w.next
			switch d := w.deadline; {
			case d == 0:
			case d <= now:
				c.expireWait(w, now)
			case next == 0 || d < next:
				next = d
			}
			w = after
		}
	}
	if next != 0 {
		c.armExpiry(next)
	}
}

// expireWait ends w's wait at now: out of its queue, counted as abandon
// counts it, and its error left in w.err for the waiter, which the send on
// w.ch wakes. c.mu must be held.
func (c *limCore) expireWait(w *waiter, now int64) {
	c.dequeue(w)
	waited := time.Duration(now - w.start)
	c.recordWait(waited)
	if w.byDeadline {
		c.cancelled.Add(1)
		w.err = &waitEndedError{msg: "hooks: limiter: context ended while waiting for a permit", cause: context.DeadlineExceeded}
	} else {
		c.rejected.Add(1)
		w.err = c.limitErr(c.budgets.Load(), waited, false, w.blocking, c.state.Load())
	}
	w.ch <- struct{}{}
}
