package hooks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// attachWalkTimeout bounds the topology query Attach makes on a
// ClusterClient to find the node clients that already exist.
const attachWalkTimeout = 10 * time.Second

// Attach adds hs to rdb in the order of the hook chain (see "Hook order" in
// the package documentation), whatever order they are passed in. Hooks of
// another kind, wrapped with Outer, go outermost, in the order given. It is
// the only way to add this package's hooks to a client.
//
//   - *redis.Client (a Sentinel failover client is one too): every hook is
//     added to it. Per-node hooks (Limiter, Breaker) are bound to the
//     client's Options().Addr.
//   - *redis.ClusterClient and *redis.Ring: Timeouts, Retry and
//     non-redisguard hooks wrap the whole call (routing, redirects), and
//     the per-node hooks go on every node client, each node with its own
//     budget or breaker: through OnNewNode for nodes created from now on,
//     and directly on the node clients that exist already. Each node
//     client gets them exactly once. Every node client also gets, innermost,
//     a guard that keeps go-redis's own cluster and ring loops from sending
//     a command that is not idempotent again after a failure that may have
//     applied it (see ErrMaybeApplied).
//
// On a ClusterClient with a Breaker, Attach also makes the client rediscover
// the cluster when a node fails: a node's circuit that opens, and each call
// an open circuit refuses, ask the client to reload its slot map
// (ClusterClient.ReloadState), at most every 200 ms, so that the replica
// the cluster promotes in place of a dead master gets its slots' commands
// as soon as the cluster has promoted it, rather than when go-redis reloads
// on its own (ClusterStateReloadInterval, 60 s by default; a dead master
// sends no MOVED). The Breaker keeps a reference to the client for this
// (see Breaker.Subscribe): attach a Breaker to clients that live as long as
// it does.
//
// A ReplicaReads goes on a ClusterClient only (anywhere else Attach
// refuses, attaching nothing), among the hooks that wrap the whole call,
// inside Retry.
//
// A wrapper is first reduced to the go-redis client inside it (see Unwrap),
// so Attach on a *profiles.Client attaches to its go-redis client. Any
// other type is an error. Call Attach once per client, before or after it
// has served commands.
//
// On a ClusterClient with per-node hooks, Attach asks the cluster for its
// slot map (one CLUSTER SLOTS, bounded by 10 s) to list the node clients
// that exist. If the cluster cannot be reached and node clients may already
// exist (the client has been used), Attach still attaches everything it can
// and returns an error saying that some node clients may lack the per-node
// hooks. On a fresh client an unreachable cluster is no error: its node
// clients are created later, through OnNewNode.
//
// On a Ring, a shard marked down cannot be listed; Attach then refuses,
// attaching nothing. Attach before SetAddrs changes the shards, and not
// while SetAddrs runs.
//
// Attach also refuses, attaching nothing and naming the option to set,
// hooks the client's own options would defeat (read after go-redis applied
// its defaults; on a ClusterClient or Ring, the cluster's or ring's options):
//
//   - Retry on a client whose own retry loop is on (MaxRetries above 0;
//     go-redis turns the default 0 into 3 on a *redis.Client and a Ring).
//     That loop runs below every hook and re-sends any command after a read
//     timeout, INCR included: set MaxRetries: -1.
//   - Timeouts on a client without ContextTimeoutEnabled: go-redis then
//     reads and writes without the context's deadline, and the class
//     deadlines never reach the socket.
//   - A Limiter whose MaxInFlight is above the client's PoolSize: the
//     commands past the pool would wait in go-redis's pool queue instead.
func Attach(rdb redis.UniversalClient, hs ...Guard) error {
	rdb = Unwrap(rdb)
	if isNilClient(rdb) {
		return errors.New("hooks: Attach: nil client")
	}
	seen := make(map[orderedHook]bool)
	for i, h := range hs {
		if h == nil || h.redisHook() == nil {
			return fmt.Errorf("hooks: Attach: hook %d is nil", i)
		}
		if oh, ok := h.(orderedHook); ok {
			if seen[oh] {
				return fmt.Errorf("hooks: Attach: hook %d (%T) is passed twice", i, h)
			}
			seen[oh] = true
		}
	}
	if _, cluster := rdb.(*redis.ClusterClient); !cluster {
		for i, h := range hs {
			if _, ok := h.(*ReplicaReads); ok {
				return fmt.Errorf("hooks: Attach: hook %d (*hooks.ReplicaReads) needs a *redis.ClusterClient, not %T", i, rdb)
			}
		}
	}
	// Last of the refusals that attach nothing, since it binds the
	// Limiters to the pool's size (see Limiter.fitPool).
	if err := checkFit(rdb, hs); err != nil {
		return err
	}
	sorted := sortHooks(withClassify(hs))
	switch c := rdb.(type) {
	case *redis.Client:
		for _, h := range sorted {
			if nh, ok := h.(nodeHook); ok {
				c.AddHook(nodeHookFor(nh, c))
				continue
			}
			c.AddHook(h.redisHook())
		}
		return nil
	case *redis.ClusterClient:
		return attachCluster(c, sorted)
	case *redis.Ring:
		return attachRing(c, sorted)
	default:
		return fmt.Errorf("hooks: Attach: unsupported client type %T", rdb)
	}
}

// clientFit is what Attach reads of a client's options, after go-redis has
// applied its defaults (a MaxRetries of -1 reads 0 then).
type clientFit struct {
	maxRetries     int
	poolSize       int
	contextTimeout bool
}

// checkFit refuses hooks the client's own options would defeat, naming
// every option to set.
func checkFit(rdb redis.UniversalClient, hs []Guard) error {
	var f clientFit
	switch c := rdb.(type) {
	case *redis.Client:
		o := c.Options()
		f = clientFit{o.MaxRetries, o.PoolSize, o.ContextTimeoutEnabled}
	case *redis.ClusterClient:
		o := c.Options()
		f = clientFit{o.MaxRetries, o.PoolSize, o.ContextTimeoutEnabled}
	case *redis.Ring:
		o := c.Options()
		f = clientFit{o.MaxRetries, o.PoolSize, o.ContextTimeoutEnabled}
	default:
		return nil // Attach reports the type
	}
	var errs []error
	for _, h := range hs {
		switch h := h.(type) {
		case *Retry:
			if f.maxRetries > 0 {
				errs = append(errs, fmt.Errorf("hooks: Attach: Retry on a client that also retries by itself "+
					"(MaxRetries %d once go-redis applied its defaults): set MaxRetries: -1 in the "+
					"client's options, so that only Retry decides what is sent again", f.maxRetries))
			}
		case *Timeouts:
			if !f.contextTimeout {
				errs = append(errs, errors.New("hooks: Attach: Timeouts on a client with ContextTimeoutEnabled "+
					"false: set ContextTimeoutEnabled: true in the client's options, or the "+
					"deadlines Timeouts sets never reach the socket"))
			}
		case *Limiter:
			if err := h.fitPool(f.poolSize, false); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	// Every hook fits: each Limiter keeps the pool size as its bound, and
	// checks again in the same step, for a SetLimits since the check above.
	for _, h := range hs {
		if l, ok := h.(*Limiter); ok {
			if err := l.fitPool(f.poolSize, true); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func isNilClient(rdb redis.UniversalClient) bool {
	switch c := rdb.(type) {
	case nil:
		return true
	case *redis.Client:
		return c == nil
	case *redis.ClusterClient:
		return c == nil
	case *redis.Ring:
		return c == nil
	}
	return false
}

// hookRank is a hook's place in the chain (see orderClassify);
// non-redisguard hooks come first.
func hookRank(h Guard) int {
	if oh, ok := h.(orderedHook); ok {
		return oh.hookOrder()
	}
	return 0
}

// sortHooks returns hs in chain order, outermost first; equal ranks keep
// the order given.
func sortHooks(hs []Guard) []Guard {
	sorted := slices.Clone(hs)
	slices.SortStableFunc(sorted, func(a, b Guard) int { return hookRank(a) - hookRank(b) })
	return sorted
}

// withClassify returns hs and, if hs has a redisguard hook, the classify
// hook that tops the chain, with the chain's table.
func withClassify(hs []Guard) []Guard {
	for _, h := range hs {
		if _, ok := h.(orderedHook); ok {
			return append(slices.Clone(hs), classifyHook{table: chainTable(hs)})
		}
	}
	return hs
}

// splitHooks separates the hooks that wrap the whole call from the
// per-node ones, keeping the order.
func splitHooks(hs []Guard) (top []Guard, node []nodeHook) {
	for _, h := range hs {
		if nh, ok := h.(nodeHook); ok {
			node = append(node, nh)
		} else {
			top = append(top, h)
		}
	}
	return top, node
}

// nodeAttacher adds the per-node hooks to node clients, each exactly once.
type nodeAttacher struct {
	hooks []nodeHook
	// classify tops each node client's chain.
	classify classifyHook
	// onAttach, if set, is told the address of every node client hooked.
	onAttach func(addr string)

	mu sync.Mutex
	// done holds the node clients hooked while Attach walks the existing
	// ones, so that a node reported both by OnNewNode and by the walk is
	// hooked once. It is dropped when the walk ends: OnNewNode fires when a
	// node client is created, before the walk could see it, so after the
	// walk no client it hooked can be reported again.
	done map[*redis.Client]bool
	// created lists the addresses of node clients OnNewNode reported while
	// Attach ran.
	created map[string]bool
}

func newNodeAttacher(hooks []nodeHook, classify classifyHook) *nodeAttacher {
	return &nodeAttacher{hooks: hooks, classify: classify, done: make(map[*redis.Client]bool), created: make(map[string]bool)}
}

// onNewNode is registered with OnNewNode. It builds new hook values for
// the node and touches no shared option slice.
func (a *nodeAttacher) onNewNode(c *redis.Client) {
	a.mu.Lock()
	if a.created != nil {
		a.created[c.Options().Addr] = true
	}
	a.mu.Unlock()
	a.attach(c)
}

// attach adds the hooks to c unless the walk already did.
func (a *nodeAttacher) attach(c *redis.Client) {
	a.mu.Lock()
	if a.done != nil {
		if a.done[c] {
			a.mu.Unlock()
			return
		}
		a.done[c] = true
	}
	a.mu.Unlock()
	if a.onAttach != nil {
		a.onAttach(c.Options().Addr)
	}
	c.AddHook(a.classify.redisHook())
	for _, h := range a.hooks {
		c.AddHook(nodeHookFor(h, c))
	}
}

// walkDone ends the walk and returns the addresses OnNewNode reported
// during Attach.
func (a *nodeAttacher) walkDone() map[string]bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	created := a.created
	a.done, a.created = nil, nil
	return created
}

func attachCluster(c *redis.ClusterClient, hooks []Guard) error {
	// Every node client gets at least the resend guard, so there is always
	// something to attach per node.
	top, node := splitHooks(hooks)
	node = append(node, resendGuardFor(hooks))
	a := newNodeAttacher(node, classifyOf(hooks))
	var rd *rediscovery
	if b := breakerOf(node); b != nil {
		rd = newRediscovery(c)
		a.onAttach = rd.addNode
	}
	c.OnNewNode(a.onNewNode)
	ctx, cancel := context.WithTimeout(context.Background(), attachWalkTimeout)
	walkErr := c.ForEachShard(ctx, func(_ context.Context, nc *redis.Client) error {
		a.attach(nc)
		return nil
	})
	cancel()
	created := a.walkDone()
	if walkErr != nil && !clusterFresh(c.Options(), created) {
		walkErr = fmt.Errorf("hooks: Attach: cannot list the cluster's node clients (%w); "+
			"node clients created before Attach may lack %d per-node hook(s): "+
			"attach before the first command, or while the cluster is reachable", walkErr, len(node))
	} else {
		walkErr = nil
	}
	for _, h := range top {
		if rr, ok := h.(*ReplicaReads); ok {
			c.AddHook(rr.forCluster(c))
			continue
		}
		c.AddHook(h.redisHook())
	}
	c.AddHook(resendScopeHook{})
	if rd != nil {
		c.AddHook(rediscoverHook{rd})
		breakerOf(node).Subscribe(rd.stateChanged)
	}
	return walkErr
}

// classifyOf returns the classify hook among hs (see withClassify), or
// one with the default table.
func classifyOf(hs []Guard) classifyHook {
	for _, h := range hs {
		if c, ok := h.(classifyHook); ok {
			return c
		}
	}
	return classifyHook{}
}

// breakerOf returns the Breaker among hs, or nil.
func breakerOf(hs []nodeHook) *Breaker {
	for _, h := range hs {
		if b, ok := h.(*Breaker); ok {
			return b
		}
	}
	return nil
}

// clusterFresh reports, after ForEachShard failed, whether every node
// client of the cluster was created during Attach (and so was hooked
// through OnNewNode). ForEachShard fails only when no slot map was ever
// loaded; until then the client creates node clients only for its seed
// addresses (Options().Addrs), each of which the failed load has just
// visited, or none at all when ClusterSlots is set.
func clusterFresh(opt *redis.ClusterOptions, created map[string]bool) bool {
	if opt.ClusterSlots != nil {
		return true
	}
	for _, addr := range opt.Addrs {
		if !created[addr] {
			return false
		}
	}
	return true
}

func attachRing(r *redis.Ring, hooks []Guard) error {
	// As on a cluster, every node client gets at least the resend guard.
	top, node := splitHooks(hooks)
	node = append(node, resendGuardFor(hooks))
	want := len(r.Options().Addrs)
	var mu sync.Mutex
	live := 0
	_ = r.ForEachShard(context.Background(), func(context.Context, *redis.Client) error {
		mu.Lock()
		live++
		mu.Unlock()
		return nil
	})
	if live < want {
		return fmt.Errorf("hooks: Attach: the ring lists %d live shards of the %d configured; "+
			"a shard marked down cannot be reached: attach before the first command or while every shard is up", live, want)
	}
	a := newNodeAttacher(node, classifyOf(hooks))
	r.OnNewNode(a.onNewNode)
	_ = r.ForEachShard(context.Background(), func(_ context.Context, nc *redis.Client) error {
		a.attach(nc)
		return nil
	})
	a.walkDone()
	for _, h := range top {
		r.AddHook(h.redisHook())
	}
	r.AddHook(resendScopeHook{})
	return nil
}
