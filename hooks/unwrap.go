package hooks

import "github.com/redis/go-redis/v9"

// maxUnwrap bounds how many wrappers Unwrap follows, so that a wrapper
// that returns itself (or a cycle of them) cannot loop forever.
const maxUnwrap = 32

// Unwrap returns the go-redis client behind rdb. A wrapper around a
// go-redis client (*profiles.Client is one) makes itself known with a
// method
//
//	Unwrap() redis.UniversalClient
//
// that returns the client it wraps. Unwrap follows such methods, wrapper
// after wrapper, and returns the first value without one: normally a
// *redis.Client, *redis.ClusterClient or *redis.Ring. A value without the
// method is returned as it is; a wrapper whose Unwrap returns nil gives nil.
//
// Every helper of this module that looks at the concrete client (Attach,
// the batch functions, health.NewMonitor, the fx module) calls Unwrap once
// on entry, so each gives the same answer through a wrapper as through the
// go-redis client inside it. Give a wrapper of your own the same method to
// have it treated the same way; only a wrapper that sends every command
// through the client it returns should have it, since the helpers then use
// that client directly and bypass any method the wrapper overrides.
func Unwrap(rdb redis.UniversalClient) redis.UniversalClient {
	for range maxUnwrap {
		w, ok := rdb.(interface{ Unwrap() redis.UniversalClient })
		if !ok {
			return rdb
		}
		rdb = w.Unwrap()
		if rdb == nil {
			return nil
		}
	}
	return rdb
}
