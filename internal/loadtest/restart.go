package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redisguard/redisguard/profiles"
)

func runRestart(e *env) ([]Row, error) {
	run := func(build func(addr string) (redis.UniversalClient, error)) (restartOutcome, error) {
		return restartLoad(e, build)
	}
	b, err := run(func(addr string) (redis.UniversalClient, error) {
		return redis.NewClient(&redis.Options{Addr: addr}), nil
	})
	if err != nil {
		return nil, fmt.Errorf("bare: %w", err)
	}
	g, err := run(func(addr string) (redis.UniversalClient, error) {
		return guarded(profiles.Worker(), addr, nil)
	})
	if err != nil {
		return nil, fmt.Errorf("guarded: %w", err)
	}
	note := fmt.Sprintf("8 goroutines INCR + 8 SET, server SIGKILLed and restarted 3 times (AOF always); bare = go-redis defaults (MaxRetries 3); guarded = Worker preset. INCR acked/ambiguous/final: bare %d/%d/%d, guarded %d/%d/%d",
		b.incrAcked, b.incrAmbiguous, b.final, g.incrAcked, g.incrAmbiguous, g.final)
	return []Row{
		row("restart", "INCR duplicates (final - acked - ambiguous, if > 0)", "count", float64(b.dup), float64(g.dup), note),
		row("restart", "SET errors seen by callers", "count", float64(b.setErrs), float64(g.setErrs), fmt.Sprintf("target: guarded 0; SETs ok bare %d, guarded %d", b.setOK, g.setOK)),
		row("restart", "INCR errors seen by callers", "count", float64(b.incrErrs), float64(g.incrErrs), "an INCR that may have run is reported, never re-sent"),
	}, nil
}

// maybeApplied reports whether an error leaves an INCR's outcome unknown.
func maybeApplied(err error) bool {
	switch errKind(err) {
	case "limited", "circuit_open", "pool_timeout", "refused":
		return false
	}
	return true
}

// restartOutcome is one client's figures in the restart scenario.
type restartOutcome struct {
	incrAcked, incrAmbiguous, incrErrs, setErrs, setOK int64
	final                                              int64
	dup                                                int64
}

// restartLoad runs 8 INCR and 8 SET goroutines on a client build makes
// while the server is killed and restarted 3 times, then reads the
// counter back.
func restartLoad(e *env, build func(addr string) (redis.UniversalClient, error)) (restartOutcome, error) {
	var o restartOutcome
	srv, err := e.server("--appendonly", "yes", "--appendfsync", "always")
	if err != nil {
		return o, err
	}
	defer srv.Close()
	c, err := build(srv.Addr())
	if err != nil {
		return o, err
	}
	defer closeClient(c)
	ctx := context.Background()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var n restartCounters
	for w := 0; w < 8; w++ {
		wg.Go(func() { n.incrLoop(ctx, c, stop) })
		wg.Go(func() { n.setLoop(ctx, c, stop, "r:set:"+strconv.Itoa(w)) })
	}
	for i := 0; i < 3; i++ {
		time.Sleep(e.dur(time.Second))
		srv.Kill()
		time.Sleep(200 * time.Millisecond)
		srv.Restart()
	}
	time.Sleep(e.dur(time.Second))
	close(stop)
	wg.Wait()
	check := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	final, err := check.Get(ctx, "r:counter").Int64()
	closeClient(check)
	if err != nil && err != redis.Nil {
		return o, err
	}
	o = restartOutcome{incrAcked: n.acked.Load(), incrAmbiguous: n.ambiguous.Load(), incrErrs: n.incrErrs.Load(),
		setErrs: n.setErrs.Load(), setOK: n.setOK.Load(), final: final}
	if final > o.incrAcked+o.incrAmbiguous {
		o.dup = final - o.incrAcked - o.incrAmbiguous
	}
	if final < o.incrAcked {
		return o, fmt.Errorf("lost acknowledged INCRs: final %d < acked %d", final, o.incrAcked)
	}
	return o, nil
}

// restartCounters count the restart scenario's calls by outcome.
type restartCounters struct {
	acked, ambiguous, incrErrs, setErrs, setOK atomic.Int64
}

// incrLoop INCRs the counter until stop closes.
func (n *restartCounters) incrLoop(ctx context.Context, c redis.UniversalClient, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := c.Incr(cctx, "r:counter").Err()
		cancel()
		switch {
		case err == nil:
			n.acked.Add(1)
		case maybeApplied(err):
			n.ambiguous.Add(1)
			n.incrErrs.Add(1)
		default:
			n.incrErrs.Add(1)
		}
	}
}

// setLoop SETs key until stop closes.
func (n *restartCounters) setLoop(ctx context.Context, c redis.UniversalClient, stop <-chan struct{}, key string) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := c.Set(cctx, key, i, 0).Err()
		cancel()
		if err != nil {
			n.setErrs.Add(1)
		} else {
			n.setOK.Add(1)
		}
	}
}
