package batch_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/batch"
	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
)

// slotOf is Redis Cluster's key slot for a key without a hash tag.
func slotOf(key string) int {
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc % 16384)
}

// keyPerSlot returns one key for each of the 16384 slots, shuffled so that
// every chunk spans all the masters.
func keyPerSlot() []string {
	keys := make([]string, 16384)
	left := len(keys)
	for i := 0; left > 0; i++ {
		k := fmt.Sprintf("key:%d", i)
		if s := slotOf(k); keys[s] == "" {
			keys[s] = k
			left--
		}
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	return keys
}

func clusterClient(t *testing.T, c *redistest.Cluster, opt *redis.ClusterOptions) *redis.ClusterClient {
	t.Helper()
	var o redis.ClusterOptions
	if opt != nil {
		o = *opt
	}
	o.Addrs = c.Addrs()
	rdb := redis.NewClusterClient(&o)
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// nodeOfSlot maps each slot to its master's address.
func nodeOfSlot(t *testing.T, rdb *redis.ClusterClient) []string {
	t.Helper()
	slots, err := rdb.ClusterSlots(context.Background()).Result() //nolint:staticcheck // go-redis builds its slot map from CLUSTER SLOTS; read the same reply
	if err != nil {
		t.Fatal(err)
	}
	m := make([]string, 16384)
	for _, r := range slots {
		for s := r.Start; s <= r.End; s++ {
			m[s] = r.Nodes[0].Addr
		}
	}
	return m
}

func TestCluster(t *testing.T) {
	cl := redistest.StartCluster(t, 3, 0)
	ctx := context.Background()
	keys := keyPerSlot()
	set := func(p redis.Pipeliner, k string) error {
		p.Set(ctx, k, "v:"+k, 0)
		return nil
	}

	t.Run("Run over keys in every slot", func(t *testing.T) {
		rdb := clusterClient(t, cl, nil)
		for _, k := range keys[:20] {
			if got, err := rdb.ClusterKeySlot(ctx, k).Result(); err != nil || int(got) != slotOf(k) {
				t.Fatalf("slot of %s: server says %d (%v), test says %d", k, got, err, slotOf(k))
			}
		}
		res, err := batch.Run(ctx, rdb, keys, set, batch.Options{})
		if err != nil || !res.Complete() {
			t.Fatalf("Run: %v", err)
		}
		checkCover(t, res, len(keys))
		var total int64
		for _, s := range cl.Servers() {
			n, err := s.Client(t, nil).DBSize(ctx).Result()
			if err != nil || n == 0 {
				t.Fatalf("master %s holds %d keys (%v)", s.Addr(), n, err)
			}
			total += n
		}
		if total != int64(len(keys)) {
			t.Fatalf("the masters hold %d keys, want %d", total, len(keys))
		}
		cmds, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys {
				p.Get(ctx, k)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range cmds {
			if v := c.(*redis.StringCmd).Val(); v != "v:"+keys[i] {
				t.Fatalf("%s = %q", keys[i], v)
			}
		}
	})

	t.Run("RPush with Tx on one key", func(t *testing.T) {
		rdb := clusterClient(t, cl, nil)
		vals := values("c", 2000)
		res, err := batch.RPush(ctx, rdb, "clist", vals, batch.Options{Tx: true})
		if err != nil || !res.Complete() {
			t.Fatalf("RPush: %v", err)
		}
		if got := lrange(t, rdb, "clist"); !slices.Equal(got, vals) {
			t.Fatalf("list holds %d values", len(got))
		}
	})

	t.Run("Tx across slots is rejected", func(t *testing.T) {
		rdb := clusterClient(t, cl, nil)
		res, err := batch.Run(ctx, rdb, keys[:100], set, batch.Options{Tx: true})
		if err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
			t.Fatalf("error: %v", err)
		}
		checkCover(t, res, 100)
		equalInts(t, "NotWritten", res.NotWritten, span(0, 100))
	})

	for _, redirects := range []int{-1, 0} {
		t.Run(fmt.Sprintf("one node refuses a chunk, MaxRedirects=%d", redirects), func(t *testing.T) {
			rdb := clusterClient(t, cl, &redis.ClusterOptions{MaxRedirects: redirects})
			refusing := cl.Addrs()[1]
			var refuse atomic.Bool
			rdb.OnNewNode(func(node *redis.Client) {
				if node.Options().Addr != refusing {
					return
				}
				node.AddHook(pipelineHook(func(ctx context.Context, cmds []redis.Cmder, next redis.ProcessPipelineHook) error {
					if refuse.Load() && isChunk(cmds) {
						return fmt.Errorf("hooks: breaker %s: %w", refusing, hooks.ErrCircuitOpen)
					}
					return next(ctx, cmds)
				}))
			})
			const at = 5
			rdb.AddHook(onChunk(func(k int) error {
				if k == at {
					refuse.Store(true)
				}
				return nil
			}))
			for _, s := range cl.Servers() {
				s.Client(t, nil).FlushDB(ctx)
			}
			node := nodeOfSlot(t, rdb)
			res, err := batch.Run(ctx, rdb, keys, set, batch.Options{})
			if !errors.Is(err, hooks.ErrCircuitOpen) {
				t.Fatalf("error: %v", err)
			}
			checkCover(t, res, len(keys))
			var written, refused []int
			for i := range at * 50 {
				written = append(written, i)
			}
			for i := at * 50; i < (at+1)*50; i++ {
				if node[slotOf(keys[i])] == refusing {
					refused = append(refused, i)
				} else {
					written = append(written, i)
				}
			}
			if len(refused) == 0 || len(refused) == 50 {
				t.Fatalf("the refused chunk has %d items on the refusing node; want some", len(refused))
			}
			slices.Sort(written)
			equalInts(t, "Written", res.Written, written)
			// With redirects on, go-redis may send a node's part again by
			// itself; a refusal by redisguard's hooks is still certain,
			// because the node guard Attach adds turns the error of a command
			// an earlier send may have applied into ErrMaybeApplied.
			equalInts(t, "Unknown", res.Unknown, nil)
			equalInts(t, "NotWritten (the refused chunk)", intersect(res.NotWritten, refused), refused)
			for _, i := range append(slices.Clone(res.NotWritten), res.Unknown...) {
				if n, _ := rdb.Exists(ctx, keys[i]).Result(); n != 0 {
					t.Fatalf("item %d, not written, is present", i)
				}
			}
			for _, i := range res.Written {
				if n, _ := rdb.Exists(ctx, keys[i]).Result(); n != 1 {
					t.Fatalf("written item %d is missing", i)
				}
			}
		})
	}
}

// intersect returns the items of a that are in b, in a's order.
func intersect(a, b []int) []int {
	var out []int
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
