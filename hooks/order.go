package hooks

import (
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/internal/hookx"
)

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

// Guard is one of this package's hooks: a *Timeouts, *Retry, *Breaker,
// *Limiter or *ReplicaReads. Attach is the only way to add one to a client,
// so that its checks of the client's options always run: a Guard is not a
// redis.Hook, and AddHook does not take it.
type Guard interface {
	// redisHook returns the go-redis hook Attach adds.
	redisHook() redis.Hook
}

// orderedHook is implemented by every redisguard hook.
type orderedHook interface {
	Guard
	hookOrder() int
}

// hookMethods are the go-redis hook methods of a Guard, kept unexported so
// that only Attach adds them to a client.
type hookMethods interface {
	dialHook(next redis.DialHook) redis.DialHook
	processHook(next redis.ProcessHook) redis.ProcessHook
	processPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook
}

// rawHook is the redis.Hook of a Guard. go-redis calls its methods when it
// builds the hook chain (on AddHook), not per command.
type rawHook struct{ m hookMethods }

func (h rawHook) DialHook(next redis.DialHook) redis.DialHook { return h.m.dialHook(next) }

func (h rawHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return h.m.processHook(next)
}

func (h rawHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return h.m.processPipelineHook(next)
}

// Outer returns h, a go-redis hook of another kind (tracing, metrics), as a
// Guard that Attach adds outermost, before every hook of this package, in
// the order given: Attach(rdb, Outer(tracing), lim, tmo). Attach then adds
// it only if it adds the others. A hook added with AddHook before Attach
// also runs outermost.
func Outer(h redis.Hook) Guard { return outerHook{h} }

// outerHook is a hook of another kind passed to Attach through Outer.
type outerHook struct{ h redis.Hook }

func (o outerHook) redisHook() redis.Hook { return o.h }

func init() {
	hookx.DefaultTimeouts = func() (read, write, def time.Duration) {
		return defaultTimeoutOptions.Read, defaultTimeoutOptions.Write, defaultTimeoutOptions.Default
	}
	hookx.LimiterNewTimerPerWait = func(l any) {
		lim := l.(*Limiter)
		lim.mu.Lock()
		defer lim.mu.Unlock()
		lim.newTimer = true
	}
	hookx.LimiterPastPool = func(l, lim any) error { return l.(*Limiter).setLimits(lim.(LimiterLimits), false) }
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
