package batch

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
)

// defaultChunkSize is the number of items sent in one pipeline when
// Options.ChunkSize is 0.
const defaultChunkSize = 50

// Options tunes a batch. The zero value sends chunks of 50
// items, one after another, without MULTI/EXEC, and stops at the first chunk
// that is not written whole.
type Options struct {
	// ChunkSize is the number of items per pipeline (per round trip). 0
	// means 50; a negative value is an error.
	ChunkSize int

	// Tx wraps each chunk in MULTI/EXEC (a TxPipeline): a chunk is applied
	// all at once or not at all (a command the server rejects inside EXEC
	// does not undo the others). On a cluster client every command of a
	// chunk must hash to the same slot, or the chunk fails with CROSSSLOT.
	Tx bool

	// Parallel is the number of chunks in flight at once. 0 and 1 send
	// chunks in order, each after the previous one answered, which is what
	// keeps a list in order. More than 1 is allowed by Run only; RPush and
	// Publish return an error. A negative value is an error.
	Parallel int

	// ContinueOnServerError keeps the batch going after items the server
	// rejected with an error reply (WRONGTYPE, OOM, ...); they are listed in
	// Result.NotWritten and Result.Errors. Without it the batch stops after
	// the first chunk holding such an item. A connection failure or the
	// end of the context always stops the batch.
	ContinueOnServerError bool
}

// Client is what the batch needs from a go-redis client. *redis.Client,
// *redis.ClusterClient, *redis.Ring, *redis.Conn, *redis.Tx and every
// redis.UniversalClient have it.
//
// A wrapper around a go-redis client (a *profiles.Client) is first reduced
// to the client inside it with hooks.Unwrap, so the report is the same
// through either. The report is exact for *redis.Client, *redis.Conn,
// *redis.Tx and *redis.ClusterClient, whose pipeline internals the batch
// knows. For any other type (a *redis.Ring, a wrapper without Unwrap) it is
// conservative: after a failed chunk only the commands answered with an
// error reply are known, and every other item of that chunk is Unknown.
type Client interface {
	Pipeline() redis.Pipeliner
	TxPipeline() redis.Pipeliner
}

// Run sends items in chunks of opt.ChunkSize, each chunk one pipeline
// through the client's hooks, and reports for every item whether it was
// written, certainly not written, or has an unknown outcome.
//
// queue is called once per item, in order, with the chunk's pipeline; it
// must only queue the item's commands on p (any number, zero included) and
// must not call p.Exec or p.Discard. If it returns an error, nothing of the
// chunk being built is sent and the batch stops. An item is written when
// every command it queued got a reply that is not an error. A command the
// queue function kept and that got no reply carries an error saying so (on
// a *redis.Client the batch marks commands that way before sending them;
// see the package documentation).
//
// The returned error is nil exactly when every item was written. Otherwise
// it says why the batch stopped (wrapping the go-redis error, the hook's
// error such as hooks.ErrLimited, or the context's error) or, when nothing
// stopped it, which items the server rejected (wrapping the first reply).
// Empty input is a no-op. Invalid options are reported before any I/O, with
// every item in Result.NotWritten.
func Run[T any](ctx context.Context, c Client, items []T, queue func(p redis.Pipeliner, item T) error, opt Options) (Result, error) {
	if queue == nil {
		return allNotWritten(len(items)), errors.New("batch: Run: queue function is nil")
	}
	fill := func(p redis.Pipeliner, lo, hi int, ends []int) ([]int, error) {
		for i := lo; i < hi; i++ {
			if err := queue(p, items[i]); err != nil {
				return nil, fmt.Errorf("batch: queueing item %d: %w", i, err)
			}
			ends = append(ends, p.Len())
		}
		return ends, nil
	}
	return run(ctx, c, len(items), fill, opt, "Run", true)
}

// filler queues the commands of items [lo, hi) on p. It returns nil ends
// when every item queued exactly one command; otherwise ends[i-lo] is
// p.Len() after item i was queued. ends is a buffer to append to.
type filler func(p redis.Pipeliner, lo, hi int, ends []int) ([]int, error)

// engine runs one batch.
type engine struct {
	ctx    context.Context
	c      Client
	size   int
	opt    Options
	target target
	fill   filler
	status []uint8 // one per item; chunks write disjoint ranges

	mu       sync.Mutex
	errs     []ItemError
	stopAt   int         // chunk index of stopErr; -1 when no failure stopped the batch
	stopErr  error       // a connection failure, a queue error or the context's end
	stopFlag atomic.Bool // no new chunk may start
}

// worker holds what one goroutine reuses from chunk to chunk.
type worker struct {
	p    redis.Pipeliner
	ends []int
	out  []uint8
}

func run(ctx context.Context, c Client, n int, fill filler, opt Options, name string, allowParallel bool) (Result, error) {
	if err := opt.check(name, allowParallel); err != nil {
		return allNotWritten(n), err
	}
	if u, ok := c.(redis.UniversalClient); ok {
		c = hooks.Unwrap(u) // nil stays nil
	}
	if isNil(c) {
		return allNotWritten(n), fmt.Errorf("batch: %s: client is nil", name)
	}
	if n == 0 {
		return Result{}, nil
	}
	e := &engine{
		ctx:    ctx,
		c:      c,
		size:   opt.ChunkSize,
		opt:    opt,
		target: targetOf(c),
		fill:   fill,
		status: make([]uint8, n),
		stopAt: -1,
	}
	if e.size == 0 {
		e.size = defaultChunkSize
	}
	chunks := (n + e.size - 1) / e.size
	par := opt.Parallel
	if par > chunks {
		par = chunks
	}
	if par <= 1 {
		w := e.newWorker()
		for k := 0; k < chunks; k++ {
			if e.chunk(w, k) {
				break
			}
		}
	} else {
		e.parallel(chunks, par)
	}
	return e.result()
}

func (o Options) check(name string, allowParallel bool) error {
	if o.ChunkSize < 0 {
		return fmt.Errorf("batch: %s: Options.ChunkSize is %d; want 0 (meaning %d) or more", name, o.ChunkSize, defaultChunkSize)
	}
	if o.Parallel < 0 {
		return fmt.Errorf("batch: %s: Options.Parallel is %d; want 0 or more", name, o.Parallel)
	}
	if o.Parallel > 1 && !allowParallel {
		return fmt.Errorf("batch: %s sends chunks in order; Options.Parallel must be 0 or 1, got %d", name, o.Parallel)
	}
	return nil
}

func (e *engine) newWorker() *worker {
	w := &worker{out: make([]uint8, 0, e.size)}
	if e.opt.Tx {
		w.p = e.c.TxPipeline()
	} else {
		w.p = e.c.Pipeline()
	}
	return w
}

// parallel runs chunks on par goroutines, taking chunk indexes in order.
// After a chunk stops the batch no new chunk starts; chunks in flight finish
// and are reported. A panic in queue is raised again on the caller.
func (e *engine) parallel(chunks, par int) {
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		panicked atomic.Pointer[any]
	)
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if v := recover(); v != nil {
					panicked.CompareAndSwap(nil, &v)
					e.stopFlag.Store(true)
				}
			}()
			w := e.newWorker()
			for !e.stopFlag.Load() {
				k := int(next.Add(1) - 1)
				if k >= chunks {
					return
				}
				if e.chunk(w, k) {
					return
				}
			}
		}()
	}
	wg.Wait()
	if v := panicked.Load(); v != nil {
		panic(*v)
	}
}

// chunk sends chunk k and records its items' outcomes. It reports whether
// the batch must stop.
func (e *engine) chunk(w *worker, k int) (stop bool) {
	lo := k * e.size
	hi := min(lo+e.size, len(e.status))
	p := w.p
	if err := e.ctx.Err(); err != nil {
		return e.stop(k, fmt.Errorf("batch: stopped before item %d: %w", lo, err))
	}

	ends, err := e.fill(p, lo, hi, w.ends[:0])
	if ends != nil {
		w.ends = ends
	}
	if err != nil {
		p.Discard()
		return e.stop(k, err)
	}
	cmds := p.Cmds()
	if len(cmds) == 0 {
		fill(e.status[lo:hi], itemWritten)
		return false
	}
	if err := e.ctx.Err(); err != nil {
		p.Discard()
		return e.stop(k, fmt.Errorf("batch: stopped before item %d: %w", lo, err))
	}
	if e.target.presets(e.opt.Tx) {
		for _, c := range cmds {
			c.SetErr(errNoReply)
		}
	}
	_, xerr := p.Exec(e.ctx)

	if cap(w.out) < len(cmds) {
		w.out = make([]uint8, len(cmds))
	}
	out := w.out[:len(cmds)]
	e.target.classify(cmds, xerr, e.opt.Tx, out)

	var (
		broken   bool // an item failed for a reason other than an error reply
		rejected bool
		errs     []ItemError
	)
	start := 0
	for i := lo; i < hi; i++ {
		end := i - lo + 1
		if ends != nil {
			end = ends[i-lo]
		}
		st, rej, brk := itemOutcome(out[start:end])
		e.status[i] = st
		if rej >= 0 {
			rejected = true
			errs = append(errs, ItemError{Index: i, Err: cmds[start+rej].Err()})
		}
		broken = broken || brk
		start = end
	}
	if len(errs) > 0 {
		e.mu.Lock()
		e.errs = append(e.errs, errs...)
		e.mu.Unlock()
	}
	switch {
	case broken:
		return e.stop(k, fmt.Errorf("batch: chunk %d (items %d to %d): %w", k, lo, hi-1, cause(cmds, out, xerr)))
	case rejected && !e.opt.ContinueOnServerError:
		// The error is built from Result.Errors at the end.
		e.stopFlag.Store(true)
		return true
	}
	return false
}

// itemOutcome combines the outcomes of one item's commands. rej is the
// offset of the first rejected command (-1 if none); broken reports a
// command that failed for a reason other than an error reply.
func itemOutcome(out []uint8) (status uint8, rej int, broken bool) {
	rej = -1
	var ok, unknown, notOK int
	for j, o := range out {
		switch o {
		case cmdOK:
			ok++
		case cmdRejected:
			notOK++
			if rej < 0 {
				rej = j
			}
		case cmdNotSent:
			notOK++
			broken = true
		default:
			unknown++
			broken = true
		}
	}
	switch {
	case unknown > 0:
		return itemUnknown, rej, broken
	case notOK == 0:
		return itemWritten, rej, broken
	case ok == 0:
		return itemNotWritten, rej, broken
	default:
		// Partly applied: one command ran, another did not.
		return itemUnknown, rej, broken
	}
}

// cause picks the error that explains a broken chunk: Exec's error unless it
// is only an error reply, else the first command error that is not one.
func cause(cmds []redis.Cmder, out []uint8, xerr error) error {
	if xerr != nil && !isReplyErr(xerr) {
		return xerr
	}
	for i, c := range cmds {
		if out[i] == cmdUnknown || out[i] == cmdNotSent {
			if err := c.Err(); err != nil && err != errNoReply && !isReplyErr(err) {
				return err
			}
		}
	}
	if xerr != nil {
		return xerr
	}
	return errNoReply
}

// stop records why chunk k stopped the batch and tells the caller to stop.
// With chunks in parallel, the lowest chunk's error is kept.
func (e *engine) stop(k int, err error) bool {
	e.mu.Lock()
	if e.stopAt < 0 || k < e.stopAt {
		e.stopAt, e.stopErr = k, err
	}
	e.mu.Unlock()
	e.stopFlag.Store(true)
	return true
}

func (e *engine) result() (Result, error) {
	sort.Slice(e.errs, func(i, j int) bool { return e.errs[i].Index < e.errs[j].Index })
	r := buildResult(e.status, e.errs)
	if e.stopErr != nil {
		return r, e.stopErr
	}
	if len(r.Errors) > 0 {
		first := r.Errors[0]
		if len(r.Errors) == 1 {
			return r, fmt.Errorf("batch: %w", first)
		}
		return r, fmt.Errorf("batch: %d items rejected, the first %w", len(r.Errors), first)
	}
	if !r.Complete() {
		// Not reachable: every path that leaves an item unwritten records
		// an error. Kept so that a nil error always means complete.
		return r, errors.New("batch: incomplete")
	}
	return r, nil
}

// isNil reports whether c is nil or a nil pointer of a go-redis client type.
func isNil(c Client) bool {
	switch v := c.(type) {
	case nil:
		return true
	case *redis.Client:
		return v == nil
	case *redis.ClusterClient:
		return v == nil
	case *redis.Ring:
		return v == nil
	case *redis.Conn:
		return v == nil
	case *redis.Tx:
		return v == nil
	}
	return false
}
