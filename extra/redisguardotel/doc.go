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
// node client, with an attribute set made once per operation name and error
// type. It takes one of two routes.
//
// Through the meter provider (Options.Producer nil, the default): one
// Record per command on the SDK's histogram. Views, exemplars (the SDK's
// exemplar filter sees the command's context, so a sampled span links its
// durations), the reader's temporality and the cardinality limit all apply.
// The SDK's Record costs a few hundred nanoseconds even with the attribute
// set made once (since SDK v1.45.0 most of it goes to removing duplicate
// keys from map values, a pass over the set on every call), and more in a
// busy process, where its attribute lookup and histogram state are rarely
// in cache: on a guarded client's SET that is a few per cent
// (BenchmarkGuardedSet, route=meter), with older SDKs as well.
//
// Through a Producer (Options.Producer, given to the readers with
// sdkmetric.WithProducer): the hook adds to atomic bucket counters, a sum,
// a minimum and a maximum kept per attribute set, and the readers collect
// them as they collect the SDK's own figures; the cost is about the
// Prometheus adapter's (route=producer). What it gives up: views do not
// apply to it (no renaming, dropping, other buckets or attribute filters),
// its points are cumulative whatever temporality a reader prefers, they
// carry no exemplars, and the meter provider's cardinality limit does not
// bound them (the hook's own bound on operation names does). A Producer
// that no reader collects keeps durations no exporter sees; the
// instrumentation reports that through otel.Handle (ErrProducerNotCollected
// says when).
//
// BenchmarkDurationHook measures the hook on each route and the SDK's
// Record alone; BenchmarkGuardedSet, a guarded client with and without the
// instrumentation on each route.
package redisguardotel
