package health_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/health"
	"github.com/redisguard/redisguard/internal/redistest"
	"github.com/redisguard/redisguard/profiles"
)

// userWrapper is how an application wraps a go-redis client of its own
// (here a *redis.Ring, which profiles.NewClient does not build), telling the
// helpers what is inside.
type userWrapper struct{ redis.UniversalClient }

func (w userWrapper) Unwrap() redis.UniversalClient { return w.UniversalClient }

// seen is what a monitor's check says about the client's shape.
type seen struct {
	status         health.Status
	maxConnections int
	nodes          []string
}

func (s seen) String() string {
	return fmt.Sprintf("status %s, max_connections %d, nodes %v", s.status, s.maxConnections, s.nodes)
}

func check(t *testing.T, c health.Client) seen {
	t.Helper()
	m, err := health.NewMonitor(c, health.Options{PingTimeout: 10 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	r := m.Check(context.Background())
	s := seen{status: r.Status, maxConnections: r.Pool.MaxConnections}
	for _, n := range r.Nodes {
		s.nodes = append(s.nodes, n.Addr)
	}
	return s
}

// sameHealth checks both handles with a monitor each and with LiveWorkers,
// and fails unless they agree; it returns what the monitor saw.
func sameHealth(t *testing.T, wrapper, inner redis.UniversalClient) seen {
	t.Helper()
	viaWrapper, viaInner := check(t, wrapper), check(t, inner)
	if viaWrapper.status != viaInner.status || viaWrapper.maxConnections != viaInner.maxConnections ||
		!slices.Equal(viaWrapper.nodes, viaInner.nodes) {
		t.Fatalf("monitor through the wrapper: %v; through the go-redis client inside: %v", viaWrapper, viaInner)
	}
	ctx := context.Background()
	for i := range 20 {
		if err := inner.Set(ctx, fmt.Sprintf("hb:worker-%d", i), "1", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	lw, err1 := health.LiveWorkers(ctx, wrapper, "hb:")
	li, err2 := health.LiveWorkers(ctx, inner, "hb:")
	if err1 != nil || err2 != nil || !slices.Equal(lw, li) || len(li) != 20 {
		t.Fatalf("LiveWorkers through the wrapper: %d %v (%v); through the client inside: %d %v (%v); want 20",
			len(lw), lw, err1, len(li), li, err2)
	}
	return viaWrapper
}

func newProfileClient(t *testing.T, cfg profiles.Config) *profiles.Client {
	t.Helper()
	c, err := profiles.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestMonitorThroughProfilesClientSeesTheClientInside is the regression
// test for a Monitor over a *profiles.Client reporting max_connections 0
// and no cluster nodes (the go-redis client inside gives 50 and 3): its
// type checks failed on a struct that embeds the interface. LiveWorkers
// had the same blind spot on a cluster.
func TestMonitorThroughProfilesClientSeesTheClientInside(t *testing.T) {
	t.Run("single", func(t *testing.T) {
		s := redistest.Start(t)
		pc := newProfileClient(t, profiles.Config{Addr: s.Addr()})
		if got := sameHealth(t, pc, pc.Unwrap()); got.maxConnections != 50 || got.status != health.StatusHealthy {
			t.Fatalf("got %v, want healthy with max_connections 50", got)
		}
	})

	t.Run("sentinel", func(t *testing.T) {
		master := redistest.Start(t)
		sentinel := redistest.StartSentinel(t, redistest.SentinelMaster, master, 1)
		pc := newProfileClient(t, profiles.Config{SentinelAddrs: []string{sentinel}, SentinelMaster: redistest.SentinelMaster})
		if got := sameHealth(t, pc, pc.Unwrap()); got.maxConnections != 50 || got.status != health.StatusHealthy {
			t.Fatalf("got %v, want healthy with max_connections 50", got)
		}
	})

	t.Run("cluster", func(t *testing.T) {
		c := redistest.StartCluster(t, 3, 0)
		pc := newProfileClient(t, profiles.Config{ClusterAddrs: c.Addrs()})
		got := sameHealth(t, pc, pc.Unwrap())
		if got.maxConnections != 150 || len(got.nodes) != 3 || got.status != health.StatusHealthy {
			t.Fatalf("got %v, want healthy with 3 nodes of 50 connections", got)
		}
	})

	t.Run("ring", func(t *testing.T) {
		a, b := redistest.Start(t), redistest.Start(t)
		ring := redis.NewRing(&redis.RingOptions{
			Addrs:                 map[string]string{"a": a.Addr(), "b": b.Addr()},
			PoolSize:              50,
			MaxRetries:            -1,
			ContextTimeoutEnabled: true,
		})
		t.Cleanup(func() { _ = ring.Close() })
		guards, err := profiles.Apply(ring, profiles.API())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = guards.Breaker.Close() })
		got := sameHealth(t, userWrapper{ring}, ring)
		if got.maxConnections != 100 || len(got.nodes) != 2 {
			t.Fatalf("got %v, want 2 nodes of 50 connections", got)
		}
	})
}
