package hooks

import "github.com/redis/go-redis/v9"

// Position of each redisguard hook in the chain, outermost first. Attach
// sorts by it whatever order the hooks are passed in.
const (
	orderTimeouts = 10
	orderRetry    = 20
	// ReplicaReads wraps the call inside Retry, so that Retry sees what a
	// replica answered.
	orderReplicaReads = 25
	orderBreaker      = 30
	orderLimiter      = 40
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
