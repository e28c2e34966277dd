package hooks

import (
	"sync"

	"github.com/sony/gobreaker/v2"
)

// state returns the state of addr's breaker; an address with no breaker
// (never seen, or evicted) is closed.
func (b *Breaker) state(addr string) BreakerState {
	nb, ok := b.nodes.Peek(addr)
	if !ok {
		return BreakerClosed
	}
	s := breakerState(nb.cb.State())
	b.deliver()
	return s
}

// States returns the state of every node's breaker the Breaker keeps.
func (b *Breaker) States() map[string]BreakerState {
	keys := b.nodes.Keys()
	m := make(map[string]BreakerState, len(keys))
	for _, k := range keys {
		if nb, ok := b.nodes.Peek(k); ok {
			m[k] = breakerState(nb.cb.State())
		}
	}
	b.deliver()
	return m
}

// Subscribe adds fn to the listeners of every node's state changes, next
// to BreakerOptions.OnStateChange and any other subscriber, and returns a
// function that removes it (safe to call more than once). fn is called as
// OnStateChange is: in order, with no lock held, on the goroutine of a call
// that follows the change or of State and States; it may call them. Keep
// it short: the next listeners and the call wait for it. A health.Monitor
// subscribes this way to follow the breaker at once.
func (b *Breaker) Subscribe(fn func(node string, from, to BreakerState)) (unsubscribe func()) {
	if fn == nil {
		return func() {}
	}
	s := &subscription{fn: fn}
	b.subMu.Lock()
	var cur []*subscription
	if p := b.subs.Load(); p != nil {
		cur = *p
	}
	next := append(append(make([]*subscription, 0, len(cur)+1), cur...), s)
	b.subs.Store(&next)
	b.subMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			b.subMu.Lock()
			defer b.subMu.Unlock()
			p := b.subs.Load()
			if p == nil {
				return
			}
			next := make([]*subscription, 0, len(*p))
			for _, o := range *p {
				if o != s {
					next = append(next, o)
				}
			}
			b.subs.Store(&next)
		})
	}
}

// enqueue is gobreaker's OnStateChange: it runs under gobreaker's lock, so
// it only queues the event.
func (b *Breaker) enqueue(node string, from, to gobreaker.State) {
	b.evMu.Lock()
	b.events = append(b.events, stateEvent{node: node, from: breakerState(from), to: breakerState(to)})
	b.pending.Add(1)
	b.evMu.Unlock()
}

// deliver hands queued events to OnStateChange and the subscribers, in
// order, with no lock held. One goroutine delivers at a time; one that finds
// another at it leaves the events to it.
func (b *Breaker) deliver() {
	for b.pending.Load() != 0 {
		if !b.delivering.CompareAndSwap(false, true) {
			return
		}
		b.deliverQueued()
	}
}

func (b *Breaker) deliverQueued() {
	defer b.delivering.Store(false)
	for {
		b.evMu.Lock()
		batch := b.events
		b.events = nil
		b.pending.Store(0)
		b.evMu.Unlock()
		if len(batch) == 0 {
			return
		}
		var subs []*subscription
		if p := b.subs.Load(); p != nil {
			subs = *p
		}
		for _, e := range batch {
			if b.onStateChange != nil {
				b.onStateChange(e.node, e.from, e.to)
			}
			for _, s := range subs {
				s.fn(e.node, e.from, e.to)
			}
		}
	}
}
