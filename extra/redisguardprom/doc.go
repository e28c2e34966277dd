// Package redisguardprom is a Prometheus collector for a go-redis client
// guarded by redisguard: operation durations, each node's pool, and the
// hooks' own figures (limiter, breaker, retries, batches), with Prometheus
// names (_total, _seconds) and labels of bounded cardinality (a node
// address, a command name, a state or an outcome; never a key).
//
// It is a module of its own, so the core module carries no Prometheus
// dependency.
//
//	rdb, _ := profiles.NewClient(profiles.API())
//	col, err := redisguardprom.NewCollector(rdb, redisguardprom.Options{})
//	...
//	prometheus.MustRegister(col)
//
// The figures the hooks already keep are read at scrape time from their
// Stats, NodeStats and States methods and from each node's PoolStats. The
// only per command work is the duration histogram, recorded by a hook added
// to every node client. To register the collectors of two clients in one
// registry, tell them apart with prometheus.WrapRegistererWith.
package redisguardprom
