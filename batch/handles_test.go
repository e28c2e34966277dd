package batch_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/batch"
	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
	"github.com/redisguard/redisguard/profiles"
)

// userWrapper is how an application wraps a go-redis client of its own
// (here a *redis.Ring, which profiles.NewClient does not build), telling the
// helpers what is inside.
type userWrapper struct{ redis.UniversalClient }

func (w userWrapper) Unwrap() redis.UniversalClient { return w.UniversalClient }

// deadAddr is a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
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

// report is what a batch said, in a form that compares.
type report struct {
	written, notWritten, unknown []int
	failed                       bool
	// class is the one of hooks.ErrNotSent, ErrMaybeApplied and ErrRejected
	// the error matches ("" for none). Not the Outcome: the two runs share
	// one Breaker, so the second may meet the circuit the first opened
	// (stopped) where the first met the refused dial (not sent); both are
	// "not sent".
	class string
}

func (r report) String() string {
	return fmt.Sprintf("written %v, not written %v, unknown %v, failed %t (%s)", r.written, r.notWritten, r.unknown, r.failed, r.class)
}

func (r report) equal(o report) bool {
	return slices.Equal(r.written, o.written) && slices.Equal(r.notWritten, o.notWritten) &&
		slices.Equal(r.unknown, o.unknown) && r.failed == o.failed && r.class == o.class
}

func rpushReport(t *testing.T, c batch.Client, key string) report {
	t.Helper()
	res, err := batch.RPush(context.Background(), c, key, values(key, 5), batch.Options{ChunkSize: 5})
	checkCover(t, res, 5)
	return report{res.Written, res.NotWritten, res.Unknown, err != nil, errClass(err)}
}

func errClass(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, hooks.ErrNotSent):
		return "not sent"
	case errors.Is(err, hooks.ErrMaybeApplied):
		return "maybe applied"
	case errors.Is(err, hooks.ErrRejected):
		return "rejected"
	}
	return "unclassified"
}

// sameRPush runs batch.RPush through the wrapper and through the go-redis
// client inside it, on keys of its own, and fails unless both report the
// same. It returns the report.
func sameRPush(t *testing.T, wrapper, inner batch.Client, key string) report {
	t.Helper()
	viaWrapper := rpushReport(t, wrapper, key+":wrapper")
	viaInner := rpushReport(t, inner, key+":inner")
	if !viaWrapper.equal(viaInner) {
		t.Fatalf("%s: through the wrapper: %v; through the go-redis client inside: %v", key, viaWrapper, viaInner)
	}
	return viaWrapper
}

// TestRPushThroughProfilesClientReportsAsTheClientInside is the regression
// test for batch.RPush through a *profiles.Client reporting every item of a
// chunk that never left Unknown, where the go-redis client inside it
// reports them NotWritten: the batch did not see through the wrapper.
func TestRPushThroughProfilesClientReportsAsTheClientInside(t *testing.T) {
	t.Run("single", func(t *testing.T) {
		s := redistest.Start(t)
		pc := newProfileClient(t, profiles.Config{Addr: s.Addr()})
		if r := sameRPush(t, pc, pc.Unwrap(), "up"); len(r.written) != 5 {
			t.Fatalf("server up: %v", r)
		}
		down := newProfileClient(t, profiles.Config{Addr: deadAddr(t)})
		if r := sameRPush(t, down, down.Unwrap(), "down"); len(r.notWritten) != 5 {
			t.Fatalf("server down: %v, want 5 of 5 NotWritten", r)
		}
	})

	t.Run("sentinel", func(t *testing.T) {
		master := redistest.Start(t)
		sentinel := redistest.StartSentinel(t, redistest.SentinelMaster, master, 1)
		pc := newProfileClient(t, profiles.Config{SentinelAddrs: []string{sentinel}, SentinelMaster: redistest.SentinelMaster})
		if r := sameRPush(t, pc, pc.Unwrap(), "up"); len(r.written) != 5 {
			t.Fatalf("master up: %v", r)
		}
		master.Kill()
		if r := sameRPush(t, pc, pc.Unwrap(), "down"); len(r.notWritten) != 5 {
			t.Fatalf("master down: %v, want 5 of 5 NotWritten", r)
		}
	})

	t.Run("cluster", func(t *testing.T) {
		c := redistest.StartCluster(t, 3, 0)
		pc := newProfileClient(t, profiles.Config{ClusterAddrs: c.Addrs()})
		if r := sameRPush(t, pc, pc.Unwrap(), "up"); len(r.written) != 5 {
			t.Fatalf("cluster up: %v", r)
		}
		for _, s := range c.Servers() {
			s.Kill()
		}
		sameRPush(t, pc, pc.Unwrap(), "down")
	})

	t.Run("ring", func(t *testing.T) {
		// profiles.NewClient has no Ring mode: a Ring gets the preset's
		// hooks with profiles.Apply and travels in a wrapper of the
		// application's own.
		s := redistest.Start(t)
		ring := redis.NewRing(&redis.RingOptions{
			Addrs:                 map[string]string{"a": s.Addr()},
			MaxRetries:            -1,
			ContextTimeoutEnabled: true,
		})
		t.Cleanup(func() { _ = ring.Close() })
		guards, err := profiles.Apply(ring, profiles.API())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = guards.Breaker.Close() })
		w := userWrapper{ring}
		if r := sameRPush(t, w, ring, "up"); len(r.written) != 5 {
			t.Fatalf("ring up: %v", r)
		}
		s.Kill()
		// Wait until the ring's heartbeat marks the shard down, so that
		// both handles meet the same state.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			err := ring.Ping(context.Background()).Err()
			if err != nil && strings.Contains(err.Error(), "shards are down") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the ring does not mark its killed shard down: PING says %v", err)
			}
		}
		sameRPush(t, w, ring, "down")
	})
}
