package hooks_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
	"github.com/redisguard/redisguard/profiles"
)

// userWrapper is how an application wraps a go-redis client of its own,
// telling the helpers what is inside.
type userWrapper struct{ redis.UniversalClient }

func (w userWrapper) Unwrap() redis.UniversalClient { return w.UniversalClient }

// nilWrapper is a wrapper whose Unwrap gives nil.
type nilWrapper struct{ redis.UniversalClient }

func (nilWrapper) Unwrap() redis.UniversalClient { return nil }

func TestUnwrap(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	var nilProfile *profiles.Client
	tests := []struct {
		name string
		in   redis.UniversalClient
		want redis.UniversalClient
	}{
		{"nil", nil, nil},
		{"go-redis client", rdb, rdb},
		{"wrapper", userWrapper{rdb}, rdb},
		{"wrapper of a wrapper", userWrapper{userWrapper{rdb}}, rdb},
		{"wrapper of nothing", nilWrapper{rdb}, nil},
		{"nil *profiles.Client", nilProfile, nil},
	}
	for _, tc := range tests {
		if got := hooks.Unwrap(tc.in); got != tc.want {
			t.Errorf("%s: Unwrap gives %T %v, want %T %v", tc.name, got, got, tc.want, tc.want)
		}
	}
	if err := hooks.Attach(nilProfile); err == nil {
		t.Error("Attach on a nil *profiles.Client: no error")
	}
}

// limiterNodes attaches a fresh Limiter through c, sends SETs over many
// keys through inner, and returns the nodes the Limiter saw.
func limiterNodes(t *testing.T, c, inner redis.UniversalClient) []string {
	t.Helper()
	lim, err := hooks.NewLimiter(hooks.LimiterOptions{MaxInFlight: 8})
	if err != nil {
		t.Fatal(err)
	}
	if err := hooks.Attach(c, lim); err != nil {
		t.Fatalf("Attach through %T: %v", c, err)
	}
	ctx := context.Background()
	for i := range 100 {
		if err := inner.Set(ctx, fmt.Sprintf("key:%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if lim.Stats().Admitted < 100 {
		t.Fatalf("Attach through %T: the Limiter admitted %d commands of 100", c, lim.Stats().Admitted)
	}
	return slices.Sorted(maps.Keys(lim.NodeStats()))
}

// TestAttachThroughProfilesClientAttachesToTheClientInside is the
// regression test for hooks.Attach refusing a *profiles.Client ("unsupported
// client type"): it now attaches to the go-redis client inside, per node on
// a cluster and a ring, exactly as when given that client.
func TestAttachThroughProfilesClientAttachesToTheClientInside(t *testing.T) {
	same := func(t *testing.T, wrapper, inner redis.UniversalClient, nodes int) {
		t.Helper()
		viaWrapper := limiterNodes(t, wrapper, inner)
		viaInner := limiterNodes(t, inner, inner)
		if !slices.Equal(viaWrapper, viaInner) || len(viaInner) != nodes {
			t.Fatalf("Limiter attached through the wrapper saw nodes %v; through the client inside %v; want %d", viaWrapper, viaInner, nodes)
		}
	}
	t.Run("single", func(t *testing.T) {
		s := redistest.Start(t)
		pc, err := profiles.NewClient(profiles.Config{Addr: s.Addr()})
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		same(t, pc, pc.Unwrap(), 1)
	})
	t.Run("sentinel", func(t *testing.T) {
		master := redistest.Start(t)
		sentinel := redistest.StartSentinel(t, redistest.SentinelMaster, master, 1)
		pc, err := profiles.NewClient(profiles.Config{SentinelAddrs: []string{sentinel}, SentinelMaster: redistest.SentinelMaster})
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		same(t, pc, pc.Unwrap(), 1)
	})
	t.Run("cluster", func(t *testing.T) {
		c := redistest.StartCluster(t, 3, 0)
		pc, err := profiles.NewClient(profiles.Config{ClusterAddrs: c.Addrs()})
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		same(t, pc, pc.Unwrap(), 3)
	})
	t.Run("ring", func(t *testing.T) {
		a, b := redistest.Start(t), redistest.Start(t)
		ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": a.Addr(), "b": b.Addr()}, MaxRetries: -1})
		defer ring.Close()
		same(t, userWrapper{ring}, ring, 2)
	})
}
