package guarantees_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/batch"
)

var pathNames = []string{"command", "pipeline", "TxPipeline", "WATCH", "AutoPipeline", "batch"}

// values are what the batch paths append, chunkSize at a time.
var values = []string{"v0", "v1", "v2", "v3", "v4"}

const chunkSize = 2

var keySeq struct {
	sync.Mutex
	n int
}

// keys are a cell's keys. n, o and l share a hash tag, so a transaction
// over them is valid on a cluster and a ring; item keys have none, so a
// batch of them spreads over every node.
type keys struct{ tag, suffix string }

func newKeys() keys {
	keySeq.Lock()
	defer keySeq.Unlock()
	keySeq.n++
	return keys{tag: "m" + strconv.Itoa(keySeq.n)}
}

func (k keys) n() string         { return "{" + k.tag + "}" + k.suffix + ":n" }
func (k keys) o() string         { return "{" + k.tag + "}" + k.suffix + ":o" }
func (k keys) l() string         { return "{" + k.tag + "}" + k.suffix + ":l" }
func (k keys) item(i int) string { return k.tag + k.suffix + ":item:" + strconv.Itoa(i) }

// warm returns keys on the same slot as k's, for warm-up traffic.
func (k keys) warm(i int) keys { return keys{tag: k.tag, suffix: ":w" + strconv.Itoa(i)} }

func withCmds(err error, cmds []redis.Cmder) []error {
	errs := []error{err}
	for _, c := range cmds {
		errs = append(errs, c.Err())
	}
	return errs
}

// autoCallers is how many callers share the AutoPipeliner in write.
const autoCallers = 4

// write sends one unit of non-idempotent work through path and returns every
// error it produced: the call's first, then each command's. The unit is an
// INCR of k.n (with a SET of k.o in a pipeline, and alone in the WATCH
// transaction, after a GET; on AutoPipeline one INCR from each of
// autoCallers concurrent callers, each error returned), or, on the batch
// path, an RPUSH of values to k.l in chunks of chunkSize. inTx, when set, runs inside the WATCH
// transaction after its GET and before its EXEC.
func write(ctx context.Context, h *handle, path string, k keys, inTx func()) []error {
	switch path {
	case "command":
		return []error{h.rdb.Incr(ctx, k.n()).Err()}
	case "pipeline":
		cmds, err := h.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Incr(ctx, k.n())
			p.Set(ctx, k.o(), "x", 0)
			return nil
		})
		return withCmds(err, cmds)
	case "TxPipeline":
		cmds, err := h.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Incr(ctx, k.n())
			p.Set(ctx, k.o(), "x", 0)
			return nil
		})
		return withCmds(err, cmds)
	case "WATCH":
		var cmds []redis.Cmder
		err := h.rdb.Watch(ctx, func(tx *redis.Tx) error {
			if err := tx.Get(ctx, k.n()).Err(); err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			if inTx != nil {
				inTx()
			}
			var err error
			cmds, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Incr(ctx, k.n())
				return nil
			})
			return err
		}, k.n())
		return withCmds(err, cmds)
	case "AutoPipeline":
		ap, err := h.rdb.AutoPipeline()
		if err != nil {
			panic(fmt.Sprintf("%s: AutoPipeline: %v", h.name, err))
		}
		// AutoPipeline is for fan-in: several callers share its batches.
		errs := make([]error, autoCallers)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = ap.Incr(ctx, k.n()).Err()
			}()
		}
		wg.Wait()
		return errs
	case "batch":
		_, err := batch.RPush(ctx, h.rdb, k.l(), values, batch.Options{ChunkSize: chunkSize})
		return []error{err}
	}
	panic("unknown path " + path)
}

// applied returns how many times write's unit was applied: the counter for
// the INCR paths (divided among autoCallers INCRs on AutoPipeline: see
// calls), the most copies of one value for the batch path.
func applied(t *testing.T, h *handle, path string, k keys) int64 {
	if path != "batch" {
		return h.count(t, k.n())
	}
	var most int64
	for _, n := range listCounts(h.list(t, k.l())) {
		most = max(most, n)
	}
	return most
}

// calls is how many INCRs write sends on path: the counter must not exceed it.
func calls(path string) int64 {
	if path == "AutoPipeline" {
		return autoCallers
	}
	return 1
}

func listCounts(l []string) []int64 {
	n := make([]int64, len(values))
	for _, v := range l {
		for i, w := range values {
			if v == w {
				n[i]++
			}
		}
	}
	return n
}

// batchOn runs a batch of len(values) items through path and returns its
// report and how many times the server holds each item:
//   - pipeline: batch.Run, one INCR per item on keys spread over every node;
//   - TxPipeline: batch.RPush with Options.Tx (MULTI/EXEC per chunk);
//   - WATCH: batch.RPush with Options.Tx on the *redis.Tx of a WATCH of the
//     list, inTx running first;
//   - AutoPipeline: batch.RPush on the client's AutoPipeliner;
//   - batch: batch.RPush on the client.
//
// ran is false when the path never reached the batch (WATCH failed first).
func batchOn(ctx context.Context, t *testing.T, h *handle, path string, k keys, inTx func()) (res batch.Result, ran bool, counts func() []int64, err error) {
	opt := batch.Options{ChunkSize: chunkSize}
	fromList := func() []int64 { return listCounts(h.list(t, k.l())) }
	switch path {
	case "pipeline":
		items := make([]int, len(values))
		for i := range items {
			items[i] = i
		}
		res, err = batch.Run(ctx, h.rdb, items, func(p redis.Pipeliner, i int) error {
			p.Incr(ctx, k.item(i))
			return nil
		}, opt)
		return res, true, func() []int64 {
			n := make([]int64, len(values))
			for i := range n {
				n[i] = h.count(t, k.item(i))
			}
			return n
		}, err
	case "TxPipeline":
		opt.Tx = true
		res, err = batch.RPush(ctx, h.rdb, k.l(), values, opt)
		return res, true, fromList, err
	case "WATCH":
		opt.Tx = true
		werr := h.rdb.Watch(ctx, func(tx *redis.Tx) error {
			if inTx != nil {
				inTx()
			}
			ran = true
			res, err = batch.RPush(ctx, tx, k.l(), values, opt)
			return err
		}, k.l())
		if !ran {
			err = werr
		}
		return res, ran, fromList, err
	case "AutoPipeline":
		ap, aerr := h.rdb.AutoPipeline()
		if aerr != nil {
			panic(fmt.Sprintf("%s: AutoPipeline: %v", h.name, aerr))
		}
		res, err = batch.RPush(ctx, ap, k.l(), values, opt)
		return res, true, fromList, err
	case "batch":
		res, err = batch.RPush(ctx, h.rdb, k.l(), values, opt)
		return res, true, fromList, err
	}
	panic("no batch on path " + path)
}

// warm opens several connections on every pool the path uses (the plain
// pool, the pipeline pool, the AutoPipeliner's) on the nodes k lives on, by
// running the path four times at once behind a small delay. A command go-redis
// sends again then goes out at once on an open connection, as on a busy
// client, instead of stalling in a new connection's handshake.
//
// A light warm-up runs the path once, with no delay: enough for the command
// under test to go out on an open connection rather than stall in a new
// connection's handshake.
func warm(c *cell, h *handle, f *faults, path string, k keys, batchPath, light bool) {
	c.Helper()
	n := 4
	if light {
		n = 1
	} else {
		f.delay(50 * time.Millisecond)
	}
	var wg sync.WaitGroup
	errs := make([][]error, n)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if batchPath {
				_, _, _, err := batchOn(ctx, c.T, h, path, k.warm(i), nil)
				errs[i] = []error{err}
				return
			}
			errs[i] = write(ctx, h, path, k.warm(i), nil)
		}()
	}
	wg.Wait()
	f.restore()
	for _, es := range errs {
		for _, err := range es {
			if err != nil {
				c.fatal("warm-up on a healthy server failed: %s", show(err))
			}
		}
	}
}
