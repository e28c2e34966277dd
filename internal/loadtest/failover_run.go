package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
	"github.com/redisguard/redisguard/profiles"
)

// foSetup is one phase of the scenario: two loads, the event, and how to
// know the replica has taken over.
type foSetup struct {
	scen     string
	b, g     *foLoad
	check    redis.Cmdable // reads the counters after the phase
	act      func() error  // the kill or failover
	promoted func() error  // returns once the servers agree on the new master
	// candidates are the failed master's replicas, one of which is
	// promoted.
	candidates []string
	note       string
	// guardedOnly ends the phase once the guarded client writes again,
	// without waiting for the bare one (its figures cover the same window).
	guardedOnly bool
	// rr, if set, are the guarded client's replica reads.
	rr *hooks.ReplicaReads
}

// extra is a note on the guarded client's replica reads, if any.
func (s foSetup) extra() string {
	if s.rr == nil {
		return ""
	}
	st := s.rr.Stats()
	return fmt.Sprintf("; guarded reads answered by a replica while the master's circuit was open: %d, not answered %d", st.Served, st.Failed)
}

// foRun runs both loads, makes the event happen 2 s in, waits until both
// clients succeed on the failed master's keys again (or foLimit), lets the
// load run 3 s more, and returns the phase's rows.
func foRun(e *env, s foSetup) ([]Row, error) {
	ctx := context.Background()
	b, gl := s.b, s.g
	var event, promo atomic.Int64
	promo.Store(-1)
	b.promo, gl.promo = &promo, &promo
	stop := make(chan struct{})
	var wg sync.WaitGroup
	b.run(ctx, &event, stop, &wg)
	gl.run(ctx, &event, stop, &wg)
	time.Sleep(e.dur(2 * time.Second))

	t0 := time.Now()
	event.Store(t0.UnixNano())
	stopWatch := watchPromotion(t0, s.candidates, &promo)
	if err := s.act(); err != nil {
		stopWatch()
		close(stop)
		wg.Wait()
		return nil, err
	}
	promoted := make(chan time.Duration, 1)
	go func() {
		if err := s.promoted(); err != nil {
			promoted <- -1
			return
		}
		promoted <- time.Since(t0)
	}()
	for time.Since(t0) < foLimit && ((b.first.Load() < 0 && !s.guardedOnly) || gl.first.Load() < 0) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(e.dur(3 * time.Second)) // what follows the recovery counts too
	close(stop)
	wg.Wait()
	stopWatch()
	agreed := <-promoted

	var dups, losts, ackeds, ambigs [2]int64
	for i, l := range []*foLoad{b, gl} {
		var err error
		dups[i], losts[i], ackeds[i], ambigs[i], err = l.counters(ctx, s.check)
		if err != nil {
			return nil, err
		}
	}
	promoNote := "the servers did not agree on a new master within the limit"
	if agreed >= 0 {
		promoNote = fmt.Sprintf("the servers agreed on the promoted replica %.0f ms after the event", ms(agreed))
	}
	p := promo.Load()
	promoRow := rowMaybeNone(s.scen, "event -> promotion (a replica of the failed master answers ROLE with master)", "ms", nsMs(p), nsMs(p),
		fmt.Sprintf("the servers' figure, the same for both clients: ROLE of %s polled every %s; -1 = not seen", strings.Join(s.candidates, ", "), foWatchEvery))
	promoRow.Ratio = 0
	return []Row{
		promoRow,
		rowMaybeNone(s.scen, "promotion -> first write (SET, INCR) that succeeds on its keys", "ms",
			sincePromo(p, b.firstPromo.Load()), sincePromo(p, gl.firstPromo.Load()),
			fmt.Sprintf("a write counts from the moment the watch saw the promotion (up to %s late); -1 = none", foWatchEvery)),
		rowMaybeNone(s.scen, "event -> first write (SET, INCR) that succeeds on its keys", "ms", b.firstMs(), gl.firstMs(),
			fmt.Sprintf("%s; %s; -1 = no success within %s", s.note, promoNote, foLimit)),
		rowMaybeNone(s.scen, "event -> last error on its keys", "ms", nsMs(b.lastErr[0].Load()), nsMs(gl.lastErr[0].Load()), "-1 = no error"),
		rowMaybeNone(s.scen, "event -> last error on the other keys", "ms", nsMs(b.lastErr[1].Load()), nsMs(gl.lastErr[1].Load()), "-1 = no error"),
		row(s.scen, "errors on its keys", "count", float64(b.errsOn("failed")), float64(gl.errsOn("failed")),
			fmt.Sprintf("calls after the event: bare %d, guarded %d", b.sum(b.opsAfter), gl.sum(gl.opsAfter))),
		row(s.scen, "errors on the other keys", "count", float64(b.errsOn("other")), float64(gl.errsOn("other")),
			fmt.Sprintf("by keys/class: bare %s; guarded %s", b.errString(), gl.errString())),
		row(s.scen, "SET/GET errors", "count", float64(b.errsAfter[0]+b.errsAfter[2]), float64(gl.errsAfter[0]+gl.errsAfter[2]), ""),
		row(s.scen, "GET error rate after the event", "fraction", b.getErrRate(), gl.getErrRate(),
			fmt.Sprintf("GETs after the event: bare %d, guarded %d%s", b.opsAfter[2], gl.opsAfter[2], s.extra())),
		row(s.scen, "share of GET time in GETs that failed, after the event", "fraction", b.getFailedShare(), gl.getFailedShare(),
			fmt.Sprintf("time in each GET, plus the %s pause after a failure; a client that fails fast makes many more calls while nothing can answer, which the error rate per call counts and this share does not", foPause)),
		row(s.scen, "INCR errors", "count", float64(b.errsAfter[1]), float64(gl.errsAfter[1]),
			fmt.Sprintf("INCR acked/maybe applied: bare %d/%d, guarded %d/%d", ackeds[0], ambigs[0], ackeds[1], ambigs[1])),
		row(s.scen, "INCR duplicates (final - acked - maybe applied, if > 0)", "count", float64(dups[0]), float64(dups[1]),
			fmt.Sprintf("acknowledged INCRs lost with the master (asynchronous replication): bare %d, guarded %d", losts[0], losts[1])),
	}, nil
}

// foSentinel kills the master of a 1 + 2 replica set watched by 3
// Sentinels under the same load.
func foSentinel(e *env) ([]Row, error) {
	set, err := redistest.NewSentinelSet(2, 3)
	if err != nil {
		return nil, err
	}
	defer set.Close()
	bare := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: set.Name, SentinelAddrs: set.Sentinels, PoolSize: 50})
	defer closeClient(bare)
	cfg := profiles.API()
	cfg.SentinelAddrs, cfg.SentinelMaster = set.Sentinels, set.Name
	g, err := profiles.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	defer closeClient(g)
	check := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: set.Name, SentinelAddrs: set.Sentinels})
	defer closeClient(check)
	b, gl := newFoLoad(bare, true, "bsentinel"), newFoLoad(g, false, "gsentinel")
	for _, l := range []*foLoad{b, gl} {
		for i := range l.onDead {
			l.onDead[i] = true
		}
	}
	old := set.Master.Addr()
	return foRun(e, foSetup{
		scen: "failover/sentinel", b: b, g: gl, check: check,
		act:        func() error { set.Master.Kill(); return nil },
		candidates: []string{set.Replicas[0].Addr(), set.Replicas[1].Addr()},
		promoted: func() error {
			deadline := time.Now().Add(foLimit)
			for time.Now().Before(deadline) {
				if m, err := set.MasterAddr(); err == nil && m != old {
					return nil
				}
				time.Sleep(20 * time.Millisecond)
			}
			return errors.New("no new master")
		},
		note: fmt.Sprintf("1 master + 2 replicas, 3 Sentinels (down-after 2 s); SIGKILL of the master; %d goroutines per client (both at once) SET/INCR/GET over %d keys; bare = go-redis failover client defaults (pool 50), guarded = API preset",
			foWorkers, foKeys),
	})
}
