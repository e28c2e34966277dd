package hooks

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/internal/redistest"
)

// ltPlainHook is a hook that is not a redisguard hook.
type ltPlainHook struct {
	name string
	seen func(ctx context.Context, cmd redis.Cmder)
}

func (h *ltPlainHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *ltPlainHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.seen != nil && !isHandshake(cmd) {
			h.seen(ctx, cmd)
		}
		return next(ctx, cmd)
	}
}

func (h *ltPlainHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// redisHook makes it a Guard of no rank, as hookx.Outer does.
func (h *ltPlainHook) redisHook() redis.Hook { return h }

// ltOrdered stands for a redisguard hook at a given place in the chain.
type ltOrdered struct {
	ltPlainHook
	order int
}

func (h *ltOrdered) hookOrder() int { return h.order }

// ltNodeCounter is a per-node hook that counts the node clients it was
// added to, by address.
type ltNodeCounter struct {
	ltPlainHook
	mu    sync.Mutex
	nodes map[string]int
}

func newLtNodeCounter() *ltNodeCounter { return &ltNodeCounter{nodes: make(map[string]int)} }

func (h *ltNodeCounter) hookOrder() int { return orderBreaker }

func (h *ltNodeCounter) forNode(addr string) redis.Hook {
	h.mu.Lock()
	h.nodes[addr]++
	h.mu.Unlock()
	return &ltPlainHook{name: "node " + addr}
}

func (h *ltNodeCounter) counts() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.nodes)
}

func TestAttachSortsHooks(t *testing.T) {
	lim := ltNewLimiter(t, LimiterOptions{MaxInFlight: 4})
	tmo := ltNewTimeouts(t, TimeoutOptions{})
	retry := &ltOrdered{ltPlainHook{name: "retry"}, orderRetry}
	breaker := &ltOrdered{ltPlainHook{name: "breaker"}, orderBreaker}
	a, b := &ltPlainHook{name: "a"}, &ltPlainHook{name: "b"}
	got := sortHooks([]Guard{lim, a, breaker, tmo, b, retry})
	want := []Guard{a, b, tmo, retry, breaker, lim}
	if !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}

func TestAttachRejects(t *testing.T) {
	type otherClient struct{ redis.UniversalClient }
	lim := ltNewLimiter(t, LimiterOptions{MaxInFlight: 4})
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	cases := []struct {
		name string
		rdb  redis.UniversalClient
		hs   []Guard
		want string
	}{
		{"unsupported type", otherClient{}, []Guard{lim}, "hooks: Attach: unsupported client type hooks.otherClient"},
		{"nil client", nil, []Guard{lim}, "hooks: Attach: nil client"},
		{"nil *redis.Client", (*redis.Client)(nil), []Guard{lim}, "hooks: Attach: nil client"},
		{"nil hook", rdb, []Guard{lim, nil}, "hooks: Attach: hook 1 is nil"},
		{"nil hook of another kind", rdb, []Guard{lim, Outer(nil)}, "hooks: Attach: hook 1 is nil"},
		{"hook twice", rdb, []Guard{lim, lim}, "passed twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Attach(c.rdb, c.hs...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Attach = %v, want %q", err, c.want)
			}
		})
	}
}

// TestAttachClient checks the chain on a *redis.Client: a non-redisguard
// hook runs outermost (outside Timeouts), and the Limiter counts under the
// client's address.
func TestAttachClient(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t, &redis.Options{ContextTimeoutEnabled: true})
	lim := ltNewLimiter(t, LimiterOptions{MaxInFlight: 4})
	tmo := ltNewTimeouts(t, TimeoutOptions{})
	var outerHadDeadline, innerHadDeadline bool
	var innerInFlight int64
	outer := &ltPlainHook{name: "outer", seen: func(ctx context.Context, _ redis.Cmder) {
		_, outerHadDeadline = ctx.Deadline()
	}}
	if err := Attach(rdb, lim, tmo, outer); err != nil {
		t.Fatal(err)
	}
	rdb.AddHook(&ltPlainHook{name: "inner", seen: func(ctx context.Context, _ redis.Cmder) {
		_, innerHadDeadline = ctx.Deadline()
		innerInFlight = lim.Stats().InFlight
	}})
	if err := rdb.Set(context.Background(), "attach:k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if outerHadDeadline || !innerHadDeadline || innerInFlight != 1 {
		t.Fatalf("outer saw a deadline: %v; inner saw one: %v; in flight inside: %d",
			outerHadDeadline, innerHadDeadline, innerInFlight)
	}
	ns := lim.NodeStats()
	if len(ns) != 1 || ns[srv.Addr()].Admitted != 1 {
		t.Fatalf("NodeStats = %+v", ns)
	}
}

func ltClusterSets(t *testing.T, rdb *redis.ClusterClient, prefix string, n int) {
	t.Helper()
	for i := range n {
		if err := rdb.Set(context.Background(), prefix+strconv.Itoa(i), i, 0).Err(); err != nil {
			t.Fatalf("SET: %v", err)
		}
	}
}

// ltCheckNodes checks that the limiter admitted commands on exactly the
// cluster's masters and that the node hooks went on each node client once.
func ltCheckNodes(t *testing.T, masters []string, lim *Limiter, counter *ltNodeCounter) {
	t.Helper()
	ns := lim.NodeStats()
	var addrs []string
	for addr, st := range ns {
		addrs = append(addrs, addr)
		if st.Admitted == 0 || st.InFlight != 0 || st.Waiting != 0 {
			t.Errorf("node %s: %+v", addr, st)
		}
	}
	slices.Sort(addrs)
	if !slices.Equal(addrs, masters) {
		t.Fatalf("limiter nodes %v, want the masters %v", addrs, masters)
	}
	for addr, n := range counter.counts() {
		if n != 1 {
			t.Errorf("node %s got the per-node hooks %d times", addr, n)
		}
	}
	for _, addr := range masters {
		if counter.counts()[addr] != 1 {
			t.Errorf("master %s never got the per-node hooks", addr)
		}
	}
}

func TestAttachCluster(t *testing.T) {
	cluster := redistest.StartCluster(t, 3, 0)
	masters := slices.Sorted(slices.Values(cluster.Addrs()))

	t.Run("before traffic", func(t *testing.T) {
		rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cluster.Addrs(), ContextTimeoutEnabled: true})
		defer rdb.Close()
		lim := ltNewLimiter(t, LimiterOptions{MaxInFlight: 4})
		counter := newLtNodeCounter()
		if err := Attach(rdb, lim, ltNewTimeouts(t, TimeoutOptions{}), counter); err != nil {
			t.Fatal(err)
		}
		ltClusterSets(t, rdb, "attach:before:", 300)
		ltCheckNodes(t, masters, lim, counter)
		t.Logf("NodeStats: %v", ltAdmitted(lim))
	})

	t.Run("after traffic", func(t *testing.T) {
		rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cluster.Addrs(), ContextTimeoutEnabled: true})
		defer rdb.Close()
		ltClusterSets(t, rdb, "attach:after:", 100)
		lim := ltNewLimiter(t, LimiterOptions{MaxInFlight: 4})
		counter := newLtNodeCounter()
		if err := Attach(rdb, lim, counter); err != nil {
			t.Fatal(err)
		}
		ltClusterSets(t, rdb, "attach:after:", 300)
		ltCheckNodes(t, masters, lim, counter)
		t.Logf("NodeStats: %v", ltAdmitted(lim))
	})
}

func ltAdmitted(l *Limiter) string {
	var parts []string
	for addr, st := range l.NodeStats() {
		parts = append(parts, fmt.Sprintf("%s admitted %d", addr, st.Admitted))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// TestAttachClusterUnreachable: on a fresh client an unreachable cluster is
// no error (every node client will come through OnNewNode); on a client
// that has already made node clients, Attach says it could not reach them.
func TestAttachClusterUnreachable(t *testing.T) {
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	opt := func() *redis.ClusterOptions {
		return &redis.ClusterOptions{
			Addrs:       []string{"127.0.0.1:" + strconv.Itoa(port)},
			DialTimeout: 200 * time.Millisecond, DialerRetries: 1, MaxRetries: -1,
		}
	}

	fresh := redis.NewClusterClient(opt())
	defer fresh.Close()
	counter := newLtNodeCounter()
	if err := Attach(fresh, counter); err != nil {
		t.Fatalf("fresh client: %v", err)
	}
	if n := counter.counts()["127.0.0.1:"+strconv.Itoa(port)]; n != 1 {
		t.Fatalf("the seed node client got the per-node hooks %d times", n)
	}

	used := redis.NewClusterClient(opt())
	defer used.Close()
	if err := used.Ping(context.Background()).Err(); err == nil {
		t.Fatal("PING to nowhere succeeded")
	}
	err = Attach(used, newLtNodeCounter())
	if err == nil || !strings.Contains(err.Error(), "hooks: Attach: cannot list the cluster's node clients") {
		t.Fatalf("used client: %v", err)
	}
}

func TestAttachRing(t *testing.T) {
	s1, s2 := redistest.Start(t), redistest.Start(t)
	ring := redis.NewRing(&redis.RingOptions{
		Addrs:                 map[string]string{"one": s1.Addr(), "two": s2.Addr()},
		HeartbeatFrequency:    20 * time.Millisecond,
		ContextTimeoutEnabled: true,
	})
	defer ring.Close()
	lim := ltNewLimiter(t, LimiterOptions{MaxInFlight: 4})
	counter := newLtNodeCounter()
	if err := Attach(ring, lim, ltNewTimeouts(t, TimeoutOptions{}), counter); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if err := ring.Set(context.Background(), "ring:"+strconv.Itoa(i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	ltCheckNodes(t, slices.Sorted(slices.Values([]string{s1.Addr(), s2.Addr()})), lim, counter)

	// A shard marked down cannot be reached: Attach refuses.
	s2.Kill()
	ltWaitFor(t, "the ring to mark the shard down", func() bool { return ring.Len() == 1 })
	err := Attach(ring, ltNewLimiter(t, LimiterOptions{MaxInFlight: 4}))
	if err == nil || !strings.Contains(err.Error(), "1 live shards of the 2 configured") {
		t.Fatalf("Attach with a shard down: %v", err)
	}
}

// TestAttachNodeOnce drives both ways a node client is reported: the walk
// of existing nodes and OnNewNode. Each client gets the node hooks once.
func TestAttachNodeOnce(t *testing.T) {
	counter := newLtNodeCounter()
	a := newNodeAttacher([]nodeHook{counter}, classifyHook{})
	c1 := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	c2 := redis.NewClient(&redis.Options{Addr: "127.0.0.1:2"})
	c3 := redis.NewClient(&redis.Options{Addr: "127.0.0.1:3"})
	defer c1.Close()
	defer c2.Close()
	defer c3.Close()
	var wg sync.WaitGroup
	for _, c := range []*redis.Client{c1, c2, c1, c2} {
		wg.Add(2)
		go func() { defer wg.Done(); a.onNewNode(c) }()
		go func() { defer wg.Done(); a.attach(c) }()
	}
	wg.Wait()
	created := a.walkDone()
	if !created["127.0.0.1:1"] || !created["127.0.0.1:2"] {
		t.Errorf("created = %v", created)
	}
	a.onNewNode(c3) // after the walk
	want := map[string]int{"127.0.0.1:1": 1, "127.0.0.1:2": 1, "127.0.0.1:3": 1}
	if got := counter.counts(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("forNode calls %v, want %v", got, want)
	}
}
