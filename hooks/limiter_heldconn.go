package hooks

import (
	"maps"
	"runtime"
	"sync"
	"sync/atomic"
)

// heldConnBuilders are the go-redis functions that build the hook chain of
// a client bound to one connection it holds: (*Tx).init for Client.Watch,
// newConn for Conn, EphemeralConn, a new connection's handshake and
// OnConnect, and re-authentication. go-redis makes such a client nowhere
// else (v9.23: every NewStickyConnPool and NewSingleConnPool feeds one of
// them), and they build nothing else, so a chain built under them is never
// the shared chain of a client. Were they renamed, those chains would take
// permits again (the deadlock would come back; no command would go
// unlimited): TestLimiterKnowsGoRedisHeldConnChains fails loudly then.
var heldConnBuilders = map[string]bool{
	"github.com/redis/go-redis/v9.(*Tx).init": true,
	"github.com/redis/go-redis/v9.newConn":    true,
}

// heldConnDepth is how many frames above the hook method are looked at:
// go-redis's rebuild, initHooks and the builder, with room for inlining
// choices and a wrapper or two.
const heldConnDepth = 8

// heldConnVerdicts caches heldConnChain's answer by call stack (the return
// addresses, which fix the functions on it): resolving function names is
// the slow part, and the set of call sites is small and fixed.
var heldConnVerdicts struct {
	mu sync.Mutex
	m  atomic.Pointer[map[[heldConnDepth]uintptr]bool]
}

// maxHeldConnVerdicts bounds the cache; past it answers are computed anew.
const maxHeldConnVerdicts = 1024

// heldConnChain reports whether the hook method that calls it was called by
// go-redis to build the chain of a client bound to a connection it holds.
// It runs when a chain is built (three times per transaction or Conn) and
// where go-redis wraps a single call in the hooks (a cluster's node
// pipelines, autopipeline batches, full-duplex autopipelined commands):
// a runtime.Callers and a map lookup once the call site has been seen.
func heldConnChain() bool {
	var pcs [heldConnDepth]uintptr
	// Skip runtime.Callers, heldConnChain and the hook method.
	runtime.Callers(3, pcs[:])
	if m := heldConnVerdicts.m.Load(); m != nil {
		if v, ok := (*m)[pcs]; ok {
			return v
		}
	}
	return heldConnResolve(pcs)
}

// heldConnResolve is heldConnChain for a stack not seen before: it looks
// for a builder among the functions, and caches the answer.
//
//go:noinline
func heldConnResolve(pcs [heldConnDepth]uintptr) bool {
	v := false
	n := 0
	for n < len(pcs) && pcs[n] != 0 {
		n++
	}
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		if heldConnBuilders[f.Function] {
			v = true
			break
		}
		if !more {
			break
		}
	}
	heldConnVerdicts.mu.Lock()
	defer heldConnVerdicts.mu.Unlock()
	old := heldConnVerdicts.m.Load()
	if old != nil && len(*old) >= maxHeldConnVerdicts {
		return v
	}
	m := make(map[[heldConnDepth]uintptr]bool, 1+lenOf(old))
	if old != nil {
		maps.Copy(m, *old)
	}
	m[pcs] = v
	heldConnVerdicts.m.Store(&m)
	return v
}

func lenOf(m *map[[heldConnDepth]uintptr]bool) int {
	if m == nil {
		return 0
	}
	return len(*m)
}
