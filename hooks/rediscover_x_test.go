package hooks_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
	"github.com/redisguard/redisguard/profiles"
)

// failoverLimit bounds every wait of the failover tests: the cluster fails
// a master over a few seconds after the kill (node timeout, agreement, the
// replica's election delay: docs/guarantees.md, known limits), and go-redis would
// reload its slot map on its own only after ClusterStateReloadInterval
// (60 s by default, 10 min on the clients that test one trigger alone).
const failoverLimit = 30 * time.Second

// TestClusterRediscoversPromotedReplica kills a master of a 3-master,
// 3-replica cluster three times, once per subtest, and checks that the
// guarded client finds the replica the cluster promoted: with the API
// preset under an INCR load that is never applied twice; then each trigger
// of the reload alone, on clients that go-redis would not reload for ten
// minutes.
func TestClusterRediscoversPromotedReplica(t *testing.T) {
	cl := redistest.StartClusterWith(t, redistest.ClusterConfig{Masters: 3, Replicas: 1, NodeTimeout: 2 * time.Second})
	ctx := context.Background()

	// killMasterOf kills the master serving key in rdb's view and returns
	// its address.
	killMasterOf := func(t *testing.T, rdb *redis.ClusterClient, key string) string {
		t.Helper()
		m, err := rdb.MasterForKey(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		dead := m.Options().Addr
		cl.Server(dead).Kill()
		return dead
	}
	slotOf := func(t *testing.T, key string) int {
		t.Helper()
		s, err := cl.KeySlot(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// heal brings the killed master back (as a replica), so that the next
	// subtest kills a master that has a replica.
	heal := func(t *testing.T) {
		t.Helper()
		if err := cl.Heal(failoverLimit); err != nil {
			t.Fatal(err)
		}
	}
	// viewOf is the master rdb sends key's commands to.
	viewOf := func(t *testing.T, rdb *redis.ClusterClient, key string) string {
		t.Helper()
		m, err := rdb.MasterForKey(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return m.Options().Addr
	}

	// openCircuit opens dead's circuit with GETs sent to its node client
	// (the one rdb routes key to), below the hooks that wrap rdb's calls,
	// so that no refusal of rdb's asks for a reload.
	openCircuit := func(t *testing.T, rdb *redis.ClusterClient, b *hooks.Breaker, dead, key string) {
		t.Helper()
		node, err := rdb.MasterForKey(ctx, key)
		if err != nil || node.Options().Addr != dead {
			t.Fatalf("node client of %s: %v, %v", key, node, err)
		}
		for i := 0; hooks.StateOf(b, dead) != hooks.BreakerOpen; i++ {
			if i == 100 {
				t.Fatalf("%s's circuit did not open after 100 GETs to it", dead)
			}
			_ = node.Get(ctx, key).Err()
		}
	}

	t.Run("replica reads only for reads refused by an open circuit", func(t *testing.T) {
		// The client reaches one master through a proxy that the test
		// disables: the master's circuit opens while the master itself,
		// and the cluster, stay healthy, so nothing is failed over.
		probe := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs()})
		defer probe.Close()
		key := "{rr}" // the other keys below share its slot
		m, err := probe.MasterForKey(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		master := m.Options().Addr
		px := redistest.NewProxy(t, master)
		var d net.Dialer
		rdb := redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: cl.Addrs(), MaxRetries: -1, ContextTimeoutEnabled: true,
			Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if addr == master {
					addr = px.Addr()
				}
				return d.DialContext(ctx, network, addr)
			},
		})
		t.Cleanup(func() { _ = rdb.Close() })
		b, err := hooks.NewBreaker(hooks.BreakerOptions{OpenTimeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		rr := hooks.NewReplicaReads(nil)
		if err := hooks.Attach(rdb, b, rr); err != nil {
			t.Fatal(err)
		}
		if err := rdb.Set(ctx, key, "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		// The replica has the value before the test reads it there.
		if err := m.Do(ctx, "WAIT", 1, 5000).Err(); err != nil {
			t.Fatal(err)
		}
		if v, err := rdb.Get(ctx, key).Result(); err != nil || v != "v" || rr.Stats() != (hooks.ReplicaReadStats{}) {
			t.Fatalf("GET with the circuit closed: %q, %v; replica reads %+v", v, err, rr.Stats())
		}

		px.Disable()
		defer px.Enable()
		openCircuit(t, rdb, b, master, key)
		if v, err := rdb.Get(ctx, key).Result(); err != nil || v != "v" {
			t.Fatalf("GET with the circuit open: %q, %v (replica reads %+v)", v, err, rr.Stats())
		}
		if err := rdb.Get(ctx, key+":missing").Err(); !errors.Is(err, redis.Nil) {
			t.Fatalf("GET of a missing key with the circuit open: %v", err)
		}
		if st := rr.Stats(); st.Served != 2 || st.Failed != 0 {
			t.Fatalf("replica reads %+v, want 2 served", st)
		}
		// Writes, pipelines and blocking reads keep failing fast.
		if err := rdb.Set(ctx, key, "w", 0).Err(); !errors.Is(err, hooks.ErrCircuitOpen) {
			t.Fatalf("SET with the circuit open: %v", err)
		}
		if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Get(ctx, key)
			return nil
		}); !errors.Is(err, hooks.ErrCircuitOpen) {
			t.Fatalf("pipelined GET with the circuit open: %v", err)
		}
		if err := rdb.BLPop(ctx, time.Second, key+":list").Err(); !errors.Is(err, hooks.ErrCircuitOpen) {
			t.Fatalf("BLPOP with the circuit open: %v", err)
		}
		if st := rr.Stats(); st.Served != 2 || st.Failed != 0 {
			t.Fatalf("replica reads %+v after a SET, a pipeline and a BLPOP, want still 2 served", st)
		}
		// Reads whose first argument is not their key go to a replica of
		// their key's master too (taken as a key, "encoding", "usage", "1",
		// the script and "count" hash to slots of the other masters).
		reads := map[string]func() error{
			"OBJECT ENCODING": func() error { return rdb.ObjectEncoding(ctx, key).Err() },
			"MEMORY USAGE":    func() error { return rdb.MemoryUsage(ctx, key).Err() },
			"ZUNION":          func() error { return rdb.ZUnion(ctx, redis.ZStore{Keys: []string{key + ":z"}}).Err() },
			"SINTERCARD":      func() error { return rdb.SInterCard(ctx, 0, key+":s").Err() },
			"EVAL_RO":         func() error { return rdb.EvalRO(ctx, "return redis.call('GET', KEYS[1])", []string{key}).Err() },
			"XREAD": func() error {
				return rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{key + ":x", "0"}, Count: 1, Block: -1}).Err()
			},
		}
		for name, read := range reads {
			if err := read(); err != nil && !errors.Is(err, redis.Nil) {
				t.Errorf("%s with the circuit open: %v", name, err)
			}
		}
		if st := rr.Stats(); st.Served != uint64(2+len(reads)) || st.Failed != 0 {
			t.Fatalf("replica reads %+v after %d reads whose key is not their first argument, want %d served", st, len(reads), 2+len(reads))
		}
		if v, err := probe.Get(ctx, key).Result(); err != nil || v != "v" {
			t.Fatalf("the master holds %q, %v after a refused SET", v, err)
		}
	})

	t.Run("API preset, INCR load across a kill", func(t *testing.T) {
		cfg := profiles.API()
		cfg.ClusterAddrs = cl.Addrs()
		rdb, err := profiles.NewClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rdb.Close() })
		cc := hooks.Unwrap(rdb).(*redis.ClusterClient)

		const workers, perWorker = 16, 4
		keys := make([]string, workers*perWorker)
		for i := range keys {
			keys[i] = fmt.Sprintf("dup:%d", i)
		}
		acked := make([]atomic.Int64, len(keys))
		ambiguous := make([]atomic.Int64, len(keys))
		recovered := make([]atomic.Bool, len(keys))
		var killed atomic.Bool
		var mu sync.Mutex
		errs := map[string]int{}
		var unclassified []error
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					k := w*perWorker + i%perWorker
					after := killed.Load()
					err := rdb.Incr(ctx, keys[k]).Err()
					if err == nil {
						acked[k].Add(1)
						if after {
							recovered[k].Store(true)
						}
						continue
					}
					class := errClass(err)
					if class == "maybe applied" {
						ambiguous[k].Add(1)
					}
					mu.Lock()
					errs[class]++
					if class == "" {
						unclassified = append(unclassified, err)
					}
					mu.Unlock()
					time.Sleep(time.Millisecond) // an open circuit answers at once
				}
			}()
		}
		time.Sleep(300 * time.Millisecond)
		var onDead []int
		dead := killMasterOf(t, cc, keys[0])
		defer heal(t)
		killed.Store(true)
		for i, k := range keys {
			if viewOf(t, cc, k) == dead {
				onDead = append(onDead, i)
			}
		}
		deadline := time.Now().Add(failoverLimit)
		for !allTrue(recovered, onDead) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		close(stop)
		wg.Wait()
		if !allTrue(recovered, onDead) {
			t.Fatalf("INCRs on the %d keys of the dead master %s did not all succeed again within %s; errors %v",
				len(onDead), dead, failoverLimit, errs)
		}
		if len(unclassified) > 0 {
			t.Errorf("%d errors match none of ErrNotSent, ErrRejected, ErrMaybeApplied; first: %v", len(unclassified), unclassified[0])
		}

		check := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs()})
		defer check.Close()
		var sumAcked, sumAmbiguous, sumFinal, lost int64
		for i, k := range keys {
			n, err := check.Get(ctx, k).Int64()
			if err != nil && !errors.Is(err, redis.Nil) {
				t.Fatalf("GET %s: %v", k, err)
			}
			a, m := acked[i].Load(), ambiguous[i].Load()
			if n > a+m {
				t.Errorf("%s = %d, more than its %d acknowledged and %d maybe applied INCRs: an INCR was applied twice", k, n, a, m)
			}
			if n < a {
				lost += a - n
			}
			sumAcked, sumAmbiguous, sumFinal = sumAcked+a, sumAmbiguous+m, sumFinal+n
		}
		// A master's acknowledged writes its replica had not received when
		// it died are lost: Redis replicates asynchronously. That is the
		// cluster's behaviour, not the client's, so it is reported, not
		// failed.
		t.Logf("dead master %s (%d of %d keys); INCR acked %d, maybe applied %d, final %d, lost by the failover %d; errors %v",
			dead, len(onDead), len(keys), sumAcked, sumAmbiguous, sumFinal, lost, errs)
	})

	// newClient is a ClusterClient that go-redis itself does not reload
	// for ten minutes, with a Breaker alone that stays open a minute, so
	// that only the trigger under test can reload it.
	newClient := func(t *testing.T) (*redis.ClusterClient, *hooks.Breaker) {
		t.Helper()
		rdb := redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: cl.Addrs(), MaxRetries: -1, ContextTimeoutEnabled: true,
			ClusterStateReloadInterval: 10 * time.Minute,
		})
		t.Cleanup(func() { _ = rdb.Close() })
		b, err := hooks.NewBreaker(hooks.BreakerOptions{OpenTimeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		if err := hooks.Attach(rdb, b); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 30; i++ { // load the slot map, open connections
			if err := rdb.Set(ctx, fmt.Sprintf("warm:%d", i), "x", 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
		return rdb, b
	}
	t.Run("a circuit that opens reloads the slot map", func(t *testing.T) {
		rdb, b := newClient(t)
		key := "opens"
		dead := killMasterOf(t, rdb, key)
		defer heal(t)
		promoted, err := cl.WaitPromoted(dead, slotOf(t, key), failoverLimit)
		if err != nil {
			t.Fatal(err)
		}
		if viewOf(t, rdb, key) != dead {
			t.Fatal("the client reloaded its slot map before any command failed")
		}
		openCircuit(t, rdb, b, dead, key)
		deadline := time.Now().Add(failoverLimit)
		for viewOf(t, rdb, key) != promoted && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if got := viewOf(t, rdb, key); got != promoted {
			t.Fatalf("%s's circuit opened after the cluster promoted %s, and the client still routes the key to %s after %s", dead, promoted, got, failoverLimit)
		}
		if err := rdb.Get(ctx, key).Err(); err != nil && !errors.Is(err, redis.Nil) {
			t.Fatalf("GET on the promoted replica: %v", err)
		}
	})

	t.Run("refusals reload the slot map until the promotion", func(t *testing.T) {
		rdb, b := newClient(t)
		key := "refusals"
		dead := killMasterOf(t, rdb, key)
		// The circuit opens at once, long before the cluster fails the
		// master over: the reload it asks for finds the dead master still
		// serving the key.
		openCircuit(t, rdb, b, dead, key)
		promoted := make(chan string, 1)
		go func() {
			p, err := cl.WaitPromoted(dead, slotOf(t, key), failoverLimit)
			if err != nil {
				p = "not promoted: " + err.Error()
			}
			promoted <- p
		}()
		deadline := time.Now().Add(failoverLimit)
		for viewOf(t, rdb, key) == dead && time.Now().Before(deadline) {
			err := rdb.Get(ctx, key).Err()
			if err != nil && !errors.Is(err, hooks.ErrCircuitOpen) && !errors.Is(err, redis.Nil) {
				t.Logf("GET: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		p := <-promoted
		if got := viewOf(t, rdb, key); got != p {
			t.Fatalf("commands refused by %s's open circuit; the cluster promoted %s; the client routes the key to %s", dead, p, got)
		}
		if err := rdb.Get(ctx, key).Err(); err != nil && !errors.Is(err, redis.Nil) {
			t.Fatalf("GET on the promoted replica: %v", err)
		}
	})
}

// errClass names the class of a failed call: exactly one of the three
// sentinels should match; "" means none or more than one.
func errClass(err error) string {
	class := ""
	for name, s := range map[string]error{"not sent": hooks.ErrNotSent, "rejected": hooks.ErrRejected, "maybe applied": hooks.ErrMaybeApplied} {
		if errors.Is(err, s) {
			if class != "" {
				return ""
			}
			class = name
		}
	}
	return class
}

func allTrue(flags []atomic.Bool, idx []int) bool {
	for _, i := range idx {
		if !flags[i].Load() {
			return false
		}
	}
	return true
}

// TestReplicaReadsNeedsClusterClient: anywhere but on a ClusterClient there
// is no replica to read from, and Attach says so rather than attach a hook
// that never acts.
func TestReplicaReadsNeedsClusterClient(t *testing.T) {
	for _, rdb := range []redis.UniversalClient{
		redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}),
		redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}}),
	} {
		err := hooks.Attach(rdb, hooks.NewReplicaReads(nil))
		if err == nil || !strings.Contains(err.Error(), "needs a *redis.ClusterClient") {
			t.Errorf("Attach on %T: %v", rdb, err)
		}
		_ = rdb.Close()
	}
}
