package health_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/health"
	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
	"github.com/redisguard/redisguard/profiles"
)

// failoverLimit bounds each wait: the cluster fails a master over a few
// seconds after the kill (node timeout, agreement, the replica's election
// delay: docs/guarantees.md, known limits).
const failoverLimit = 30 * time.Second

// TestClusterFailoverIsDegradedThenHealthy kills a master of a 3-master,
// 3-replica cluster under load and checks the monitor of the guarded
// client (API preset) over and over: while the master is down and its
// replica not yet promoted the status is degraded, never unhealthy, with
// the dead master's open breaker named; once the cluster has promoted the
// replica it is healthy again, the dead master's breaker still reported
// but no longer counted.
func TestClusterFailoverIsDegradedThenHealthy(t *testing.T) {
	cl := redistest.StartClusterWith(t, redistest.ClusterConfig{Masters: 3, Replicas: 1, NodeTimeout: 2 * time.Second})
	t.Run("replica reads are reported", func(t *testing.T) { replicaReadsReported(t, cl) })
	t.Run("failover", func(t *testing.T) { degradedThenHealthy(t, cl) })
}

// replicaReadsReported opens a master's circuit on a client with replica
// reads by cutting the client off from it (through a proxy; the cluster
// itself stays healthy) and checks that a read its replica answers is in
// the report.
func replicaReadsReported(t *testing.T, cl *redistest.Cluster) {
	ctx := context.Background()
	direct := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs()})
	defer direct.Close()
	key := "{reported}"
	m, err := direct.MasterForKey(ctx, key)
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
	rr := hooks.NewReplicaReads(nil)
	h, err := profiles.Apply(rdb, profiles.API(), rr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Breaker.Close() })
	mon, err := health.NewMonitor(rdb, health.Options{Breaker: h.Breaker, ReplicaReads: rr,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, key, "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := m.Do(ctx, "WAIT", 1, 5000).Err(); err != nil {
		t.Fatal(err)
	}
	if r := mon.Check(ctx); r.Hooks.ReplicaReads == nil || *r.Hooks.ReplicaReads != (health.ReplicaReadFigures{}) {
		t.Fatalf("replica reads before the circuit opened: %+v", r.Hooks.ReplicaReads)
	}
	node, err := rdb.MasterForKey(ctx, key) // through the proxy
	if err != nil {
		t.Fatal(err)
	}
	px.Disable()
	defer px.Enable()
	for i := 0; h.Breaker.States()[master] != hooks.BreakerOpen; i++ {
		if i == 100 {
			t.Fatalf("%s's circuit did not open", master)
		}
		_ = node.Get(ctx, key).Err() // the node client, below the cluster's hooks
	}
	if v, err := rdb.Get(ctx, key).Result(); err != nil || v != "v" {
		t.Fatalf("GET with the circuit open: %q, %v", v, err)
	}
	r := mon.Check(ctx)
	if r.Hooks.ReplicaReads == nil || r.Hooks.ReplicaReads.Served != 1 {
		t.Fatalf("replica reads in the report: %+v", r.Hooks.ReplicaReads)
	}
}

func degradedThenHealthy(t *testing.T, cl *redistest.Cluster) {
	cfg := profiles.API()
	cfg.ClusterAddrs = cl.Addrs()
	rdb, err := profiles.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	m, err := health.NewMonitor(rdb, health.Options{
		Breaker: rdb.Hooks.Breaker, Limiter: rdb.Hooks.Limiter,
		PingTimeout: 5 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		// The test's own load may be refused by the Limiter or slow
		// during the failover; only the failover is under test.
		Rules: health.Rules{LimiterRejections: -1, SlowPing: -1, PoolTimeouts: -1},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < 64; i++ {
		if err := rdb.Set(ctx, fmt.Sprintf("f:%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if r := m.Check(ctx); r.Status != health.StatusHealthy {
		t.Fatalf("before the kill: %s %q", r.Status, r.Reasons)
	}

	// Load on every slot, so that the circuits open as they would in
	// production: the dead master's at once, and maybe the others' when
	// the cluster answers CLUSTERDOWN until the promotion.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ; i += 8 {
				select {
				case <-stop:
					return
				default:
				}
				_ = rdb.Get(ctx, fmt.Sprintf("f:%d", i%64)).Err()
				time.Sleep(time.Millisecond)
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()

	cc := hooks.Unwrap(rdb).(*redis.ClusterClient)
	node, err := cc.MasterForKey(ctx, "f:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := node.Options().Addr
	cl.Server(dead).Kill()

	var history []string
	sawDegraded := false
	deadline := time.Now().Add(failoverLimit)
	for {
		r := m.Check(ctx)
		open := rdb.Hooks.Breaker.States()[dead] == hooks.BreakerOpen
		history = append(history, fmt.Sprintf("%s (dead master's circuit open: %v) %q", r.Status, open, r.Reasons))
		if r.Status == health.StatusUnhealthy {
			t.Fatalf("unhealthy during a failover; checks so far:\n%s", strings.Join(history, "\n"))
		}
		if r.Status == health.StatusDegraded && open && mentions(r.Reasons, "breaker open for "+dead) {
			sawDegraded = true
		}
		if sawDegraded && r.Status == health.StatusHealthy {
			if _, ok := r.Hooks.Breakers[dead]; !ok {
				t.Errorf("the healthy report no longer lists the dead master's breaker: %v", r.Hooks.Breakers)
			}
			for _, n := range r.Nodes {
				if n.Addr == dead {
					t.Errorf("the healthy report lists the dead master among the nodes: %+v", n)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no degraded-then-healthy sequence within %s; checks:\n%s", failoverLimit, strings.Join(history, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func mentions(reasons []string, s string) bool {
	for _, r := range reasons {
		if strings.Contains(r, s) {
			return true
		}
	}
	return false
}
