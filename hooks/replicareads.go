package hooks

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// ReplicaReads is an opt-in go-redis hook for a *redis.ClusterClient, added
// with Attach next to a Breaker: a read that a master's open circuit
// refuses is sent to one of that master's replicas instead, so reads go on
// while the master is down and the cluster promotes a replica in its place.
//
// Only a single command that the command table marks ReadOnly and
// Idempotent, and not Blocking, is sent to a replica, and only after an open
// circuit refused it: it was never sent, and a read applies nothing, so
// nothing can be applied twice. Writes, pipelines, transactions and blocking
// reads keep failing fast with ErrCircuitOpen. A master whose circuit is
// closed gets every command as before: the replicas take reads only while
// the circuit is open.
//
// The replica is the one go-redis picks for the key's slot
// (ClusterClient.SlaveForKey: a replica not marked failing), reached through
// its node client with its own Limiter and Breaker, and the read is sent in
// one round trip after a READONLY on the same connection, so the client
// needs no ReadOnly option. The key is the one go-redis routes the read by
// (see readKey); a read with no key (SCAN, DBSIZE, ...) keeps its
// refusal. A replica answers
// with what it has: writes the master acknowledged but had not yet
// replicated when it died are missing.
//
// It pays on a cluster started with cluster-require-full-coverage no: the
// replica then answers its master's reads until the cluster promotes it.
// With full coverage required (Redis's default), every node answers
// CLUSTERDOWN from the moment the dead master is marked failed until its
// replica is promoted, the replica's reads included (the failover scenario
// of internal/loadtest measures both).
//
// When the replica cannot answer (no replica, a failing one, an error), the
// caller gets the open circuit's refusal, unchanged. Stats counts both.
type ReplicaReads struct {
	table  *CommandTable
	served atomic.Uint64
	failed atomic.Uint64
}

// ReplicaReadStats are the counters of a ReplicaReads.
type ReplicaReadStats struct {
	// Served counts reads an open circuit refused that a replica answered
	// (redis.Nil included).
	Served uint64
	// Failed counts reads sent to a replica that did not answer them, and
	// reads that found no replica; their callers got the refusal.
	Failed uint64
}

// NewReplicaReads returns a ReplicaReads. Add it with Attach to a
// *redis.ClusterClient (with a Breaker, or it never has anything to do).
// commands tells which commands are read-only and idempotent; nil means
// the built-in table (see NewCommandTable).
func NewReplicaReads(commands *CommandTable) *ReplicaReads {
	return &ReplicaReads{table: commands.orDefault()}
}

// Stats returns the counters, summed over the clients it is attached to.
func (r *ReplicaReads) Stats() ReplicaReadStats {
	return ReplicaReadStats{Served: r.served.Load(), Failed: r.failed.Load()}
}

func (r *ReplicaReads) hookOrder() int { return orderReplicaReads }

func (r *ReplicaReads) redisHook() redis.Hook { return rawHook{r} }

// dialHook, processHook and processPipelineHook pass everything through: a
// ReplicaReads added without Attach knows no cluster. Attach binds it
// to the ClusterClient (see forCluster).
func (r *ReplicaReads) dialHook(next redis.DialHook) redis.DialHook { return next }

// processHook passes commands through; see dialHook.
func (r *ReplicaReads) processHook(next redis.ProcessHook) redis.ProcessHook { return next }

// processPipelineHook passes pipelines through; see dialHook.
func (r *ReplicaReads) processPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// forCluster returns the hook Attach adds to c.
func (r *ReplicaReads) forCluster(c *redis.ClusterClient) redis.Hook {
	return replicaReadHook{r: r, c: c}
}

// replicaReadHook is a ReplicaReads bound to one ClusterClient.
type replicaReadHook struct {
	r *ReplicaReads
	c *redis.ClusterClient
}

func (replicaReadHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (replicaReadHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h replicaReadHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err == nil || !errors.Is(err, ErrCircuitOpen) {
			return err
		}
		info := h.r.table.info(cmd)
		if !info.Is(flagReadOnly|flagIdempotent) || info.IsBlocking() {
			return err
		}
		key, ok := readKey(cmd)
		if !ok {
			return err
		}
		if !h.readReplica(ctx, key, cmd) {
			h.r.failed.Add(1)
			cmd.SetErr(err)
			return err
		}
		h.r.served.Add(1)
		return cmd.Err()
	}
}

// readReplica sends cmd to a replica of key's master after READONLY, on one
// connection, and reports whether the replica answered it.
func (h replicaReadHook) readReplica(ctx context.Context, key string, cmd redis.Cmder) bool {
	master, err := h.c.MasterForKey(ctx, key)
	if err != nil {
		return false
	}
	replica, err := h.c.SlaveForKey(ctx, key)
	if err != nil || replica.Options().Addr == master.Options().Addr {
		return false // no replica, or none that is not failing
	}
	_, _ = replica.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.ReadOnly(ctx)
		return p.Process(ctx, cmd)
	})
	err = cmd.Err()
	return err == nil || errors.Is(err, redis.Nil)
}

// readKey returns the first key of a read-only command, the one go-redis
// routes it by: the first argument, but for the reads below (go-redis's
// cmdFirstKeyPosWithInfo has the same positions); false for a read with no
// key, or a key that is not a string.
func readKey(cmd redis.Cmder) (string, bool) {
	args := cmd.Args()
	pos := 1
	switch cmd.Name() {
	case "randomkey", "scan", "keys", "dbsize", "lolwut":
		return "", false
	case "object", "xinfo", "memory": // OBJECT ENCODING key, ...
		pos = 2
	case "sintercard", "zunion", "zinter", "zintercard", "zdiff": // numkeys key...
		pos = 2
	case "eval_ro", "evalsha_ro", "fcall_ro": // script numkeys key...
		if len(args) < 3 || fmt.Sprint(args[2]) == "0" {
			return "", false
		}
		pos = 3
	case "xread": // [COUNT n] STREAMS key... id...
		pos = cmdKeywordIndex(args, 1, "streams", false) + 1
	}
	if pos == 0 || pos >= len(args) {
		return "", false
	}
	switch k := args[pos].(type) {
	case string:
		return k, true
	case []byte:
		return string(k), true
	}
	return "", false
}
