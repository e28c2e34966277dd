package health

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/internal/redistest"
)

func TestClusterMonitorSumsNodesAndReportsEach(t *testing.T) {
	c := redistest.StartCluster(t, 3, 0)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), PoolSize: 4})
	t.Cleanup(func() { _ = rdb.Close() })
	m := newMonitor(t, rdb, Options{PingTimeout: 10 * time.Second})
	ctx := context.Background()
	for i := 0; i < 300; i++ {
		if err := rdb.Set(ctx, fmt.Sprintf("key:%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}

	r := m.Check(ctx)
	if r.Status != StatusHealthy {
		t.Fatalf("status %q, reasons %q, info error %q", r.Status, r.Reasons, r.InfoError)
	}
	addrs := make([]string, len(r.Nodes))
	for i, n := range r.Nodes {
		addrs[i] = n.Addr
	}
	want := append([]string(nil), c.Addrs()...)
	sort.Strings(want)
	if !reflect.DeepEqual(addrs, want) {
		t.Fatalf("nodes %v, want %v", addrs, want)
	}
	var pool PoolFigures
	var server ServerFigures
	for _, n := range r.Nodes {
		if n.Error != "" || n.InfoError != "" || n.Server == nil || n.Latency <= 0 {
			t.Fatalf("node %s: error %q, info error %q, server %v, latency %v", n.Addr, n.Error, n.InfoError, n.Server, n.Latency)
		}
		if n.Pool.MaxConnections != 4 || n.Pool.CreatedConnections < 1 {
			t.Errorf("node %s pool: %+v", n.Addr, n.Pool)
		}
		// Each node sees at least this client's connection and the
		// other nodes' cluster bus is not a client: at least 1.
		if n.Server.ConnectedClients < 1 || n.Server.MaxClients <= 0 || n.Server.UsedMemory <= 0 {
			t.Errorf("node %s server: %+v", n.Addr, *n.Server)
		}
		pool.add(n.Pool)
		server.add(*n.Server)
	}
	if r.Pool.MaxConnections != 12 || pool.MaxConnections != 12 {
		t.Errorf("max_connections = %d, want 3 nodes x 4", r.Pool.MaxConnections)
	}
	if !reflect.DeepEqual(r.Pool, pool) {
		t.Errorf("pool = %+v, want the nodes' sum %+v", r.Pool, pool)
	}
	if r.Server == nil || !reflect.DeepEqual(*r.Server, server) {
		t.Errorf("server = %+v, want the nodes' sum %+v", r.Server, server)
	}
	// go-redis's own sum agrees on what it sums.
	own := rdb.PoolStats()
	if own.TotalConns != r.Pool.CreatedConnections {
		t.Errorf("ClusterClient.PoolStats total %d, ours %d", own.TotalConns, r.Pool.CreatedConnections)
	}

	// Heartbeats of workers spread over the cluster are all listed.
	var names []string
	for i := 0; i < 20; i++ {
		name := fmt.Sprintf("w%02d", i)
		names = append(names, name)
		hb, err := NewHeartbeat(rdb, "workers:"+name, "x", time.Minute, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := hb.Beat(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := LiveWorkers(ctx, rdb, "workers:"); err != nil || !reflect.DeepEqual(got, names) {
		t.Fatalf("LiveWorkers on the cluster = %v, %v", got, err)
	}

	// A node dies: it is reported, and the status is no longer healthy.
	dead := c.Servers()[2]
	dead.Kill()
	waitFor(t, "the dead node in the report", func() bool {
		r = m.Check(ctx)
		for _, n := range r.Nodes {
			if n.Addr == dead.Addr() && n.Error != "" {
				return true
			}
		}
		return false
	})
	if r.Status == StatusHealthy {
		t.Fatalf("a dead node, status %q", r.Status)
	}
	found := false
	for _, reason := range r.Reasons {
		found = found || strings.Contains(reason, "node "+dead.Addr()+": ping failed")
	}
	if !found {
		t.Fatalf("reasons %q do not name node %s", r.Reasons, dead.Addr())
	}
}

func TestRingMonitorReportsEachShard(t *testing.T) {
	a, b := redistest.Start(t), redistest.Start(t)
	rdb := redis.NewRing(&redis.RingOptions{
		Addrs:    map[string]string{"a": a.Addr(), "b": b.Addr()},
		PoolSize: 3,
	})
	t.Cleanup(func() { _ = rdb.Close() })
	m := newMonitor(t, rdb, Options{PingTimeout: 10 * time.Second})
	ctx := context.Background()
	for i := 0; i < 50; i++ {
		if err := rdb.Set(ctx, fmt.Sprintf("key:%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	r := m.Check(ctx)
	if r.Status != StatusHealthy || len(r.Nodes) != 2 {
		t.Fatalf("status %q, reasons %q, %d nodes", r.Status, r.Reasons, len(r.Nodes))
	}
	want := []string{a.Addr(), b.Addr()}
	sort.Strings(want)
	var created uint32
	var clients int64
	for i, n := range r.Nodes {
		if n.Addr != want[i] || n.Server == nil || n.Pool.MaxConnections != 3 {
			t.Fatalf("node %d: %+v", i, n)
		}
		created += n.Pool.CreatedConnections
		clients += n.Server.ConnectedClients
	}
	if r.Pool.MaxConnections != 6 || r.Pool.CreatedConnections != created || r.Server.ConnectedClients != clients {
		t.Fatalf("sums: pool %+v, server %+v", r.Pool, *r.Server)
	}
}
