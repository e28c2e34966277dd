package hooks

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// The adaptive limit (LimiterOptions.MinInFlight): the limit for short
// commands follows their latency, as the Gradient2 limit of Netflix's
// concurrency-limits does. Each window (adaptWindow and at least
// adaptMinSamples commands) yields one sample, the mean time from admission
// to the reply of the single short commands that ended in it; blocking
// commands and pipelines (whose time depends on their size) give none. A
// long-term average of the samples stands for the latency without queueing.
// With tolerance 1.5, smoothing 0.2 and a headroom of 4:
//
//	gradient = clamp(1.5 * long / sample, 0.5, 1)
//	limit    = 0.8*limit + 0.2*(limit*gradient + 4), within [MinInFlight, MaxInFlight]
//
// so a latency well above the long-term one lowers the limit (by up to a
// tenth a window) and a latency back to normal raises it (by 0.8 a window)
// while the commands fill the limit; a limit not half used does not move.
// When the long-term latency is more than twice the sample, it is brought
// down by 5% a window, so that it follows a server that got faster.
//
// While the limit is adaptive, at most as many commands as the limit wait
// for a permit (fewer if MaxWaiting says so): a wait longer than about one
// command's time would only hold the caller, and the command is refused at
// once with ErrLimited instead.
const (
	adaptWindow     = 100 * time.Millisecond
	adaptMinSamples = 10
	adaptLongWindow = 600 // windows in the long-term average
	adaptWarmup     = 10  // windows averaged plainly before it is exponential
	adaptTolerance  = 1.5
	adaptSmoothing  = 0.2
	adaptHeadroom   = 4
	adaptLongDecay  = 0.95
)

// adaptive is the adaptive limit of one node.
type adaptive struct {
	on    atomic.Bool  // MinInFlight is set: short commands are sampled
	limit atomic.Int64 // the limit last computed; 0 before the first

	// The current window: the sum of its command times, how many, and
	// when it started (since epoch).
	sum, n, start atomic.Int64
	epoch         time.Time

	mu    sync.Mutex // one update at a time
	est   float64    // the limit, unrounded; under mu
	long  float64    // long-term latency (ns); under mu
	longN int        // windows in long so far; under mu
}

// budgets returns b with the adaptive limit in force for short commands
// (b itself when the limit is fixed). c.mu must be held.
func (a *adaptive) budgets(b *limBudgets) *limBudgets {
	if b.limits.MinInFlight == 0 {
		a.on.Store(false)
		return b
	}
	if a.epoch.IsZero() {
		a.epoch = time.Now()
	}
	lim := a.limit.Load()
	if lim == 0 {
		lim = int64(b.limits.MaxInFlight)
	}
	lim = min(max(lim, int64(b.limits.MinInFlight)), int64(b.limits.MaxInFlight))
	a.limit.Store(lim)
	nb := *b
	nb.maxShort = uint64(lim)
	a.on.Store(true)
	return &nb
}

// waitBound is how many commands may wait for a permit; 0 means no bound.
func (b *limBudgets) waitBound() int64 {
	if b.limits.MinInFlight == 0 {
		return b.maxWaiting
	}
	if b.maxWaiting > 0 {
		return min(b.maxWaiting, int64(b.maxShort))
	}
	return int64(b.maxShort)
}

// sampled runs a short command admitted under the adaptive limit, gives its
// permit back and records its time.
func (c *limCore) sampled(ctx context.Context, cmd redis.Cmder, next redis.ProcessHook) error {
	t0 := time.Now()
	err := next(ctx, cmd)
	rtt := time.Since(t0)
	c.release(false)
	if ctx.Err() == nil { // a caller that gave up says nothing of the node
		c.sample(rtt)
	}
	return err
}

// sample adds one command's time to the window, and ends the window once it
// is long enough.
func (c *limCore) sample(rtt time.Duration) {
	a := &c.adapt
	a.sum.Add(int64(rtt))
	n := a.n.Add(1)
	if n < adaptMinSamples || int64(time.Since(a.epoch))-a.start.Load() < int64(adaptWindow) {
		return
	}
	if !a.mu.TryLock() {
		return // another command is ending the window
	}
	defer a.mu.Unlock()
	now := int64(time.Since(a.epoch))
	if a.n.Load() < adaptMinSamples || now-a.start.Load() < int64(adaptWindow) {
		return // ended meanwhile
	}
	sum, cnt := a.sum.Swap(0), a.n.Swap(0)
	a.start.Store(now)
	if cnt <= 0 || sum <= 0 {
		return
	}
	b := c.budgets.Load()
	if b.limits.MinInFlight == 0 {
		return
	}
	s := c.state.Load()
	busy := c.waiting.Load() > 0 || float64(limInFlight(s)-limBlocking(s)) >= float64(b.maxShort)/2
	lim := a.update(float64(sum)/float64(cnt), busy, b.limits)
	if lim != b.maxShort {
		c.setShortLimit(lim)
	}
}

// update feeds one window's mean latency (ns) to the estimate and returns
// the limit. busy says whether the commands filled at least half the limit.
// a.mu must be held.
func (a *adaptive) update(sample float64, busy bool, lim LimiterLimits) uint64 {
	lo, hi := float64(lim.MinInFlight), float64(lim.MaxInFlight)
	if a.est == 0 {
		a.est = float64(a.limit.Load())
	}
	a.est = min(max(a.est, lo), hi) // the bounds may have changed
	if a.longN < adaptWarmup {
		a.longN++
		a.long += (sample - a.long) / float64(a.longN)
	} else {
		a.long += (sample - a.long) * 2 / (adaptLongWindow + 1)
	}
	if a.long/sample > 2 {
		a.long *= adaptLongDecay
	}
	if busy {
		gradient := min(max(adaptTolerance*a.long/sample, 0.5), 1)
		next := a.est*gradient + adaptHeadroom
		a.est = min(max(a.est*(1-adaptSmoothing)+next*adaptSmoothing, lo), hi)
	}
	l := uint64(math.Round(a.est))
	a.limit.Store(int64(l))
	return l
}

// setShortLimit puts lim in force for short commands: a raised limit
// admits the waiters it has room for, a lowered one takes nothing back.
func (c *limCore) setShortLimit(lim uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.budgets.Load()
	if b.limits.MinInFlight == 0 || b.maxShort == lim {
		return
	}
	nb := *b
	nb.maxShort = lim
	c.budgets.Store(&nb)
	c.settle(0, true)
}
