package hooks

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
)

// The Breaker's fast path. gobreaker takes its mutex twice per call; with
// thousands of goroutines on one node that mutex, not the node, sets the
// callers' p99 (the overload scenario of internal/loadtest). While a
// node's circuit is closed and no failure streak is under way, a call that
// succeeds changes nothing gobreaker decides by but its success count, so
// the call runs without gobreaker and its success is counted here, in
// rolling buckets of the same period as gobreaker's, and added to
// gobreaker's counts where ReadyToTrip reads them. A call the Breaker does
// not count (a refusal of the Limiter, the caller's cancellation) needs no
// gobreaker either: a closed circuit decides nothing by them. A call that
// fails is handed to gobreaker as before; from then on every call goes
// through gobreaker until a success there has ended the streak
// (gobreaker's ConsecutiveFailures back to 0).

// fastBuckets is the number of buckets, as gobreaker's (BucketPeriod is
// Window/10).
const fastBuckets = 10

// breakerFast is a node's fast path state.
type breakerFast struct {
	// streak is 0 while the fast path is open. Otherwise it holds, in its
	// low 32 bits, the failures being handed to gobreaker right now, and
	// above them a count of every failure handed (so that a streak that
	// started and ended between two loads is seen).
	streak atomic.Uint64
	period int64 // bucket period in nanoseconds
	epoch  time.Time
	// excluded counts the calls not counted, for counts (tests) only.
	excluded atomic.Uint32
	bkt      [fastBuckets]struct {
		idx atomic.Int64 // which period the count is of
		n   atomic.Uint64
	}
}

const (
	fastPending = 1
	fastSeq     = 1 << 32
	fastPendMsk = fastSeq - 1
)

func (f *breakerFast) init(window time.Duration) {
	f.period = max(int64(window/fastBuckets), 1)
	f.epoch = time.Now()
	for i := range f.bkt {
		f.bkt[i].idx.Store(-fastBuckets)
	}
}

// now is the current period's index (monotonic).
func (f *breakerFast) now() int64 { return int64(time.Since(f.epoch)) / f.period }

// success counts a success of the fast path.
func (f *breakerFast) success() {
	i := f.now()
	b := &f.bkt[i%fastBuckets]
	if old := b.idx.Load(); old != i && b.idx.CompareAndSwap(old, i) {
		// A success counted by another caller between the swap and this
		// store is lost: the count is off by at most a few calls at a
		// bucket's start.
		b.n.Store(0)
	}
	b.n.Add(1)
}

// successes are the fast path's successes over the window.
func (f *breakerFast) successes() uint32 {
	i := f.now()
	var n uint64
	for k := range f.bkt {
		if i-f.bkt[k].idx.Load() < fastBuckets {
			n += f.bkt[k].n.Load()
		}
	}
	return uint32(min(n, 1<<32-1))
}

// reset forgets the fast path's successes: gobreaker forgets its counts on
// every change of state.
func (f *breakerFast) reset() {
	f.excluded.Store(0)
	for k := range f.bkt {
		f.bkt[k].idx.Store(-fastBuckets)
		f.bkt[k].n.Store(0)
	}
}

// failing marks a failure about to be handed to gobreaker; done must
// follow once gobreaker has counted it.
func (f *breakerFast) failing() { f.streak.Add(fastSeq + fastPending) }
func (f *breakerFast) done()    { f.streak.Add(^uint64(fastPending - 1)) }

// add adds the fast path's successes to c, as ReadyToTrip reads them.
func (f *breakerFast) add(c gobreaker.Counts) gobreaker.Counts {
	n := f.successes()
	c.Requests += n
	c.TotalSuccesses += n
	return c
}

// counts are gobreaker's counts with the fast path's successes and
// exclusions added, as the tests read them.
func (nb *nodeBreaker) counts() gobreaker.Counts {
	c := nb.fast.add(nb.cb.Counts())
	x := nb.fast.excluded.Load()
	c.Requests += x
	c.TotalExclusions += x
	return c
}

// executeFast runs call through nb's fast path and reports whether it did:
// false when the circuit is not closed or a failure streak is under way.
func (h *breakerHook) executeFast(ctx context.Context, nb *nodeBreaker, pipeline bool,
	call func(context.Context) error,
) (error, bool) {
	if !nb.closed.Load() || nb.fast.streak.Load() != 0 {
		return nil, false
	}
	err := call(ctx)
	v := verdict(ctx, err, pipeline)
	if v == nil && nb.fast.streak.Load() == 0 {
		nb.fast.success()
		return err, true
	}
	if v == errBreakerExcluded {
		nb.fast.excluded.Add(1)
		return err, true
	}
	// A failure, or a success while a streak began during the call (it
	// must reset gobreaker's streak, as it would have through gobreaker).
	if v == errBreakerFailure {
		nb.fast.failing()
		defer nb.fast.done()
	}
	// Counted by gobreaker as if the call had gone through it (an open or
	// half-open circuit counts nothing it did not let through).
	_, _ = nb.cb.Execute(func() (struct{}, error) { return struct{}{}, v })
	if v == nil {
		nb.fast.endStreak(&nb.cb)
	}
	if h.b.pending.Load() != 0 {
		h.b.deliver()
	}
	return err, true
}

// endStreak opens the fast path again after a success counted by gobreaker,
// if no failure is being handed to it and gobreaker's streak is over.
func (f *breakerFast) endStreak(cb *currentBreaker) {
	s := f.streak.Load()
	if s == 0 || s&fastPendMsk != 0 {
		return
	}
	if c := cb.Counts(); c.ConsecutiveFailures == 0 {
		// Fails if a failure started since the load: the streak stays.
		f.streak.CompareAndSwap(s, 0)
	}
}
