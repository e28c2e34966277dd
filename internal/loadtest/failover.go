package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
	"github.com/redisguard/redisguard/profiles"
)

// The failover scenario: a 3-master, 3-replica cluster under load from a
// bare and a guarded client at once, one master SIGKILLed; then, the cluster
// healed, one master failed over gracefully with CLUSTER FAILOVER; then the
// master of a Sentinel set (1 + 2 replicas, 3 Sentinels) SIGKILLed. Each
// phase reports, bare beside guarded, the time from the event until the
// failed master's keys take writes again, the errors by class, and INCRs
// applied twice. Two more kills run with the guarded client reading from
// replicas while a master's circuit is open (hooks.ReplicaReads): on the
// same cluster, and on one that does not require full coverage.
const (
	foMasters     = 3
	foNodeTimeout = 2 * time.Second
	foWorkers     = 64  // per client
	foKeys        = 512 // per client; key i is "<prefix>:{i}:s" (SET/GET) and "<prefix>:{i}:c" (INCR)
	// foLimit bounds the wait for both clients to serve the dead master's
	// slots again: go-redis reloads its slot map by itself after
	// ClusterStateReloadInterval (60 s by default).
	foLimit = 75 * time.Second
)

// foLoad is one client's load in one phase and what it saw.
type foLoad struct {
	c      redis.UniversalClient
	bare   bool
	prefix string
	onDead []bool // key i's slot was served by the master that fails
	acked  []atomic.Int64
	ambig  []atomic.Int64
	first  atomic.Int64 // ns from the event to the first SET or INCR that succeeded on the failed master's keys; -1 until then
	// lastErr is the ns from the event to the end of the last failed call,
	// on the failed master's keys [0] and on the others [1]; -1 if none.
	lastErr [2]atomic.Int64
	mu      sync.Mutex
	errs    map[string]int // "slots/class" -> count, for calls sent after the event
	// opsAfter and errsAfter count the calls sent after the event and
	// their errors, by command: SET, INCR, GET.
	opsAfter, errsAfter [3]int
}

func newFoLoad(c redis.UniversalClient, bare bool, prefix string) *foLoad {
	l := &foLoad{c: c, bare: bare, prefix: prefix, onDead: make([]bool, foKeys),
		acked: make([]atomic.Int64, foKeys), ambig: make([]atomic.Int64, foKeys), errs: map[string]int{}}
	l.first.Store(-1)
	l.lastErr[0].Store(-1)
	l.lastErr[1].Store(-1)
	return l
}

func (l *foLoad) key(i int, kind string) string {
	return l.prefix + ":{" + strconv.Itoa(i) + "}:" + kind
}

// foClass names a failed call's class for the table: CLUSTERDOWN replies
// apart, then the classes of the other scenarios.
func foClass(err error) string {
	if strings.HasPrefix(err.Error(), "CLUSTERDOWN") || strings.Contains(err.Error(), ": CLUSTERDOWN") {
		return "clusterdown"
	}
	return errKind(err)
}

// ambiguous reports whether a failed INCR may have been applied: for the
// guarded client, what its error says (hooks.ErrMaybeApplied); for the bare
// one, whose errors do not say, every error but a refusal before the send
// and a CLUSTERDOWN reply.
func (l *foLoad) ambiguous(err error) bool {
	if !l.bare {
		return errors.Is(err, hooks.ErrMaybeApplied)
	}
	return foClass(err) != "clusterdown" && maybeApplied(err)
}

// run sends SET, INCR and GET in turn from foWorkers goroutines over all
// keys until stop is closed. event is the time of the kill or failover
// (UnixNano, 0 before it).
func (l *foLoad) run(ctx context.Context, event *atomic.Int64, stop <-chan struct{}, wg *sync.WaitGroup) {
	for g := 0; g < foWorkers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs := map[string]int{}
			var ops, failed [3]int
			defer func() {
				l.mu.Lock()
				for k, v := range errs {
					l.errs[k] += v
				}
				for i := range ops {
					l.opsAfter[i] += ops[i]
					l.errsAfter[i] += failed[i]
				}
				l.mu.Unlock()
			}()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := (g*131 + i*7) % foKeys
				ev := event.Load()
				after := ev != 0
				var err error
				switch i % 3 {
				case 0:
					err = l.c.Set(ctx, l.key(k, "s"), i, 0).Err()
				case 1:
					err = l.c.Incr(ctx, l.key(k, "c")).Err()
					if err == nil {
						l.acked[k].Add(1)
					} else if l.ambiguous(err) {
						l.ambig[k].Add(1)
					}
				default:
					err = l.c.Get(ctx, l.key(k, "s")).Err()
					if errors.Is(err, redis.Nil) {
						err = nil
					}
				}
				if !after {
					continue
				}
				ops[i%3]++
				since := time.Now().UnixNano() - ev
				if err == nil {
					// Served again means written again: a read may have
					// been answered by a replica (hooks.ReplicaReads).
					if l.onDead[k] && i%3 != 2 && l.first.Load() < 0 {
						for cur := l.first.Load(); cur < 0 || since < cur; cur = l.first.Load() {
							if l.first.CompareAndSwap(cur, since) {
								break
							}
						}
					}
					continue
				}
				slots, region := "other", 1
				if l.onDead[k] {
					slots, region = "failed", 0
				}
				for cur := l.lastErr[region].Load(); since > cur; cur = l.lastErr[region].Load() {
					if l.lastErr[region].CompareAndSwap(cur, since) {
						break
					}
				}
				errs[slots+"/"+foClass(err)]++
				failed[i%3]++
				// A refusal answers at once; do not spin on it.
				time.Sleep(time.Millisecond)
			}
		}()
	}
}

// counters reads every INCR counter through check and returns the
// duplicates (a counter above its acknowledged and maybe-applied INCRs) and
// the INCRs lost (a counter below its acknowledged ones: Redis replicates
// asynchronously, and a master's last writes die with it).
func (l *foLoad) counters(ctx context.Context, check redis.Cmdable) (dup, lost, acked, ambig int64, err error) {
	for i := 0; i < foKeys; i++ {
		n, err := check.Get(ctx, l.key(i, "c")).Int64()
		if err != nil && !errors.Is(err, redis.Nil) {
			return 0, 0, 0, 0, err
		}
		a, m := l.acked[i].Load(), l.ambig[i].Load()
		dup += max(0, n-a-m)
		lost += max(0, a-n)
		acked, ambig = acked+a, ambig+m
	}
	return dup, lost, acked, ambig, nil
}

// errString lists the error classes by the slots they fell on.
func (l *foLoad) errString() string { return countString(l.errs) }

func (l *foLoad) errsOn(slots string) int {
	n := 0
	for k, v := range l.errs {
		if strings.HasPrefix(k, slots+"/") {
			n += v
		}
	}
	return n
}

func (l *foLoad) sum(v [3]int) int { return v[0] + v[1] + v[2] }

func (l *foLoad) getErrRate() float64 {
	if l.opsAfter[2] == 0 {
		return 0
	}
	return float64(l.errsAfter[2]) / float64(l.opsAfter[2])
}

// firstMs is the time to the first write that succeeded on the failed
// master's keys in ms, or -1 when there was none.
func (l *foLoad) firstMs() float64 { return nsMs(l.first.Load()) }

// nsMs turns ns into ms, keeping -1 (none).
func nsMs(ns int64) float64 {
	if ns < 0 {
		return -1
	}
	return ms(time.Duration(ns))
}

// rowMaybeNone is row for figures where -1 means none: no ratio then.
func rowMaybeNone(scen, metric, unit string, bare, guarded float64, notes string) Row {
	r := row(scen, metric, unit, bare, guarded, notes)
	if bare < 0 || guarded < 0 {
		r.Ratio = 0
	}
	return r
}

func runFailover(e *env) ([]Row, error) {
	cl, err := redistest.NewCluster(redistest.ClusterConfig{Masters: foMasters, Replicas: 1, NodeTimeout: foNodeTimeout})
	if err != nil {
		return nil, err
	}
	defer cl.Close()

	bare := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs(), PoolSize: 50})
	defer closeClient(bare)
	cfg := profiles.API()
	cfg.ClusterAddrs = cl.Addrs()
	g, err := profiles.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	defer closeClient(g)

	var killed string
	kill, err := foPhase(e, cl, bare, g, "kill",
		func() (string, error) {
			m, err := bare.MasterForKey(context.Background(), "failover")
			if err != nil {
				return "", err
			}
			return m.Options().Addr, nil
		},
		func(target string) error {
			killed = target
			cl.Server(target).Kill()
			return nil
		}, nil)
	if err != nil {
		return nil, fmt.Errorf("kill: %w", err)
	}
	if err := cl.Heal(time.Minute); err != nil {
		return nil, fmt.Errorf("healing the cluster: %w", err)
	}
	// The graceful failover promotes a replica that was never killed: the
	// killed master rejoined as a replica, and the guarded client still
	// holds its breaker from the kill (half-open, one probe at a time).
	var replica string
	graceful, err := foPhase(e, cl, bare, g, "graceful",
		func() (string, error) {
			for _, a := range cl.Addrs() {
				if m, err := redistest.MasterOf(a); err == nil && m != "" && a != killed {
					replica = a
					return m, nil
				}
			}
			return "", errors.New("no replica to fail over to")
		},
		func(string) error {
			_, err := redistest.Do(replica, time.Second, "CLUSTER", "FAILOVER")
			return err
		}, nil)
	if err != nil {
		return nil, fmt.Errorf("graceful: %w", err)
	}
	replicaReads, err := foReplicaReads(e, cl, bare, cfg, "kill-replica-reads")
	if err != nil {
		return nil, fmt.Errorf("kill with replica reads: %w", err)
	}
	graceful = append(graceful, replicaReads...)
	partial, err := foPartialCoverage(e)
	if err != nil {
		return nil, fmt.Errorf("kill with replica reads, partial coverage: %w", err)
	}
	graceful = append(graceful, partial...)
	sentinel, err := foSentinel(e)
	if err != nil {
		return nil, fmt.Errorf("sentinel: %w", err)
	}
	graceful = append(graceful, sentinel...)
	return append(kill, graceful...), nil
}

// foReplicaReads kills the master of key "failover" with a guarded client
// (cfg) that reads from replicas while a master's circuit is open.
func foReplicaReads(e *env, cl *redistest.Cluster, bare *redis.ClusterClient, cfg profiles.Config, phase string) ([]Row, error) {
	rr := hooks.NewReplicaReads(nil)
	g, err := profiles.NewClient(cfg, rr)
	if err != nil {
		return nil, err
	}
	defer closeClient(g)
	return foPhase(e, cl, bare, g, phase,
		func() (string, error) {
			m, err := bare.MasterForKey(context.Background(), "failover")
			if err != nil {
				return "", err
			}
			return m.Options().Addr, nil
		},
		func(target string) error {
			cl.Server(target).Kill()
			return nil
		}, rr)
}

// foPartialCoverage is foReplicaReads on a cluster of its own started with
// cluster-require-full-coverage no, where the nodes do not answer
// CLUSTERDOWN while a master is down.
func foPartialCoverage(e *env) ([]Row, error) {
	cl, err := redistest.NewCluster(redistest.ClusterConfig{Masters: foMasters, Replicas: 1, NodeTimeout: foNodeTimeout, PartialCoverage: true})
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	bare := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs(), PoolSize: 50})
	defer closeClient(bare)
	cfg := profiles.API()
	cfg.ClusterAddrs = cl.Addrs()
	return foReplicaReads(e, cl, bare, cfg, "kill-replica-reads-partial-coverage")
}

// foPhase runs both clients' loads, makes the master pick chooses fail with
// act, and returns the phase's rows.
func foPhase(e *env, cl *redistest.Cluster, bare *redis.ClusterClient, g *profiles.Client, phase string,
	pick func() (string, error), act func(target string) error, rr *hooks.ReplicaReads) ([]Row, error) {
	ctx := context.Background()
	gc := hooks.Unwrap(g).(*redis.ClusterClient)
	b := newFoLoad(bare, true, "b"+phase)
	gl := newFoLoad(g, false, "g"+phase)
	// Both clients load a fresh slot map before the phase, so that neither
	// starts it with one the other lacks.
	for _, c := range []*redis.ClusterClient{bare, gc} {
		if err := c.ForEachShard(ctx, func(context.Context, *redis.Client) error { return nil }); err != nil {
			return nil, err
		}
	}
	target, err := pick()
	if err != nil {
		return nil, err
	}
	onTarget, slotKey := 0, ""
	for _, l := range []*foLoad{b, gl} {
		for i := 0; i < foKeys; i++ {
			n, err := bare.MasterForKey(ctx, l.key(i, "c"))
			if err != nil {
				return nil, err
			}
			l.onDead[i] = n.Options().Addr == target
			if l.onDead[i] && l == b {
				onTarget++
				slotKey = l.key(i, "c")
			}
		}
	}
	if onTarget == 0 {
		return nil, fmt.Errorf("no key on %s", target)
	}
	slot, err := cl.KeySlot(slotKey)
	if err != nil {
		return nil, err
	}

	coverage := "cluster-require-full-coverage yes"
	if strings.HasSuffix(phase, "partial-coverage") {
		coverage = "cluster-require-full-coverage no"
	}
	how, guarded := "SIGKILL of the master", "API preset"
	if phase == "graceful" {
		how = "CLUSTER FAILOVER on the replica of the master"
	}
	if rr != nil {
		guarded = "API preset with hooks.ReplicaReads; the phase ends once the guarded client writes the failed keys again"
	}
	check := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs()})
	defer closeClient(check)
	return foRun(e, foSetup{
		scen: "failover/" + phase, b: b, g: gl, check: check,
		act: func() error { return act(target) },
		promoted: func() error {
			_, err := cl.WaitPromoted(target, slot, foLimit)
			return err
		},
		note: fmt.Sprintf("3 masters + 3 replicas, cluster-node-timeout %s, %s; %s serving %d of %d keys per client; %d goroutines per client (both at once) SET/INCR/GET over %d keys on all slots; bare = go-redis defaults (pool 50), guarded = %s",
			foNodeTimeout, coverage, how, onTarget, foKeys, foWorkers, foKeys, guarded),
		guardedOnly: rr != nil, rr: rr,
	})
}

// foSetup is one phase of the scenario: two loads, the event, and how to
// know the replica has taken over.
type foSetup struct {
	scen     string
	b, g     *foLoad
	check    redis.Cmdable // reads the counters after the phase
	act      func() error  // the kill or failover
	promoted func() error  // returns once the servers agree on the new master
	note     string
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
	var event atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	b.run(ctx, &event, stop, &wg)
	gl.run(ctx, &event, stop, &wg)
	time.Sleep(e.dur(2 * time.Second))

	t0 := time.Now()
	event.Store(t0.UnixNano())
	if err := s.act(); err != nil {
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
	promo := <-promoted

	var dups, losts, ackeds, ambigs [2]int64
	for i, l := range []*foLoad{b, gl} {
		var err error
		dups[i], losts[i], ackeds[i], ambigs[i], err = l.counters(ctx, s.check)
		if err != nil {
			return nil, err
		}
	}
	promoNote := "the servers did not agree on a new master within the limit"
	if promo >= 0 {
		promoNote = fmt.Sprintf("the servers agreed on the promoted replica %.0f ms after the event", ms(promo))
	}
	return []Row{
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
		act: func() error { set.Master.Kill(); return nil },
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
