package hooks

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// rediscoverInterval is the least time between two reloads of a
// ClusterClient's slot map that its rediscovery asks for (see Attach),
// whatever the number of nodes whose circuits open or of commands they
// refuse. It is go-redis's own pause after a reload (LazyReload waits
// 200 ms before it reloads again for requests made meanwhile), so asking
// more often would not reload sooner; asking less often delays the first
// command a promoted replica serves by up to the interval.
const rediscoverInterval = 200 * time.Millisecond

// rediscovery asks a ClusterClient to reload its slot map when a node's
// circuit opens, and again while open circuits refuse commands, at most
// once per rediscoverInterval: until the dead master's slots move, every
// refusal past the interval asks again.
//
// go-redis reloads the slot map on a MOVED or ASK reply, or when it is
// older than ClusterStateReloadInterval (60 s by default). A master that
// dies sends no MOVED: until the reload interval passes, the client keeps
// routing its slots to it, and every command there fails, even after the
// cluster has promoted a replica. An open circuit is the sign that a node
// is gone; a reload then finds the promoted replica as soon as the cluster
// has promoted it. A reload made when the circuit opens usually comes
// before the promotion (the cluster waits cluster-node-timeout before it
// fails the master over), so refusals by an open circuit ask again.
//
// ReloadState only marks the slot map for reloading: go-redis reloads it
// on a goroutine of its own, from one node that answers CLUSTER SLOTS, and
// folds requests that arrive while it reloads into one more reload.
type rediscovery struct {
	c     *redis.ClusterClient
	start time.Time
	// next is when the next reload may be asked for, as time since start.
	next atomic.Int64

	mu    sync.RWMutex
	nodes map[string]bool // the addresses of the client's node clients
}

func newRediscovery(c *redis.ClusterClient) *rediscovery {
	r := &rediscovery{c: c, start: time.Now(), nodes: make(map[string]bool)}
	r.next.Store(-1)
	return r
}

// addNode records addr as one of the client's nodes.
func (r *rediscovery) addNode(addr string) {
	r.mu.Lock()
	r.nodes[addr] = true
	r.mu.Unlock()
}

func (r *rediscovery) hasNode(addr string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.nodes[addr]
}

// stateChanged is the rediscovery's Breaker subscription: a circuit of one
// of the client's nodes that opens asks for a reload. (A Breaker attached to
// other clients too reports their nodes as well.)
func (r *rediscovery) stateChanged(node string, _, to BreakerState) {
	if to == BreakerOpen && r.hasNode(node) {
		r.reload()
	}
}

// reload asks the client to reload its slot map, unless it was asked less
// than rediscoverInterval ago.
func (r *rediscovery) reload() {
	now := int64(time.Since(r.start))
	next := r.next.Load()
	if next >= 0 && now < next {
		return
	}
	if !r.next.CompareAndSwap(next, now+int64(rediscoverInterval)) {
		return // another caller asked at the same moment
	}
	r.c.ReloadState(context.Background())
}

// rediscoverHook is added by Attach to a ClusterClient whose per-node hooks
// include a Breaker, among the hooks that wrap the whole call: a call that
// an open circuit refused asks the rediscovery for a reload.
type rediscoverHook struct{ r *rediscovery }

func (rediscoverHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h rediscoverHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err != nil && errors.Is(err, ErrCircuitOpen) {
			h.r.reload()
		}
		return err
	}
}

func (h rediscoverHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if err == nil {
			return nil
		}
		for _, c := range cmds {
			if e := c.Err(); e != nil && errors.Is(e, ErrCircuitOpen) {
				h.r.reload()
				break
			}
		}
		return err
	}
}
