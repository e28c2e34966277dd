package hooks_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
	"github.com/redisguard/redisguard/profiles"
)

// classes lists the sentinels a transport error must match exactly one of.
var classes = []error{hooks.ErrNotSent, hooks.ErrMaybeApplied, hooks.ErrRejected}

// matchesOne reports how many of the three sentinels err matches.
func matchesOne(err error) int {
	n := 0
	for _, s := range classes {
		if errors.Is(err, s) {
			n++
		}
	}
	return n
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// guardedClient is a *redis.Client to addr with the API preset attached
// the way profiles.Apply attaches it, on the options Apply asks for
// (MaxRetries -1, ContextTimeoutEnabled).
func guardedClient(t *testing.T, opt *redis.Options) *redis.Client {
	t.Helper()
	opt.MaxRetries, opt.ContextTimeoutEnabled = -1, true
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	h, err := profiles.Apply(rdb, profiles.API())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Breaker.Close() })
	return rdb
}

// TestFullDuplexFailedCommandNotReportedAsSuccess is the regression test
// for go-redis's TestFullDuplexLeaseFailureFailsBacklog failing with the
// hooks: under full-duplex autopipelining the engine runs a command's
// process hooks after the write, and a second next does not send again; it
// hands back the command's error, which Retry had just cleared. Against a
// dead address SET returned nil and GET returned "" with a nil error.
func TestFullDuplexFailedCommandNotReportedAsSuccess(t *testing.T) {
	for _, async := range []bool{false, true} {
		t.Run("async="+strconv.FormatBool(async), func(t *testing.T) {
			ctx := context.Background()
			rdb := guardedClient(t, &redis.Options{
				Addr:             deadAddr(t),
				Protocol:         3,
				PipelinePoolSize: 2,
				PoolSize:         2,
				MaxRetries:       -1,
				DialTimeout:      150 * time.Millisecond,
				MinRetryBackoff:  time.Millisecond,
				MaxRetryBackoff:  5 * time.Millisecond,
			})
			cfg := &redis.AutoPipelineOptions{FullDuplex: true}
			var ap *redis.AutoPipeliner
			var err error
			if async {
				ap, err = rdb.AsyncAutoPipelineWithOptions(cfg)
			} else {
				ap, err = rdb.AutoPipelineWithOptions(cfg)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer ap.Close()

			set := ap.Set(ctx, "fd:k", "v", 0)
			get := ap.Get(ctx, "fd:k")
			if err := set.Err(); err == nil {
				t.Fatal("SET to a dead address reported success")
			} else if !errors.Is(err, hooks.ErrNotSent) {
				t.Fatalf("SET error %v does not match ErrNotSent", err)
			}
			if v, err := get.Result(); err == nil {
				t.Fatalf("GET to a dead address reported success with %q", v)
			} else if !errors.Is(err, hooks.ErrNotSent) {
				t.Fatalf("GET error %v does not match ErrNotSent", err)
			}
		})
	}
}

// TestFullDuplexRetrySucceedsOnALiveServer checks that the re-send check
// does not turn the successes of a live server into failures.
func TestFullDuplexRetrySucceedsOnALiveServer(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	rdb := guardedClient(t, &redis.Options{Addr: srv.Addr(), Protocol: 3, MaxRetries: -1})
	ap, err := rdb.AutoPipelineWithOptions(&redis.AutoPipelineOptions{FullDuplex: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ap.Close()
	for i := 0; i < 20; i++ {
		if err := ap.Set(ctx, "k"+strconv.Itoa(i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
		if v, err := ap.Get(ctx, "k"+strconv.Itoa(i)).Int(); err != nil || v != i {
			t.Fatalf("GET: %d, %v", v, err)
		}
	}
}

// TestAutoPipelineErrorsAfterKillAreClassified is the regression test for
// AutoPipeline callers getting a plain EOF after a server kill, an error
// that matched none of ErrNotSent, ErrMaybeApplied and ErrRejected: a batch
// hands each caller its command's own error, which Retry left as go-redis
// set it. Every transport error, on every path, must match exactly one.
func TestAutoPipelineErrorsAfterKillAreClassified(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	rdb := guardedClient(t, &redis.Options{
		Addr: srv.Addr(), MaxRetries: -1, PoolSize: 8,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: time.Second,
	})
	async, err := rdb.AsyncAutoPipeline()
	if err != nil {
		t.Fatal(err)
	}
	defer async.Close()
	blocking, err := rdb.AutoPipeline()
	if err != nil {
		t.Fatal(err)
	}
	defer blocking.Close()
	fd, err := rdb.AsyncAutoPipelineWithOptions(&redis.AutoPipelineOptions{FullDuplex: true})
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	// Open connections on every path, so the kill leaves them dead in the
	// pools (EOF and resets) before the dials start failing.
	for i := 0; i < 10; i++ {
		k := "k" + strconv.Itoa(i)
		_ = async.Set(ctx, k, i, 0)
		if err := blocking.Set(ctx, k, i, 0).Err(); err != nil {
			t.Fatal(err)
		}
		if err := fd.Set(ctx, k, i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	srv.Kill()

	check := func(t *testing.T, what string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: no error from a killed server", what)
			return
		}
		if n := matchesOne(err); n != 1 {
			t.Errorf("%s: error %q (%T) matches %d of ErrNotSent, ErrMaybeApplied, ErrRejected, want exactly 1", what, err, err, n)
		}
	}
	for round := 0; round < 2; round++ {
		var cmds []redis.Cmder
		for i := 0; i < 10; i++ {
			k := "k" + strconv.Itoa(i)
			cmds = append(cmds, async.Incr(ctx, k), async.Get(ctx, k))
		}
		for i, c := range cmds {
			check(t, "async AutoPipeline "+c.Name()+" "+strconv.Itoa(i), c.Err())
		}
		check(t, "blocking AutoPipeline INCR", blocking.Incr(ctx, "k").Err())
		check(t, "blocking AutoPipeline GET", blocking.Get(ctx, "k").Err())
		fdCmds := []redis.Cmder{fd.Incr(ctx, "k"), fd.Get(ctx, "k")}
		for _, c := range fdCmds {
			check(t, "full-duplex "+c.Name(), c.Err())
		}
		check(t, "command INCR", rdb.Incr(ctx, "k").Err())
		pcmds, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Incr(ctx, "k")
			p.Get(ctx, "k")
			return nil
		})
		check(t, "pipeline", err)
		for _, c := range pcmds {
			check(t, "pipeline "+c.Name(), c.Err())
		}
		tcmds, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Incr(ctx, "k")
			return nil
		})
		check(t, "TxPipeline", err)
		for _, c := range tcmds {
			check(t, "TxPipeline "+c.Name(), c.Err())
		}
	}
}

// TestRetryErrorKeepsNetErrorContract is the regression test for go-redis
// tests (and users) panicking at err.(net.Error) on an error the hooks
// returned: where go-redis would return a net.Error, the hooks' error is
// one, with the same Timeout, and errors.Is/As reach the original.
func TestRetryErrorKeepsNetErrorContract(t *testing.T) {
	ctx := context.Background()
	asNetError := func(t *testing.T, err error, timeout bool) {
		t.Helper()
		if err == nil {
			t.Fatal("no error")
		}
		ne, ok := err.(net.Error)
		if !ok {
			t.Fatalf("%T %q is not a net.Error", err, err)
		}
		if ne.Timeout() != timeout {
			t.Fatalf("Timeout() = %v, want %v (%v)", ne.Timeout(), timeout, err)
		}
		var re *hooks.RetryError
		if !errors.As(err, &re) {
			t.Fatalf("%v: errors.As does not find the *RetryError", err)
		}
		var op *net.OpError
		if !errors.As(err, &op) {
			t.Fatalf("%v: errors.As does not reach the *net.OpError", err)
		}
		if timeout && !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("%v: errors.Is does not reach os.ErrDeadlineExceeded", err)
		}
		if matchesOne(err) != 1 {
			t.Fatalf("%v: not classified", err)
		}
	}

	t.Run("refused dial", func(t *testing.T) {
		// One dial per attempt: the Breaker counts each failed dial, and
		// go-redis's five dial tries per attempt would open the circuit
		// within the first attempt (ErrCircuitOpen is a refusal of ours,
		// not a network error).
		rdb := guardedClient(t, &redis.Options{Addr: deadAddr(t), MaxRetries: -1, DialerRetries: 1})
		err := rdb.Get(ctx, "k").Err()
		asNetError(t, err, false)
		if !errors.Is(err, hooks.ErrNotSent) {
			t.Fatalf("%v does not match ErrNotSent", err)
		}
	})

	// go-redis's "races should select DB with read timeout" asserts
	// err.(net.Error).Timeout() on read timeouts; the Breaker opened after a
	// few of them and Retry ended on the open circuit, returning a plain
	// *RetryError: go-redis alone would have returned the timeout.
	t.Run("read timeout, then an open circuit", func(t *testing.T) {
		srv := redistest.Start(t)
		px := redistest.NewProxy(t, srv.Addr())
		rdb := redis.NewClient(&redis.Options{
			Addr: px.Addr(), MaxRetries: -1, ContextTimeoutEnabled: true,
			ReadTimeout: 300 * time.Millisecond,
		})
		t.Cleanup(func() { _ = rdb.Close() })
		retry, err := hooks.NewRetry(hooks.RetryOptions{InitialInterval: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		br, err := hooks.NewBreaker(hooks.BreakerOptions{ConsecutiveFailures: 1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = br.Close() })
		if err := hooks.Attach(rdb, retry, br); err != nil {
			t.Fatal(err)
		}
		if err := rdb.Ping(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		px.DelayIntegerReplies(time.Second)
		err = rdb.Exists(ctx, "n").Err() // a read: Retry may send it again
		if !errors.Is(err, hooks.ErrCircuitOpen) {
			t.Fatalf("%v: want the retry stopped by the open circuit", err)
		}
		asNetError(t, err, true)
		if !errors.Is(err, hooks.ErrMaybeApplied) || matchesOne(err) != 1 {
			t.Fatalf("%v: want ErrMaybeApplied alone", err)
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("%v does not reach the read timeout", err)
		}
	})

	t.Run("read timeout", func(t *testing.T) {
		srv := redistest.Start(t)
		px := redistest.NewProxy(t, srv.Addr())
		rdb := guardedClient(t, &redis.Options{
			Addr: px.Addr(), MaxRetries: -1, ContextTimeoutEnabled: true,
			ReadTimeout: 300 * time.Millisecond,
		})
		if err := rdb.Ping(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		px.DelayIntegerReplies(time.Second)
		err := rdb.Incr(ctx, "n").Err()
		asNetError(t, err, true)
		if !errors.Is(err, hooks.ErrMaybeApplied) {
			t.Fatalf("%v does not match ErrMaybeApplied", err)
		}
	})

	t.Run("cluster node guard", func(t *testing.T) {
		s := guardedCluster(t)
		rdb := s.client(t)
		s.slow(t)
		err := rdb.Incr(ctx, newKey("net")).Err()
		asNetError(t, err, true)
		var m *hooks.MaybeAppliedError
		if !errors.Is(err, hooks.ErrMaybeApplied) || !errors.As(err, &m) {
			t.Fatalf("%v: want ErrMaybeApplied from the node guard", err)
		}
		var incr *redis.IntCmd
		_, err = rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			incr = p.Incr(ctx, newKey("net"))
			return nil
		})
		asNetError(t, err, true)
		asNetError(t, incr.Err(), true)
	})

	t.Run("not a network error", func(t *testing.T) {
		// A pool timeout is no net.Error in go-redis; Retry's error for it
		// must not pass for one.
		r, err := hooks.NewRetry(hooks.RetryOptions{MaxAttempts: 1})
		if err != nil {
			t.Fatal(err)
		}
		err = hooks.RawHook(r).ProcessHook(func(context.Context, redis.Cmder) error {
			return redis.ErrPoolTimeout
		})(ctx, redis.NewStringCmd(ctx, "get", "k"))
		if _, ok := err.(net.Error); ok {
			t.Fatalf("%T %v passes for a net.Error", err, err)
		}
		if !errors.Is(err, redis.ErrPoolTimeout) || !errors.Is(err, hooks.ErrNotSent) {
			t.Fatalf("%v: want ErrPoolTimeout and ErrNotSent", err)
		}
	})
}

// TestRetryClassifiesEachCommandOfAStoppedBatch checks the batch that stops
// (here the caller's context ended on one command) while another command
// of it failed on the transport: that command's error is classified too.
func TestRetryClassifiesEachCommandOfAStoppedBatch(t *testing.T) {
	ctx := context.Background()
	r, err := hooks.NewRetry(hooks.RetryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	incr := redis.NewIntCmd(ctx, "incr", "a")
	get := redis.NewStringCmd(ctx, "get", "b")
	err = hooks.RawHook(r).ProcessPipelineHook(func(_ context.Context, cmds []redis.Cmder) error {
		incr.SetErr(io.ErrUnexpectedEOF)
		get.SetErr(context.Canceled)
		return io.ErrUnexpectedEOF
	})(ctx, []redis.Cmder{incr, get})
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("batch error %v", err)
	}
	if matchesOne(incr.Err()) != 1 || !errors.Is(incr.Err(), hooks.ErrMaybeApplied) || !errors.Is(incr.Err(), io.ErrUnexpectedEOF) {
		t.Fatalf("INCR error %v: want ErrMaybeApplied wrapping the EOF", incr.Err())
	}
	if get.Err() != context.Canceled {
		t.Fatalf("GET error %v: the caller's cancellation must stay as it is", get.Err())
	}
}

// TestRetryErrorMatchesOneClassAfterOpenCircuit checks a command that may
// have run on a first attempt and then met an open circuit (whose error
// matches ErrNotSent): Retry's error says maybe applied, and only that,
// while errors.Is still finds ErrCircuitOpen.
func TestRetryErrorMatchesOneClassAfterOpenCircuit(t *testing.T) {
	ctx := context.Background()
	r, err := hooks.NewRetry(hooks.RetryOptions{InitialInterval: time.Millisecond, MaxInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	timeout := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	open := fmt.Errorf("%w on 10.0.0.1:6379 (%w)", hooks.ErrCircuitOpen, hooks.ErrNotSent)
	calls := 0
	err = hooks.RawHook(r).ProcessHook(func(context.Context, redis.Cmder) error {
		calls++
		if calls == 1 {
			return timeout
		}
		return open
	})(ctx, redis.NewStringCmd(ctx, "get", "k"))
	if calls != 2 {
		t.Fatalf("%d attempts, want 2", calls)
	}
	if n := matchesOne(err); n != 1 || !errors.Is(err, hooks.ErrMaybeApplied) {
		t.Fatalf("%v matches %d classes, want only ErrMaybeApplied", err, n)
	}
	if !errors.Is(err, hooks.ErrCircuitOpen) {
		t.Fatalf("%v: errors.Is must still find ErrCircuitOpen", err)
	}
}

// TestRetryModuleCommandTable: a module's command is retried after an
// error that may have applied it only when the table given to Retry marks
// it idempotent; the built-in table does not know it.
func TestRetryModuleCommandTable(t *testing.T) {
	ctx := context.Background()
	jsonTable := hooks.NewCommandTable([]hooks.Command{{Name: "JSON.SET", Write: true, Idempotent: true}})
	for _, tc := range []struct {
		name      string
		table     *hooks.CommandTable
		wantSends int
	}{
		{"built-in table", nil, 1},
		{"table with JSON.SET", jsonTable, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := hooks.NewRetry(hooks.RetryOptions{MaxAttempts: 2, InitialInterval: time.Millisecond,
				MaxInterval: time.Millisecond, Commands: tc.table, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			sends := 0
			err = hooks.RawHook(r).ProcessHook(func(context.Context, redis.Cmder) error {
				sends++
				if sends == 1 {
					return io.EOF // after the write: it may have run
				}
				return nil
			})(ctx, redis.NewCmd(ctx, "json.set", "k", "$", "1"))
			if sends != tc.wantSends {
				t.Fatalf("sent %d times, want %d (err %v)", sends, tc.wantSends, err)
			}
			if wantErr := tc.wantSends == 1; (err != nil) != wantErr || (wantErr && !errors.Is(err, hooks.ErrMaybeApplied)) {
				t.Fatalf("err %v; want ErrMaybeApplied: %v", err, wantErr)
			}
		})
	}
}
