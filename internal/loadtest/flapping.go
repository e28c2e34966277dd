package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
	"github.com/redisguard/redisguard/profiles"
)

// runFlapping measures load amplification while a server flaps. 64
// goroutines call GET or SET (both idempotent) on a fixed schedule, 100
// calls a second each, for 6 s; from 0.5 s to 5.5 s the proxy in front of
// the server loses each reply to a command with probability 1/2 and closes
// its connection (the command ran; handshakes pass, so a lost connection is
// replaced at once: the clients set DisableIdentity, leaving HELLO alone in
// the set-up). A refused connection is not simulated: it sends no command,
// so it adds nothing to what is measured here. The schedule makes every variant make about the same
// calls whatever its errors cost: a client that fails fast does not make
// more calls, and one that retries slowly skips the slots it misses.
//
// Amplification is the GETs and SETs the server received during the fault
// (INFO commandstats read from the server itself at its start and end, so
// handshakes and INFO are not counted) divided by the calls started during
// it, failed ones included.
//
// Variants, each on a fresh client, one after the other: bare go-redis
// (MaxRetries 3, its default, set explicitly), the API preset, and two
// without the Breaker, so that only the retry budget bounds the re-sends:
// the API preset's other hooks with the budget, and without it.
func runFlapping(e *env) ([]Row, error) {
	srv, err := e.server()
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	px, err := redistest.StartProxy(srv.Addr())
	if err != nil {
		return nil, err
	}
	defer px.Close()
	const workers, perSecond, share = 64, 100, 0.5
	d, faultAt, faultFor := e.dur(6*time.Second), e.dur(500*time.Millisecond), e.dur(5*time.Second)
	every := time.Second / perSecond

	f := flapRun{srv: srv, px: px, workers: workers, share: share, d: d, faultAt: faultAt, faultFor: faultFor, every: every}
	run := func(out *flapResult, c redis.UniversalClient, r *hooks.Retry) error {
		var err error
		*out, err = f.measure(c, r)
		closeClient(c.(io.Closer))
		return err
	}

	var b, g, gb, gn flapResult
	bare := redis.NewClient(&redis.Options{Addr: px.Addr(), PoolSize: 50, MaxRetries: 3, DisableIdentity: true})
	if err := run(&b, bare, nil); err != nil {
		return nil, err
	}
	for _, v := range []struct {
		out     *flapResult
		breaker bool
		change  func(*profiles.Config)
	}{
		{&g, true, nil},
		{&gb, false, nil},
		{&gn, false, func(cfg *profiles.Config) { cfg.Retry.NoBudget = true }},
	} {
		c, r, err := flapClient(px.Addr(), v.breaker, v.change)
		if err != nil {
			return nil, err
		}
		if err := run(v.out, c, r); err != nil {
			return nil, err
		}
	}

	amp := func(r flapResult) float64 { return float64(r.sent) / float64(r.calls) }
	goodput := func(r flapResult) float64 { return float64(r.ok) / faultFor.Seconds() }
	errs := func(r flapResult) float64 { return float64(r.calls - r.ok) }
	figures := func(r flapResult) string {
		s := (&sample{errs: r.errs}).errString()
		return fmt.Sprintf("calls %d, sent %d, retries %d, budget spent %d, errors %s",
			r.calls, r.sent, r.retry.Retries, r.retry.BudgetSpent, s)
	}
	note := fmt.Sprintf("64 goroutines, each a GET or SET every %s, for %s; from %s for %s the proxy loses each reply to a command with p=%.1f and closes its connection (the command ran; HELLO passes, DisableIdentity on every client); figures over the fault: amplification = GET+SET received by the server (INFO commandstats) / calls started, failed ones included; bare = go-redis MaxRetries 3, pool 50 (calls %d, sent %d, errors %s); guarded = API preset with its default retry budget (%s)",
		every, d, faultAt, faultFor, share, b.calls, b.sent, (&sample{errs: b.errs}).errString(),
		figures(g))
	return []Row{
		row("flapping", "load amplification (sent / calls)", "ratio", amp(b), amp(g), note+"; target: guarded <= 1.15"),
		row("flapping", "goodput during the fault", "ops/s", goodput(b), goodput(g), ""),
		row("flapping", "errors during the fault", "count", errs(b), errs(g), ""),
		row("flapping", "same, guarded without Breaker: amplification", "ratio", amp(b), amp(gb),
			"the API preset's Timeouts, Retry (with its budget) and Limiter: only the budget bounds the re-sends; "+figures(gb)),
		row("flapping", "same, guarded without Breaker: goodput", "ops/s", goodput(b), goodput(gb), ""),
		row("flapping", "same, without Breaker or budget: amplification", "ratio", amp(b), amp(gn),
			"Retry.NoBudget, for what the budget saves; "+figures(gn)),
	}, nil
}

// flapResult is one variant's figures over the fault.
type flapResult struct {
	calls, ok, sent int64 // during the fault
	errs            map[string]int
	retry           hooks.RetryStats
}

// flapRun is the flapping scenario's server, proxy and schedule.
type flapRun struct {
	srv                         *redistest.Server
	px                          *redistest.Proxy
	workers                     int
	share                       float64
	d, faultAt, faultFor, every time.Duration
}

// measure runs the schedule on c, cutting replies during the fault, and
// returns c's figures over it (r: its Retry, if any).
func (f flapRun) measure(c redis.UniversalClient, r *hooks.Retry) (flapResult, error) {
	res := flapResult{errs: map[string]int{}}
	start := time.Now()
	faultStart, faultEnd, stop := start.Add(f.faultAt), start.Add(f.faultAt+f.faultFor), start.Add(f.d)
	var before, after int64
	var statErr error
	faultDone := make(chan struct{})
	go func() {
		defer close(faultDone)
		time.Sleep(time.Until(faultStart))
		name := f.px.CutReplies(f.share)
		if before, statErr = redistest.CommandCalls(f.srv.Addr(), "get", "set"); statErr != nil {
			f.px.RemoveToxic(name)
			return
		}
		time.Sleep(time.Until(faultEnd))
		after, statErr = redistest.CommandCalls(f.srv.Addr(), "get", "set")
		f.px.RemoveToxic(name)
	}()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for gi := range f.workers {
		wg.Go(func() {
			var calls, ok int64
			errs := map[string]int{}
			k := "f" + strconv.Itoa(gi)
			next := start.Add(f.every * time.Duration(gi) / time.Duration(f.workers))
			for i := 0; next.Before(stop); i++ {
				time.Sleep(time.Until(next))
				t0 := time.Now()
				var err error
				if i%2 == 0 {
					err = c.Set(context.Background(), k, i, 0).Err()
				} else if err = c.Get(context.Background(), k).Err(); err == redis.Nil {
					err = nil
				}
				if !t0.Before(faultStart) && t0.Before(faultEnd) {
					calls++
					if err == nil {
						ok++
					} else {
						errs[errKind(err)]++
					}
				}
				// A call that overran its slot skips the slots it missed.
				for next = next.Add(f.every); next.Before(time.Now()); next = next.Add(f.every) {
				}
			}
			mu.Lock()
			res.calls += calls
			res.ok += ok
			for k, v := range errs {
				res.errs[k] += v
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	<-faultDone
	if statErr != nil {
		return res, statErr
	}
	res.sent = after - before
	if r != nil {
		res.retry = r.Stats()
	}
	return res, nil
}

// flapClient builds a client with the API preset's options and hooks,
// all of them or all but the Breaker. Every client of the scenario sets
// DisableIdentity, so that a new connection's set-up is a HELLO alone,
// which the proxy lets through.
func flapClient(addr string, breaker bool, change func(*profiles.Config)) (redis.UniversalClient, *hooks.Retry, error) {
	cfg := profiles.API()
	cfg.Addr = addr
	if change != nil {
		change(&cfg)
	}
	opt, err := cfg.ClientOptions()
	if err != nil {
		return nil, nil, err
	}
	opt.DisableIdentity = true
	c := redis.NewClient(opt)
	var h profiles.Hooks
	if breaker {
		h, err = profiles.Apply(c, cfg)
	} else if h, err = profiles.NewHooks(cfg); err == nil {
		err = hooks.Attach(c, h.Timeouts, h.Retry, h.Limiter)
	}
	if err != nil {
		closeClient(c)
		return nil, nil, err
	}
	return c, h.Retry, nil
}
