package health

import (
	"context"

	"github.com/redisguard/redisguard/hooks"
)

// breakerChanged is the monitor's breaker subscription. It runs on a
// command's goroutine, so it only wakes followBreaker.
func (m *Monitor) breakerChanged(string, hooks.BreakerState, hooks.BreakerState) {
	m.breakerSeq.Add(1)
	select {
	case m.breakerKick <- struct{}{}:
	default:
	}
}

// followBreaker re-evaluates the status on each breaker state change
// until ctx ends.
func (m *Monitor) followBreaker(ctx context.Context, done chan struct{}) {
	defer close(done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.breakerKick:
			m.refreshBreakers(ctx)
		}
	}
}

// refreshBreakers applies the breakers' current states to the last
// report: the rules run again with them and the last check's other inputs,
// with no I/O. When no breaker is left open but the last check's PING had
// failed (often because the open circuit refused it), it asks the loop for
// a check, so that a stale failure does not outlive the outage.
func (m *Monitor) refreshBreakers(ctx context.Context) {
	seq := m.breakerSeq.Load()
	states := m.opt.Breaker.States() // no lock held: it may run callbacks
	m.mu.Lock()
	if m.last.Status == "" || seq < m.lastSeq {
		// No check yet (the first one reads the states), or a newer view
		// is in already.
		m.mu.Unlock()
		return
	}
	old := m.last.Status
	r := m.last.clone()
	r.Hooks.Breakers = make(map[string]hooks.BreakerState, len(states))
	for addr, st := range states {
		r.Hooks.Breakers[addr] = st
	}
	in := m.lastIn
	in.breakers = r.Hooks.Breakers
	r.Status, r.Reasons = m.opt.Rules.evaluate(in)
	m.last, m.lastIn, m.lastSeq = r, in, seq
	out := r.clone()
	m.mu.Unlock()

	if (in.pingErr != nil || in.pingRefused) && !anyOpen(states) {
		select {
		case m.checkNow <- struct{}{}:
		default:
		}
	}
	m.logChange(ctx, old, out)
	if old != out.Status && m.opt.OnStatusChange != nil {
		m.opt.OnStatusChange(old, out.Status, append([]string(nil), out.Reasons...))
	}
}

func anyOpen(states map[string]hooks.BreakerState) bool {
	for _, st := range states {
		if st == hooks.BreakerOpen {
			return true
		}
	}
	return false
}
