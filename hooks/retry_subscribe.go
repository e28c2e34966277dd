package hooks

import (
	"context"
	"sync"
)

// retrySub is one listener added with Retry.Subscribe.
type retrySub struct {
	fn func(ctx context.Context, ev RetryEvent)
}

// Subscribe adds fn to the listeners of every retry, next to
// RetryOptions.OnRetry and any other subscriber, and returns a function that
// removes it (safe to call more than once). fn is called as OnRetry is:
// before the retry's delay, with no lock held, on the goroutine of the call;
// ctx is the context the command was sent with, so fn can reach the
// command's trace span. Keep it short: the retry waits for it. The metrics
// adapters subscribe this way to a Retry built elsewhere.
func (r *Retry) Subscribe(fn func(ctx context.Context, ev RetryEvent)) (unsubscribe func()) {
	if fn == nil {
		return func() {}
	}
	s := &retrySub{fn: fn}
	r.subMu.Lock()
	var cur []*retrySub
	if p := r.subs.Load(); p != nil {
		cur = *p
	}
	next := append(append(make([]*retrySub, 0, len(cur)+1), cur...), s)
	r.subs.Store(&next)
	r.subMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			r.subMu.Lock()
			defer r.subMu.Unlock()
			p := r.subs.Load()
			if p == nil {
				return
			}
			next := make([]*retrySub, 0, len(*p))
			for _, o := range *p {
				if o != s {
					next = append(next, o)
				}
			}
			if len(next) == 0 {
				r.subs.Store(nil)
				return
			}
			r.subs.Store(&next)
		})
	}
}
