// Package redisguardotel reports the figures of a go-redis client guarded
// by redisguard through OpenTelemetry: operation durations and pool figures
// under the database semantic conventions (db.client.operation.duration,
// db.client.connection.*), and the hooks' own figures under redisguard.*
// (limiter, breaker, retries, batches). Each retry also becomes an event on
// the command's active span.
//
// It is a module of its own, so the core module carries no OpenTelemetry
// dependency.
//
//	rdb, _ := profiles.NewClient(profiles.API())
//	inst, err := redisguardotel.Instrument(rdb, redisguardotel.Options{MeterProvider: mp})
//	...
//	defer inst.Close()
//
// Gauges and counters the hooks already keep are observed at collection time
// from their Stats, NodeStats and States methods and from each node's
// PoolStats: nothing is counted twice on the command path. The only per
// command work is the duration histogram, recorded by a hook added to every
// node client: one Record per command, with an attribute set made once per
// operation name and error type. With the OpenTelemetry SDK most of that
// cost is the SDK's own Record (BenchmarkDurationHook measures the hook and
// the SDK's Record alone; BenchmarkGuardedSet, a guarded client with and
// without the instrumentation).
package redisguardotel
