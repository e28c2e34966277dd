package batch_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/batch"
	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
)

// pipelineHook runs fn around every pipeline (and MULTI/EXEC) of a client.
type pipelineHook func(ctx context.Context, cmds []redis.Cmder, next redis.ProcessPipelineHook) error

func (h pipelineHook) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h pipelineHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h pipelineHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { return h(ctx, cmds, next) }
}

// isChunk tells a batch's pipelines from the connection handshake, which
// go-redis also sends as a pipeline through the hooks.
func isChunk(cmds []redis.Cmder) bool {
	for _, c := range cmds {
		switch c.Name() {
		case "rpush", "set", "publish":
			return true
		}
	}
	return false
}

// onChunk returns a hook that calls before(k) ahead of the k-th chunk
// (from 0); a non-nil error from before is returned without sending.
func onChunk(before func(k int) error) pipelineHook {
	var n atomic.Int64
	return func(ctx context.Context, cmds []redis.Cmder, next redis.ProcessPipelineHook) error {
		if !isChunk(cmds) {
			return next(ctx, cmds)
		}
		if err := before(int(n.Add(1) - 1)); err != nil {
			return err
		}
		return next(ctx, cmds)
	}
}

// counter counts chunks and remembers their sizes.
type counter struct {
	mu    sync.Mutex
	sizes []int
}

func (c *counter) hook() pipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder, next redis.ProcessPipelineHook) error {
		if isChunk(cmds) {
			c.mu.Lock()
			c.sizes = append(c.sizes, len(cmds))
			c.mu.Unlock()
		}
		return next(ctx, cmds)
	}
}

func (c *counter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sizes)
}

func values(prefix string, n int) []string {
	v := make([]string, n)
	for i := range v {
		v[i] = fmt.Sprintf("%s-%07d", prefix, i)
	}
	return v
}

// checkCover fails t unless Written, NotWritten and Unknown are sorted and
// hold every index below n exactly once.
func checkCover(t *testing.T, r batch.Result, n int) {
	t.Helper()
	seen := make([]int, n)
	for name, list := range map[string][]int{"Written": r.Written, "NotWritten": r.NotWritten, "Unknown": r.Unknown} {
		if !slices.IsSorted(list) {
			t.Errorf("%s is not sorted", name)
		}
		for _, i := range list {
			if i < 0 || i >= n {
				t.Fatalf("%s holds index %d outside [0, %d)", name, i, n)
			}
			seen[i]++
		}
	}
	for i, c := range seen {
		if c != 1 {
			t.Fatalf("index %d is listed %d times (want exactly once): %d written, %d not written, %d unknown",
				i, c, len(r.Written), len(r.NotWritten), len(r.Unknown))
		}
	}
	if r.Len() != n {
		t.Fatalf("Len() = %d, want %d", r.Len(), n)
	}
}

func span(lo, hi int) []int {
	s := make([]int, 0, hi-lo)
	for i := lo; i < hi; i++ {
		s = append(s, i)
	}
	return s
}

func equalInts(t *testing.T, what string, got, want []int) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got %d items %v, want %d items %v", what, len(got), abbrev(got), len(want), abbrev(want))
	}
}

func abbrev(s []int) string {
	if len(s) <= 8 {
		return fmt.Sprint(s)
	}
	return fmt.Sprintf("[%d %d ... %d %d]", s[0], s[1], s[len(s)-2], s[len(s)-1])
}

func lrange(t *testing.T, c redis.Cmdable, key string) []string {
	t.Helper()
	l, err := c.LRange(context.Background(), key, 0, -1).Result()
	if err != nil {
		t.Fatalf("LRANGE %s: %v", key, err)
	}
	return l
}

func TestRPush100kArriveCompleteAndInOrder(t *testing.T) {
	s := redistest.Start(t)
	rdb := s.Client(t, nil)
	vals := values("v", 100_000)

	res, err := batch.RPush(context.Background(), rdb, "list", vals, batch.Options{})
	if err != nil {
		t.Fatalf("RPush: %v", err)
	}
	checkCover(t, res, len(vals))
	equalInts(t, "Written", res.Written, span(0, len(vals)))
	if !res.Complete() || len(res.Errors) != 0 {
		t.Fatalf("not complete: %+v", res.Errors)
	}
	if got := lrange(t, rdb, "list"); !slices.Equal(got, vals) {
		t.Fatalf("list holds %d values, not the %d pushed in order", len(got), len(vals))
	}
}

// checkAfterKill checks what the batch reported after the server died, against
// the list read back after a restart (the AOF keeps every acknowledged
// write), then sends again what is missing and checks that the list then
// holds every value exactly once.
func checkAfterKill(t *testing.T, s *redistest.Server, key string, vals []string, res batch.Result, batchErr error) {
	t.Helper()
	err := batchErr
	checkCover(t, res, len(vals))
	if err == nil || res.Complete() {
		t.Fatalf("batch reported complete after the server was killed: err %v", err)
	}
	s.Restart()
	rdb := s.Client(t, nil)
	count := map[string]int{}
	for _, v := range lrange(t, rdb, key) {
		count[v]++
	}
	for _, i := range res.Written {
		if count[vals[i]] != 1 {
			t.Fatalf("written item %d is in the list %d times", i, count[vals[i]])
		}
	}
	for _, i := range res.NotWritten {
		if count[vals[i]] != 0 {
			t.Fatalf("item %d reported not written is in the list", i)
		}
	}
	resend := slices.Clone(res.NotWritten)
	for _, i := range res.Unknown {
		switch count[vals[i]] {
		case 0:
			resend = append(resend, i)
		case 1:
		default:
			t.Fatalf("unknown item %d is in the list %d times", i, count[vals[i]])
		}
	}
	slices.Sort(resend)
	res2, err := batch.RPush(context.Background(), rdb, key, batch.Pick(vals, resend), batch.Options{})
	if err != nil || !res2.Complete() {
		t.Fatalf("re-sending %d items: %v", len(resend), err)
	}
	final := lrange(t, rdb, key)
	if len(final) != len(vals) {
		t.Fatalf("after re-sending, the list holds %d values, want %d", len(final), len(vals))
	}
	slices.Sort(final)
	want := slices.Clone(vals)
	slices.Sort(want)
	if !slices.Equal(final, want) {
		t.Fatal("after re-sending, the list is not every value exactly once")
	}
	t.Logf("%d written, %d not written, %d unknown; %d re-sent; error: %v",
		len(res.Written), len(res.NotWritten), len(res.Unknown), len(resend), batchErr)
}

func TestRPushServerKilledBetweenChunks(t *testing.T) {
	for _, retries := range []int{-1, 0} {
		t.Run(fmt.Sprintf("MaxRetries=%d", retries), func(t *testing.T) {
			s := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
			rdb := s.Client(t, &redis.Options{MaxRetries: retries})
			const killAt = 7
			rdb.AddHook(onChunk(func(k int) error {
				if k == killAt {
					s.Kill()
				}
				return nil
			}))
			vals := values("k", 2000)
			res, err := batch.RPush(context.Background(), rdb, "list", vals, batch.Options{})
			// The chunks before the kill are written, the killed one is not
			// known to be, and nothing after it was sent.
			equalInts(t, "Written", res.Written, span(0, killAt*50))
			if slices.Contains(res.Written, killAt*50) {
				t.Fatal("an item of the chunk sent to the killed server is reported written")
			}
			if !slices.Contains(res.NotWritten, (killAt+1)*50) || !slices.Contains(res.NotWritten, len(vals)-1) {
				t.Fatal("chunks after the failure are not reported not written")
			}
			if retries == 0 && len(res.Unknown) != 50 {
				// go-redis retried the chunk by itself, so its "connection
				// refused" cannot prove the chunk never left.
				t.Fatalf("with go-redis retries the failed chunk must be unknown, got %d unknown", len(res.Unknown))
			}
			checkAfterKill(t, s, "list", vals, res, err)
		})
	}
}

func TestRPushServerKilledMidBatch(t *testing.T) {
	s := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	// A little latency on replies keeps the batch running long enough for
	// the watcher to kill the server somewhere in the middle, possibly
	// halfway through a chunk.
	px := redistest.NewProxy(t, s.Addr())
	px.Latency("downstream", time.Millisecond, 0)
	rdb := redis.NewClient(&redis.Options{Addr: px.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	watch := s.Client(t, &redis.Options{MaxRetries: -1})

	vals := values("m", 100_000)
	ctx, cancel := context.WithCancel(context.Background())
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		for ctx.Err() == nil {
			if n, err := watch.LLen(ctx, "list").Result(); err == nil && n >= 20_000 {
				s.Kill()
				return
			}
		}
	}()
	res, err := batch.RPush(context.Background(), rdb, "list", vals, batch.Options{})
	cancel()
	<-killed
	if len(res.Written) < 20_000 {
		t.Fatalf("only %d written before the kill at 20000", len(res.Written))
	}
	checkAfterKill(t, s, "list", vals, res, err)
}

// QUIT makes the server answer and close the connection, so the commands
// queued after it in the same chunk are sent and never answered: a failure
// halfway through a chunk at a known place.
func TestRunConnectionClosedHalfwayThroughAChunk(t *testing.T) {
	s := redistest.Start(t)
	rdb := s.Client(t, &redis.Options{MaxRetries: -1})
	vals := values("q", 200)
	queue := func(p redis.Pipeliner, v string) error {
		p.RPush(context.Background(), "list", v)
		if v == vals[120] {
			p.Do(context.Background(), "quit")
		}
		return nil
	}
	res, err := batch.Run(context.Background(), rdb, vals, queue, batch.Options{})
	if err == nil {
		t.Fatal("no error")
	}
	checkCover(t, res, len(vals))
	equalInts(t, "Written", res.Written, span(0, 121))
	equalInts(t, "Unknown", res.Unknown, span(121, 150))
	equalInts(t, "NotWritten", res.NotWritten, span(150, 200))
	if got := lrange(t, rdb, "list"); !slices.Equal(got, vals[:121]) {
		t.Fatalf("list holds %d values, want the 121 written", len(got))
	}
}

// go-redis's own retry (MaxRetries, default 3) sends the whole chunk again
// after EOF: the report stays true, but written items may be applied twice.
func TestGoRedisRetriesMayApplyAChunkTwice(t *testing.T) {
	s := redistest.Start(t)
	rdb := s.Client(t, nil)
	vals := values("r", 100)
	queue := func(p redis.Pipeliner, v string) error {
		p.RPush(context.Background(), "list", v)
		if v == vals[60] {
			p.Do(context.Background(), "quit")
		}
		return nil
	}
	res, err := batch.Run(context.Background(), rdb, vals, queue, batch.Options{})
	if err == nil {
		t.Fatal("no error")
	}
	checkCover(t, res, len(vals))
	equalInts(t, "Written", res.Written, span(0, 61))
	equalInts(t, "Unknown", res.Unknown, span(61, 100))
	if n := len(lrange(t, rdb, "list")); n <= 61 {
		t.Fatalf("list holds %d values; go-redis was expected to re-send the chunk", n)
	}
}

func TestRefusedByAHookIsNotWritten(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		retries int
	}{
		{"limited", fmt.Errorf("hooks: limiter: wait exceeded: %w", hooks.ErrLimited), -1},
		{"limited, go-redis retries on", fmt.Errorf("hooks: limiter: wait exceeded: %w", hooks.ErrLimited), 0},
		{"circuit open", fmt.Errorf("hooks: 127.0.0.1: %w", hooks.ErrCircuitOpen), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := redistest.Start(t)
			vals := values("h", 500)
			for _, tx := range []bool{false, true} {
				rdb := s.Client(t, &redis.Options{MaxRetries: tc.retries})
				rdb.AddHook(onChunk(func(k int) error {
					if k == 3 {
						return tc.err
					}
					return nil
				}))
				key := fmt.Sprintf("list-%v", tx)
				res, err := batch.RPush(context.Background(), rdb, key, vals, batch.Options{Tx: tx})
				if !errors.Is(err, tc.err) {
					t.Fatalf("tx %v: error %v does not wrap %v", tx, err, tc.err)
				}
				checkCover(t, res, len(vals))
				equalInts(t, "Written", res.Written, span(0, 150))
				equalInts(t, "NotWritten", res.NotWritten, span(150, 500))
				if got := lrange(t, rdb, key); !slices.Equal(got, vals[:150]) {
					t.Fatalf("list holds %d values", len(got))
				}
			}
		})
	}
}

// A read timeout after the chunk was written leaves it Unknown, and indeed
// the server did apply it.
func TestReadTimeoutAfterTheWriteIsUnknown(t *testing.T) {
	for _, tx := range []bool{false, true} {
		t.Run(fmt.Sprintf("tx=%v", tx), func(t *testing.T) {
			s := redistest.Start(t)
			px := redistest.NewProxy(t, s.Addr())
			rdb := redis.NewClient(&redis.Options{Addr: px.Addr(), MaxRetries: -1, ReadTimeout: 300 * time.Millisecond})
			t.Cleanup(func() { _ = rdb.Close() })
			rdb.AddHook(onChunk(func(k int) error {
				if k == 4 {
					px.Blackhole("downstream")
				}
				return nil
			}))
			vals := values("t", 500)
			res, err := batch.RPush(context.Background(), rdb, "list", vals, batch.Options{Tx: tx})
			var ne interface{ Timeout() bool }
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("error %v is not a timeout", err)
			}
			checkCover(t, res, len(vals))
			equalInts(t, "Written", res.Written, span(0, 200))
			equalInts(t, "Unknown", res.Unknown, span(200, 250))
			equalInts(t, "NotWritten", res.NotWritten, span(250, 500))
			direct := s.Client(t, nil)
			deadline := time.Now().Add(10 * time.Second)
			for {
				got := lrange(t, direct, "list")
				if slices.Equal(got, vals[:250]) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the unknown chunk never showed up on the server: list holds %d values", len(got))
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

func TestWrongTypeIsRejected(t *testing.T) {
	s := redistest.Start(t)
	rdb := s.Client(t, nil)
	ctx := context.Background()
	if err := rdb.Set(ctx, "str", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// Every tenth item goes to a string key.
	keys := make([]string, 300)
	for i := range keys {
		keys[i] = fmt.Sprintf("l%d", i)
		if i%10 == 3 {
			keys[i] = "str"
		}
	}
	queue := func(p redis.Pipeliner, k string) error {
		p.RPush(ctx, k, "v")
		return nil
	}
	isWrongType := func(err error) bool {
		var re redis.Error
		return errors.As(err, &re) && strings.HasPrefix(re.Error(), "WRONGTYPE")
	}

	t.Run("stops after the chunk", func(t *testing.T) {
		res, err := batch.Run(ctx, rdb, keys, queue, batch.Options{})
		if !isWrongType(err) {
			t.Fatalf("error %v is not WRONGTYPE", err)
		}
		checkCover(t, res, len(keys))
		var wantWritten, wantNot []int
		for i := range keys {
			switch {
			case i >= 50:
				wantNot = append(wantNot, i)
			case keys[i] == "str":
				wantNot = append(wantNot, i)
			default:
				wantWritten = append(wantWritten, i)
			}
		}
		equalInts(t, "Written", res.Written, wantWritten)
		equalInts(t, "NotWritten", res.NotWritten, wantNot)
		if len(res.Errors) != 5 || res.Errors[0].Index != 3 || !isWrongType(res.Errors[0].Err) {
			t.Fatalf("Errors: %+v", res.Errors)
		}
		if n, _ := rdb.Exists(ctx, "l50").Result(); n != 0 {
			t.Fatal("a chunk after the rejection was sent")
		}
	})
	t.Run("continues", func(t *testing.T) {
		rdb.FlushDB(ctx)
		rdb.Set(ctx, "str", "x", 0)
		res, err := batch.Run(ctx, rdb, keys, queue, batch.Options{ContinueOnServerError: true})
		if !isWrongType(err) || !strings.Contains(err.Error(), "30 items rejected") {
			t.Fatalf("error: %v", err)
		}
		checkCover(t, res, len(keys))
		if len(res.Written) != 270 || len(res.NotWritten) != 30 || len(res.Errors) != 30 {
			t.Fatalf("%d written, %d not written, %d errors", len(res.Written), len(res.NotWritten), len(res.Errors))
		}
		for _, i := range res.NotWritten {
			if keys[i] != "str" || res.Errors[slices.Index(res.NotWritten, i)].Index != i {
				t.Fatalf("item %d is not written", i)
			}
		}
		if n, _ := rdb.Exists(ctx, "l299").Result(); n != 1 {
			t.Fatal("the last item was not written")
		}
	})
	t.Run("RPush onto a string", func(t *testing.T) {
		res, err := batch.RPush(ctx, rdb, "str", values("w", 120), batch.Options{})
		if !isWrongType(err) || !strings.Contains(err.Error(), "50 items rejected") {
			t.Fatalf("error: %v", err)
		}
		checkCover(t, res, 120)
		equalInts(t, "NotWritten", res.NotWritten, span(0, 120))
	})
}

func TestTx(t *testing.T) {
	s := redistest.Start(t)
	rdb := s.Client(t, nil)
	ctx := context.Background()

	t.Run("chunks in order", func(t *testing.T) {
		var c counter
		tx := s.Client(t, nil)
		tx.AddHook(c.hook())
		vals := values("x", 1000)
		res, err := batch.RPush(ctx, tx, "txlist", vals, batch.Options{Tx: true})
		if err != nil || !res.Complete() {
			t.Fatalf("RPush: %v", err)
		}
		if got := lrange(t, rdb, "txlist"); !slices.Equal(got, vals) {
			t.Fatalf("list holds %d values", len(got))
		}
		if c.count() != 20 || c.sizes[0] != 52 {
			t.Fatalf("%d pipelines, the first of %d commands; want 20 of 50 plus MULTI and EXEC", c.count(), c.sizes[0])
		}
	})
	t.Run("EXECABORT discards the chunk", func(t *testing.T) {
		keys := values("ab", 150)
		queue := func(p redis.Pipeliner, k string) error {
			if k == keys[57] {
				p.Do(ctx, "set", k) // wrong number of arguments: rejected when queued
				return nil
			}
			p.Set(ctx, k, "v", 0)
			return nil
		}
		res, err := batch.Run(ctx, rdb, keys, queue, batch.Options{Tx: true, ContinueOnServerError: true})
		var re redis.Error
		if !errors.As(err, &re) {
			t.Fatalf("error %v is not an error reply", err)
		}
		checkCover(t, res, len(keys))
		equalInts(t, "NotWritten", res.NotWritten, span(50, 100))
		if len(res.Errors) != 50 || !strings.Contains(res.Errors[7].Err.Error(), "wrong number of arguments") ||
			!strings.HasPrefix(res.Errors[0].Err.Error(), "EXECABORT") {
			t.Fatalf("Errors: %d, %v", len(res.Errors), res.Errors[:min(len(res.Errors), 8)])
		}
		if n, _ := rdb.Exists(ctx, keys[50], keys[99]).Result(); n != 0 {
			t.Fatal("a command of the discarded transaction was applied")
		}
		if n, _ := rdb.Exists(ctx, keys[49], keys[100]).Result(); n != 2 {
			t.Fatal("the other chunks were not applied")
		}
	})
	t.Run("error inside EXEC rejects only its item", func(t *testing.T) {
		rdb.Set(ctx, "str", "x", 0)
		keys := values("in", 50)
		keys[20] = "str"
		queue := func(p redis.Pipeliner, k string) error {
			p.RPush(ctx, k, "v")
			return nil
		}
		res, err := batch.Run(ctx, rdb, keys, queue, batch.Options{Tx: true})
		if err == nil {
			t.Fatal("no error")
		}
		checkCover(t, res, len(keys))
		equalInts(t, "NotWritten", res.NotWritten, []int{20})
		if n, _ := rdb.Exists(ctx, keys[19], keys[21]).Result(); n != 2 {
			t.Fatal("the rest of the transaction was not applied")
		}
	})
}

func TestContextCancelledBetweenChunks(t *testing.T) {
	s := redistest.Start(t)
	rdb := s.Client(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var c counter
	rdb.AddHook(c.hook())
	rdb.AddHook(pipelineHook(func(ctx context.Context, cmds []redis.Cmder, next redis.ProcessPipelineHook) error {
		err := next(ctx, cmds)
		if c.count() == 4 {
			cancel() // after the fourth chunk was answered
		}
		return err
	}))
	vals := values("c", 1000)
	res, err := batch.RPush(ctx, rdb, "list", vals, batch.Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v is not context.Canceled", err)
	}
	checkCover(t, res, len(vals))
	equalInts(t, "Written", res.Written, span(0, 200))
	equalInts(t, "NotWritten", res.NotWritten, span(200, 1000))
	if c.count() != 4 {
		t.Fatalf("%d pipelines sent, want 4", c.count())
	}
	if got := lrange(t, rdb, "list"); !slices.Equal(got, vals[:200]) {
		t.Fatalf("list holds %d values", len(got))
	}

	// A context that ended before the call sends nothing.
	res, err = batch.RPush(ctx, rdb, "list", vals, batch.Options{})
	if !errors.Is(err, context.Canceled) || c.count() != 4 {
		t.Fatalf("error %v, %d pipelines", err, c.count())
	}
	equalInts(t, "NotWritten", res.NotWritten, span(0, 1000))
}

func TestInvalidOptionsBeforeAnyIO(t *testing.T) {
	s := redistest.Start(t)
	rdb := s.Client(t, nil)
	var c counter
	rdb.AddHook(c.hook())
	ctx := context.Background()
	vals := values("o", 10)
	queue := func(p redis.Pipeliner, v string) error { p.RPush(ctx, "l", v); return nil }
	var nilClient *redis.Client
	for name, call := range map[string]func() (batch.Result, error){
		"negative ChunkSize": func() (batch.Result, error) {
			return batch.RPush(ctx, rdb, "l", vals, batch.Options{ChunkSize: -1})
		},
		"negative Parallel": func() (batch.Result, error) {
			return batch.Run(ctx, rdb, vals, queue, batch.Options{Parallel: -1})
		},
		"RPush in parallel": func() (batch.Result, error) {
			return batch.RPush(ctx, rdb, "l", vals, batch.Options{Parallel: 2})
		},
		"Publish in parallel": func() (batch.Result, error) {
			return batch.Publish(ctx, rdb, "ch", vals, batch.Options{Parallel: 2})
		},
		"nil queue": func() (batch.Result, error) {
			return batch.Run[string](ctx, rdb, vals, nil, batch.Options{})
		},
		"nil client": func() (batch.Result, error) {
			return batch.RPush(ctx, nil, "l", vals, batch.Options{})
		},
		"typed nil client": func() (batch.Result, error) {
			return batch.RPush(ctx, nilClient, "l", vals, batch.Options{})
		},
	} {
		res, err := call()
		if err == nil || !strings.HasPrefix(err.Error(), "batch: ") {
			t.Errorf("%s: error %v", name, err)
		}
		checkCover(t, res, len(vals))
		equalInts(t, name+": NotWritten", res.NotWritten, span(0, len(vals)))
	}
	if c.count() != 0 {
		t.Fatalf("%d pipelines sent", c.count())
	}
}

func TestEmptyInputIsANoOp(t *testing.T) {
	s := redistest.Start(t)
	rdb := s.Client(t, nil)
	var c counter
	rdb.AddHook(c.hook())
	ctx := context.Background()
	res, err := batch.RPush(ctx, rdb, "l", []string(nil), batch.Options{})
	if err != nil || res.Len() != 0 || !res.Complete() {
		t.Fatalf("RPush: %+v, %v", res, err)
	}
	res, err = batch.Run(ctx, rdb, []int{}, func(redis.Pipeliner, int) error { return nil }, batch.Options{Parallel: 4})
	if err != nil || res.Len() != 0 {
		t.Fatalf("Run: %+v, %v", res, err)
	}
	// Items that queue nothing are written without any I/O.
	res, err = batch.Run(ctx, rdb, []int{1, 2, 3}, func(redis.Pipeliner, int) error { return nil }, batch.Options{})
	if err != nil || len(res.Written) != 3 {
		t.Fatalf("Run: %+v, %v", res, err)
	}
	if c.count() != 0 {
		t.Fatalf("%d pipelines sent", c.count())
	}
}

func TestOnePipelinePerChunk(t *testing.T) {
	s := redistest.Start(t)
	ctx := context.Background()
	for _, tc := range []struct {
		size, n, pipelines, first, last int
	}{
		{0, 1000, 20, 50, 50},
		{7, 100, 15, 7, 2},
		{500, 100, 1, 100, 100},
	} {
		var c counter
		cl := s.Client(t, nil)
		cl.AddHook(c.hook())
		res, err := batch.RPush(ctx, cl, fmt.Sprint("l", tc.size), values("p", tc.n), batch.Options{ChunkSize: tc.size})
		if err != nil || !res.Complete() {
			t.Fatal(err)
		}
		if c.count() != tc.pipelines || c.sizes[0] != tc.first || c.sizes[len(c.sizes)-1] != tc.last {
			t.Fatalf("ChunkSize %d: %d pipelines of sizes %v", tc.size, c.count(), c.sizes)
		}
	}
}

func TestRunQueueErrorStops(t *testing.T) {
	s := redistest.Start(t)
	rdb := s.Client(t, nil)
	ctx := context.Background()
	bad := errors.New("bad item")
	res, err := batch.Run(ctx, rdb, span(0, 200), func(p redis.Pipeliner, i int) error {
		if i == 120 {
			return bad
		}
		p.Set(ctx, fmt.Sprint("k", i), i, 0)
		return nil
	}, batch.Options{})
	if !errors.Is(err, bad) || !strings.Contains(err.Error(), "item 120") {
		t.Fatalf("error: %v", err)
	}
	checkCover(t, res, 200)
	equalInts(t, "Written", res.Written, span(0, 100))
	if n, _ := rdb.Exists(ctx, "k100").Result(); n != 0 {
		t.Fatal("part of the chunk with the bad item was sent")
	}
}

func TestRunParallel(t *testing.T) {
	s := redistest.Start(t)
	ctx := context.Background()
	keys := values("par", 5000)
	queue := func(p redis.Pipeliner, k string) error {
		p.Set(ctx, k, k, 0)
		return nil
	}

	t.Run("complete", func(t *testing.T) {
		rdb := s.Client(t, nil)
		var c counter
		rdb.AddHook(c.hook())
		res, err := batch.Run(ctx, rdb, keys, queue, batch.Options{Parallel: 4, ChunkSize: 100})
		if err != nil || !res.Complete() {
			t.Fatal(err)
		}
		checkCover(t, res, len(keys))
		if c.count() != 50 {
			t.Fatalf("%d pipelines", c.count())
		}
		if n, _ := rdb.DBSize(ctx).Result(); n != int64(len(keys)) {
			t.Fatalf("%d keys", n)
		}
	})
	t.Run("a refused chunk stops new chunks", func(t *testing.T) {
		rdb := s.Client(t, nil)
		rdb.FlushDB(ctx)
		var seen sync.Map
		rdb.AddHook(pipelineHook(func(ctx context.Context, cmds []redis.Cmder, next redis.ProcessPipelineHook) error {
			if !isChunk(cmds) {
				return next(ctx, cmds)
			}
			first := cmds[0].Args()[1].(string)
			seen.Store(first, true)
			if first == keys[1000] {
				return hooks.ErrLimited
			}
			return next(ctx, cmds)
		}))
		res, err := batch.Run(ctx, rdb, keys, queue, batch.Options{Parallel: 4, ChunkSize: 100})
		if !errors.Is(err, hooks.ErrLimited) {
			t.Fatalf("error: %v", err)
		}
		checkCover(t, res, len(keys))
		for _, i := range span(1000, 1100) {
			if !slices.Contains(res.NotWritten, i) {
				t.Fatalf("item %d of the refused chunk is not in NotWritten", i)
			}
		}
		for _, i := range res.Written {
			if n, _ := rdb.Exists(ctx, keys[i]).Result(); n != 1 {
				t.Fatalf("written item %d is missing", i)
			}
		}
		for _, i := range res.NotWritten {
			if n, _ := rdb.Exists(ctx, keys[i]).Result(); n != 0 {
				t.Fatalf("item %d reported not written is present", i)
			}
		}
		if len(res.NotWritten) <= 100 {
			t.Fatal("the batch did not stop after the refused chunk")
		}
	})
}

func TestPublishDeliversInOrder(t *testing.T) {
	s := redistest.Start(t)
	rdb := s.Client(t, nil)
	ctx := context.Background()
	sub := rdb.Subscribe(ctx, "news")
	t.Cleanup(func() { _ = sub.Close() })
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	ch := sub.Channel(redis.WithChannelSize(5000))
	msgs := values("msg", 3000)
	res, err := batch.Publish(ctx, rdb, "news", msgs, batch.Options{})
	if err != nil || !res.Complete() {
		t.Fatalf("Publish: %v", err)
	}
	checkCover(t, res, len(msgs))
	timeout := time.After(20 * time.Second)
	for i := range msgs {
		select {
		case m := <-ch:
			if m.Payload != msgs[i] {
				t.Fatalf("message %d is %q, want %q", i, m.Payload, msgs[i])
			}
		case <-timeout:
			t.Fatalf("only %d of %d messages arrived", i, len(msgs))
		}
	}
}
