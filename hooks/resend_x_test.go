package hooks_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/batch"
	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
	"github.com/redisguard/redisguard/profiles"
)

// slowWrites is a cluster or a ring whose every node sits behind a proxy
// that can delay integer replies (INCR, RPUSH) past the client's 500 ms
// read timeout, with the API preset's hooks attached as profiles.Apply
// attaches them.
type slowWrites struct {
	newClient func() redis.UniversalClient
	direct    redis.UniversalClient // the same nodes, no proxy, no hooks
	proxies   []*redistest.Proxy
}

// client returns a new guarded client, so no breaker state carries over
// from one case to the next.
func (s *slowWrites) client(t *testing.T) redis.UniversalClient {
	t.Helper()
	rdb := s.newClient()
	t.Cleanup(func() { _ = rdb.Close() })
	h, err := profiles.Apply(rdb, profiles.API())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Breaker.Close() })
	warm(t, rdb)
	return rdb
}

const slowReadTimeout = 500 * time.Millisecond

// slow delays integer replies by 700 ms until the test ends or fast is
// called.
func (s *slowWrites) slow(t *testing.T) {
	t.Helper()
	for _, p := range s.proxies {
		p.DelayIntegerReplies(700 * time.Millisecond)
	}
	t.Cleanup(s.fast)
}

func (s *slowWrites) fast() {
	for _, p := range s.proxies {
		p.RemoveToxics()
	}
}

// counter reads key from the servers directly.
func (s *slowWrites) read(t *testing.T, key string) string {
	t.Helper()
	ctx := context.Background()
	v, err := s.direct.Get(ctx, key).Result()
	if err != nil && err != redis.Nil {
		t.Fatalf("reading %s: %v", key, err)
	}
	return v
}

func (s *slowWrites) llen(t *testing.T, key string) int64 {
	t.Helper()
	n, err := s.direct.LLen(context.Background(), key).Result()
	if err != nil {
		t.Fatalf("LLEN %s: %v", key, err)
	}
	return n
}

// guardedCluster builds a 3-master cluster reached through one proxy per
// node (ClusterOptions.Dialer maps each node address to its proxy).
func guardedCluster(t *testing.T) *slowWrites {
	cl := redistest.StartCluster(t, 3, 0)
	via := map[string]string{}
	s := &slowWrites{}
	for _, a := range cl.Addrs() {
		p := redistest.NewProxy(t, a)
		via[a] = p.Addr()
		s.proxies = append(s.proxies, p)
	}
	var d net.Dialer
	s.newClient = func() redis.UniversalClient {
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: cl.Addrs(),
			Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if p, ok := via[addr]; ok {
					addr = p
				}
				return d.DialContext(ctx, network, addr)
			},
			ReadTimeout: slowReadTimeout, WriteTimeout: slowReadTimeout,
			MaxRetries: -1, ContextTimeoutEnabled: true,
			MinRetryBackoff: time.Millisecond, MaxRetryBackoff: 2 * time.Millisecond,
		})
	}
	direct := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs()})
	t.Cleanup(func() { _ = direct.Close() })
	s.direct = direct
	return s
}

// guardedRing builds a 3-shard ring of plain servers, each behind a proxy.
func guardedRing(t *testing.T) *slowWrites {
	s := &slowWrites{}
	addrs, direct := map[string]string{}, map[string]string{}
	for i := 0; i < 3; i++ {
		srv := redistest.Start(t)
		p := redistest.NewProxy(t, srv.Addr())
		name := "shard" + strconv.Itoa(i)
		addrs[name], direct[name] = p.Addr(), srv.Addr()
		s.proxies = append(s.proxies, p)
	}
	s.newClient = func() redis.UniversalClient {
		return redis.NewRing(&redis.RingOptions{
			Addrs:       addrs,
			ReadTimeout: slowReadTimeout, WriteTimeout: slowReadTimeout,
			MaxRetries: -1, ContextTimeoutEnabled: true,
			MinRetryBackoff: time.Millisecond, MaxRetryBackoff: 2 * time.Millisecond,
		})
	}
	d := redis.NewRing(&redis.RingOptions{Addrs: direct})
	t.Cleanup(func() { _ = d.Close() })
	s.direct = d
	return s
}

// warm loads the slot map and opens connections, so the slow replies are
// the only thing that times out.
func warm(t *testing.T, rdb redis.UniversalClient) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < 30; i++ {
		if err := rdb.Set(ctx, "warm:"+strconv.Itoa(i), "x", 0).Err(); err != nil {
			t.Fatalf("warming up: %v", err)
		}
	}
}

var keySeq atomic.Int64

func newKey(prefix string) string {
	return prefix + ":" + strconv.FormatInt(keySeq.Add(1), 10) + ":" + strconv.FormatInt(time.Now().UnixNano(), 36)
}

// settle waits until the delayed replies and anything they released have
// reached the servers, then reads through the direct client.
func settle(s *slowWrites) {
	s.fast()
	time.Sleep(time.Second)
}

// TestClusterPipelineAppliesWriteOnce is the regression test for a
// ClusterClient whose node pipelines go-redis re-sent after a read
// timeout: one Pipelined INCR + SET left the counter at 4, and batch.RPush
// of 5 values left 20 entries. Every path of a cluster and a ring must
// send a write that is not idempotent at most once, and report it as
// maybe applied.
func TestClusterPipelineAppliesWriteOnce(t *testing.T) {
	redistest.RequireServer(t)
	topologies := []struct {
		name  string
		build func(*testing.T) *slowWrites
	}{
		{"cluster", guardedCluster},
		{"ring", guardedRing},
	}
	for _, topo := range topologies {
		t.Run(topo.name, func(t *testing.T) {
			s := topo.build(t)
			ctx := context.Background()

			t.Run("pipeline INCR + SET", func(t *testing.T) {
				key := newKey("incr")
				rdb := s.client(t)
				s.slow(t)
				var incr *redis.IntCmd
				_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
					incr = p.Incr(ctx, key)
					p.Set(ctx, key+":other", "v", 0)
					return nil
				})
				settle(s)
				if got := s.read(t, key); got != "1" {
					t.Fatalf("one pipelined INCR left the counter at %q, want 1 (error %v)", got, err)
				}
				if !errors.Is(err, hooks.ErrMaybeApplied) || !errors.Is(incr.Err(), hooks.ErrMaybeApplied) {
					t.Fatalf("pipeline error %v, INCR error %v: want both to match ErrMaybeApplied", err, incr.Err())
				}
			})

			t.Run("TxPipeline INCR", func(t *testing.T) {
				key := newKey("tx")
				rdb := s.client(t)
				s.slow(t)
				_, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
					p.Incr(ctx, key)
					return nil
				})
				settle(s)
				if got := s.read(t, key); got != "1" {
					t.Fatalf("one transactional INCR left the counter at %q, want 1 (error %v)", got, err)
				}
				if !errors.Is(err, hooks.ErrMaybeApplied) {
					t.Fatalf("TxPipelined error %v does not match ErrMaybeApplied", err)
				}
			})

			t.Run("single INCR", func(t *testing.T) {
				key := newKey("single")
				rdb := s.client(t)
				s.slow(t)
				err := rdb.Incr(ctx, key).Err()
				settle(s)
				if got := s.read(t, key); got != "1" {
					t.Fatalf("one INCR left the counter at %q, want 1 (error %v)", got, err)
				}
				if !errors.Is(err, hooks.ErrMaybeApplied) {
					t.Fatalf("INCR error %v does not match ErrMaybeApplied", err)
				}
			})

			t.Run("batch.RPush", func(t *testing.T) {
				key := newKey("list")
				rdb := s.client(t)
				s.slow(t)
				res, err := batch.RPush(ctx, rdb, key, []string{"a", "b", "c", "d", "e"}, batch.Options{})
				settle(s)
				if n := s.llen(t, key); n != 5 {
					t.Fatalf("batch.RPush of 5 values left %d entries, want 5 (error %v, %+v)", n, err, res)
				}
				if len(res.Unknown) != 5 {
					t.Fatalf("report %+v: want the 5 items Unknown", res)
				}
			})

			t.Run("AutoPipeline INCR", func(t *testing.T) {
				rdb := s.client(t)
				ap, err := rdb.AutoPipeline()
				if topo.name == "ring" {
					if !errors.Is(err, redis.ErrRingAutoPipelineUnsupported) {
						t.Fatalf("ring AutoPipeline: %v", err)
					}
					t.Skip("go-redis's Ring has no AutoPipeline")
				}
				if err != nil {
					t.Fatal(err)
				}
				key := newKey("auto")
				s.slow(t)
				err = ap.Incr(ctx, key).Err()
				settle(s)
				if got := s.read(t, key); got != "1" {
					t.Fatalf("one autopipelined INCR left the counter at %q, want 1 (error %v)", got, err)
				}
				if !errors.Is(err, hooks.ErrMaybeApplied) {
					t.Fatalf("AutoPipeline INCR error %v does not match ErrMaybeApplied", err)
				}
			})

			t.Run("idempotent SET is still sent again", func(t *testing.T) {
				// Sanity: a pipeline of SETs only is not slowed (no integer
				// reply) and succeeds.
				rdb := s.client(t)
				_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
					p.Set(ctx, newKey("set"), "v", 0)
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}
