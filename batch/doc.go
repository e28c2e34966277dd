// Package batch sends many commands to Redis in chunked pipelines and says
// exactly what became of each item: written, certainly not written, or
// unknown.
//
// RPush appends values to a list, Publish sends messages to a channel, and
// Run is the general form: it calls a function to queue each item's
// commands on a redis.Pipeliner. Items go in chunks of Options.ChunkSize
// (default 50), one pipeline per chunk, chunk after chunk unless Run is
// asked for chunks in parallel. Each chunk goes through the client's hooks
// like any pipeline, so a redisguard Limiter spends one permit per chunk and
// the Retry hook applies its rules to the chunk as a whole.
//
//	res, err := batch.RPush(ctx, rdb, "jobs", values, batch.Options{})
//	if err != nil {
//		// res.NotWritten may be sent again as they are:
//		_, err = batch.RPush(ctx, rdb, "jobs", batch.Pick(values, res.NotWritten), batch.Options{})
//		// res.Unknown need a decision: read the list back, or accept a possible duplicate.
//	}
//
// # The report
//
// Result lists every item index exactly once, in Written, NotWritten or
// Unknown:
//
//   - Written: every command of the item got a reply that is not an error
//     (redis.Nil is a reply).
//   - NotWritten: the item was certainly not applied. Its chunk never left
//     (an earlier chunk stopped the batch; the context ended; no connection
//     could be had; a hook such as the Limiter or the Breaker refused it
//     with hooks.ErrLimited or hooks.ErrCircuitOpen), or the server answered
//     each of its commands with an error reply (WRONGTYPE, OOM, a MULTI
//     discarded with EXECABORT). Sending it again cannot apply it twice.
//   - Unknown: the chunk was sent and no reply came back for the item (a
//     read timeout, a reset, EOF), or the item was only partly applied.
//
// go-redis reads a pipeline's replies in order, so after a failure halfway
// through a chunk the items whose replies were read are Written and the
// rest of the chunk is Unknown. A MULTI/EXEC chunk is all or nothing: EXEC's
// reply read means written (except commands the server rejected inside it);
// EXECABORT or a failure before anything was sent means not written; a
// failure after it was sent and before EXEC's reply was read means Unknown
// for the whole chunk.
//
// After a read fails halfway through a pipeline, go-redis gives every
// command of it the same error, those whose replies were read included. To
// keep the boundary, on a *redis.Client, *redis.Conn or *redis.Tx the batch
// gives each command of a plain (non-MULTI) chunk a placeholder error
// before sending it: go-redis replaces it when it reads the reply, and a
// command still carrying it got none. Hooks that look at commands' errors
// after the pipeline ran see the placeholder on those commands.
//
// Error replies are answers, not failures: by default the batch stops after
// the first chunk holding a rejected item, and with
// Options.ContinueOnServerError it goes on. A connection failure, an error
// from the queue function, or the end of the context always stops the
// batch; every later chunk is NotWritten. The context is checked before each
// chunk is sent. The error returned is nil exactly when every item was
// written.
//
// A command the server answers with an error did not apply, with one
// exception the batch cannot see: a Lua script (EVAL, FCALL) that fails
// halfway keeps the writes it made before failing.
//
// # Retries below the batch
//
// The report is exact only if nothing below the batch sends a chunk again
// after it may have reached the server. Two things can:
//
//   - go-redis's own retry: Options.MaxRetries on a Client (default 3) and
//     ClusterOptions.MaxRedirects on a cluster client (default 3) send a
//     failed pipeline again, after a timeout or EOF too. A chunk may then be
//     applied twice; the items are still reported Written, and the batch
//     treats a failure before the write on such a client ("could not
//     connect"; on a cluster client also a node hook's refusal) as Unknown,
//     since an earlier attempt may have been sent. Turn it off (MaxRetries: -1, as
//     redisguard's profiles do when they install the Retry hook) to get
//     NotWritten for chunks that never left. A MULTI/EXEC is only sent again
//     by go-redis when the earlier attempt cannot have run.
//   - a retry hook: redisguard's Retry hook sends a pipeline again after the
//     write only if every command in it may be repeated, so for RPUSH,
//     PUBLISH and other commands that are not idempotent it never does. When
//     it gives up after an attempt that may have run, its error matches
//     hooks.ErrMaybeApplied, and the batch then reports the chunk Unknown
//     even if the last attempt never left. A retry hook of another kind
//     must say so the same way, or a chunk it re-sent may be reported
//     NotWritten.
//
// # Clients
//
// The report is exact on *redis.Client, *redis.Conn, *redis.Tx and
// *redis.ClusterClient. On a cluster client go-redis splits each chunk by
// slot and sends the parts to their nodes, and each command keeps its own
// outcome; hooks added per node (OnNewNode) see one pipeline per node and
// chunk. With Options.Tx every chunk must hash to one slot (RPush does, with
// its one key). A wrapper with an Unwrap method (a *profiles.Client; see
// hooks.Unwrap) is read as the client inside it. A *redis.Ring gets a
// conservative report: after a failed chunk only the commands answered with
// an error reply or refused by a redisguard hook (ErrLimited,
// ErrCircuitOpen, a permit wait the context ended) are known, and the other
// items of that chunk are Unknown; any other Client gets only the error
// replies.
//
// Every refusal before the write is NotWritten on a *redis.Client (single
// server or Sentinel failover) with MaxRetries -1: the Limiter's ErrLimited
// and its wait ended by the context, ErrCircuitOpen, a pool timeout, a
// dial error.
//
// # Order and parallel chunks
//
// By default a chunk is sent only after the previous one answered, which is
// what keeps a list in order. Run accepts Options.Parallel above 1 for items
// whose order does not matter; after a chunk stops the batch no new chunk
// starts, and the chunks in flight finish and are reported. RPush and
// Publish refuse it.
//
// # Cost
//
// Per chunk the batch allocates the pipeline's command slice and, for RPush
// and Publish, one backing array for the chunk's arguments; per item only
// the command itself and the value's conversion to an interface. The
// per-item bookkeeping is one byte until the result is built.
package batch
