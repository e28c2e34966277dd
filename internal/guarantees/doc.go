// Package guarantees holds only tests: the guarantee matrix, which checks
// redisguard's promises from outside, through the public API only, on real
// redis-server processes with faults injected by toxiproxy. Each guarantee (a
// non-idempotent write is never applied twice; every transport error is
// classified as exactly one of hooks.ErrNotSent, hooks.ErrMaybeApplied and
// hooks.ErrRejected; a caller's own deadline never trips the breaker; the
// batch report is exact; no secret is printed) is checked through each handle
// a user can hold (a *redis.Client with profiles.Apply, a *profiles.Client,
// a *redis.ClusterClient, a *redis.Ring and a Sentinel failover client, each
// with profiles.Apply) and each way of sending (a command, a pipeline, a
// TxPipeline, a WATCH transaction, AutoPipeline, a batch). Run it with
// `go test -race -v -run TestGuaranteeMatrix ./internal/guarantees`: every
// cell is a subtest named guarantee/handle/path, and the test logs the whole
// matrix as a table at the end.
package guarantees
