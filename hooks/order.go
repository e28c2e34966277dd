package hooks

import "github.com/redis/go-redis/v9"

// The hook chain, outermost first: a redisguard hook's place in it is its
// position in this list, and Attach adds the hooks in this order whatever
// order they are passed in (hooks that are not redisguard hooks go first,
// in the order given). The package documentation ("Hook order") says what
// each does and why it sits where it does.
const (
	// orderClassify is Attach's own hook: it classifies each call once for
	// the hooks below (see callInfo). It tops every chain Attach builds,
	// each node client's included.
	orderClassify = iota + 1
	orderTimeouts
	orderRetry
	// ReplicaReads wraps the call inside Retry, so that Retry sees what a
	// replica answered.
	orderReplicaReads
	orderBreaker
	orderLimiter
	// orderResendGuard is innermost on the node clients of a ClusterClient
	// or Ring: it must see go-redis's own error.
	orderResendGuard
)

// orderedHook is implemented by every redisguard hook.
type orderedHook interface {
	redis.Hook
	hookOrder() int
}

// nodeHook is implemented by the hooks that keep per-node state (Breaker,
// Limiter). On a *redis.Client Attach adds forNode(the client's address);
// on a ClusterClient or Ring it adds forNode(node address) to every node
// client, so each node has its own budget and its own breaker.
type nodeHook interface {
	orderedHook
	forNode(addr string) redis.Hook
}

// clientNodeHook is implemented by the per-node hooks that need the node's
// client, not only its address: the Breaker probes a node with its
// client's options. Attach prefers forClient to forNode.
type clientNodeHook interface {
	forClient(c *redis.Client) redis.Hook
}

// nodeHookFor returns h's hook for the node client c.
func nodeHookFor(h nodeHook, c *redis.Client) redis.Hook {
	if ch, ok := h.(clientNodeHook); ok {
		return ch.forClient(c)
	}
	return h.forNode(c.Options().Addr)
}
