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
// phase reports when a replica of the failed master took over (its ROLE),
// and, bare beside guarded, the time from the event and from that
// promotion until the failed master's keys take writes again, the errors by
// class, and INCRs applied twice. Two more kills run with the guarded client reading from
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
	// getNs is the time the workers spent in GETs after the event, each
	// with the pause that follows a failure: [0] answered, [1] failed.
	getNs [2]int64

	// promo is the ns from the event to the promotion (-1 until seen),
	// and firstPromo the ns from the event to the first write on the
	// failed master's keys that succeeded at or after it (-1 until then).
	promo      *atomic.Int64
	firstPromo atomic.Int64
}

func newFoLoad(c redis.UniversalClient, bare bool, prefix string) *foLoad {
	l := &foLoad{c: c, bare: bare, prefix: prefix, onDead: make([]bool, foKeys),
		acked: make([]atomic.Int64, foKeys), ambig: make([]atomic.Int64, foKeys), errs: map[string]int{}}
	l.first.Store(-1)
	l.firstPromo.Store(-1)
	l.promo = new(atomic.Int64)
	l.promo.Store(-1)
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
			w := foWorker{l: l, errs: map[string]int{}}
			defer w.merge()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := (g*131 + i*7) % foKeys
				ev := event.Load()
				start := time.Now()
				err := l.call(ctx, k, i%3, i)
				if ev != 0 && w.record(k, i%3, err, time.Now().UnixNano()-ev, time.Since(start)) {
					// A refusal answers at once; do not spin on it.
					time.Sleep(foPause)
				}
			}
		}()
	}
}

// foPause is what a worker waits after a failed call.
const foPause = time.Millisecond

// call sends op (0 SET, 1 INCR, 2 GET) on key k and counts an INCR's
// outcome; redis.Nil is no error.
func (l *foLoad) call(ctx context.Context, k, op, i int) error {
	switch op {
	case 0:
		return l.c.Set(ctx, l.key(k, "s"), i, 0).Err()
	case 1:
		err := l.c.Incr(ctx, l.key(k, "c")).Err()
		if err == nil {
			l.acked[k].Add(1)
		} else if l.ambiguous(err) {
			l.ambig[k].Add(1)
		}
		return err
	}
	if err := l.c.Get(ctx, l.key(k, "s")).Err(); !errors.Is(err, redis.Nil) {
		return err
	}
	return nil
}

// foWorker is what one worker saw after the event, merged into its load
// when it stops.
type foWorker struct {
	l           *foLoad
	errs        map[string]int
	ops, failed [3]int
	getNs       [2]int64
}

func (w *foWorker) merge() {
	l := w.l
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, v := range w.errs {
		l.errs[k] += v
	}
	for i := range w.ops {
		l.opsAfter[i] += w.ops[i]
		l.errsAfter[i] += w.failed[i]
	}
	l.getNs[0] += w.getNs[0]
	l.getNs[1] += w.getNs[1]
}

// record counts a call op on key k sent after the event that ended since
// ns after it and took took, and reports whether it failed.
func (w *foWorker) record(k, op int, err error, since int64, took time.Duration) bool {
	l := w.l
	w.ops[op]++
	if op == 2 {
		if err != nil {
			took += foPause
		}
		w.getNs[b2i(err != nil)] += int64(took)
	}
	if err == nil {
		// Served again means written again: a read may have been
		// answered by a replica (hooks.ReplicaReads).
		if l.onDead[k] && op != 2 {
			storeMin(&l.first, since)
			if p := l.promo.Load(); p >= 0 && since >= p {
				storeMin(&l.firstPromo, since)
			}
		}
		return false
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
	w.errs[slots+"/"+foClass(err)]++
	w.failed[op]++
	return true
}

// storeMin stores v in a unless a holds a value (>= 0) at most v.
func storeMin(a *atomic.Int64, v int64) {
	for cur := a.Load(); cur < 0 || v < cur; cur = a.Load() {
		if a.CompareAndSwap(cur, v) {
			return
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
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

// getFailedShare is the share of the workers' GET time after the event
// (each failure with the pause after it) spent in GETs that failed: unlike
// the error rate per call, it does not grow with the number of calls a
// client that fails fast makes while nothing can answer.
func (l *foLoad) getFailedShare() float64 {
	if l.getNs[0]+l.getNs[1] == 0 {
		return 0
	}
	return float64(l.getNs[1]) / float64(l.getNs[0]+l.getNs[1])
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
		act:        func() error { return act(target) },
		candidates: replicasOf(cl, target),
		promoted: func() error {
			_, err := cl.WaitPromoted(target, slot, foLimit)
			return err
		},
		note: fmt.Sprintf("3 masters + 3 replicas, cluster-node-timeout %s, %s; %s serving %d of %d keys per client; %d goroutines per client (both at once) SET/INCR/GET over %d keys on all slots; bare = go-redis defaults (pool 50), guarded = %s",
			foNodeTimeout, coverage, how, onTarget, foKeys, foWorkers, foKeys, guarded),
		guardedOnly: rr != nil, rr: rr,
	})
}
