package hooks_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
)

func capCmd(args ...any) redis.Cmder { return redis.NewCmd(context.Background(), args...) }

// seenDeadline is how far away a context's deadline was, measured from
// just after (lo) and just before (hi) its Deadline call.
type seenDeadline struct {
	lo, hi time.Duration
	ok     bool
}

func seeDeadline(ctx context.Context) seenDeadline {
	before := time.Now()
	dl, ok := ctx.Deadline()
	after := time.Now()
	return seenDeadline{lo: dl.Sub(after), hi: dl.Sub(before), ok: ok}
}

// is reports whether the deadline was d away.
func (s seenDeadline) is(d time.Duration) bool { return s.ok && s.lo <= d && d <= s.hi }

// TestBlockingCapBoundsServerWaitAndKeepsMargin: with a cap, every
// blocking command the table knows that asks to wait longer than the cap,
// or forever, is sent with the cap as its timeout (in its own unit and in
// a form Redis reads), and every blocking command's deadline is the wait
// it asks the server for plus BlockingMargin. Before, a wait at or above
// the cap got a deadline of the cap itself, so the server's answer at the
// end of the wait raced the deadline.
func TestBlockingCapBoundsServerWaitAndKeepsMargin(t *testing.T) {
	const margin = 500 * time.Millisecond
	cases := []struct {
		name    string
		cap     time.Duration
		args    []any
		pos     int
		want    any           // the timeout argument as sent
		timeout time.Duration // the deadline; -1: none
	}{
		{"BLPOP at the cap", time.Second, []any{"blpop", "q", 1}, 2, 1, time.Second + margin},
		{"BLPOP 0", time.Second, []any{"blpop", "q", 0}, 2, int64(1), time.Second + margin},
		{"BLPOP above", time.Second, []any{"blpop", "a", "b", int64(600)}, 3, int64(1), time.Second + margin},
		{"BLPOP below", 2 * time.Second, []any{"blpop", "q", 1}, 2, 1, time.Second + margin},
		{"BLPOP decimal below", time.Second, []any{"blpop", "q", "0.25"}, 2, "0.25", 250*time.Millisecond + margin},
		{"BLPOP decimal above", time.Second, []any{"blpop", "q", "1.001"}, 2, int64(1), time.Second + margin},
		{"BLPOP float 0", time.Second, []any{"blpop", "q", 0.0}, 2, int64(1), time.Second + margin},
		{"BLPOP bytes 0", time.Second, []any{"blpop", "q", []byte("0")}, 2, int64(1), time.Second + margin},
		{"BLPOP upper case", time.Second, []any{"BLPOP", "q", "0"}, 2, int64(1), time.Second + margin},
		{"BLPOP decimal cap", 1500 * time.Millisecond, []any{"blpop", "q", 0}, 2, "1.5", 1500*time.Millisecond + margin},
		{"BLPOP sub-millisecond cap", 100 * time.Microsecond, []any{"blpop", "q", 0}, 2, "0.001", time.Millisecond + margin},
		{"BRPOP 0", time.Second, []any{"brpop", "q", 0}, 2, int64(1), time.Second + margin},
		{"BRPOPLPUSH 0", time.Second, []any{"brpoplpush", "s", "d", 0}, 3, int64(1), time.Second + margin},
		{"BLMOVE 0", time.Second, []any{"blmove", "s", "d", "left", "right", 0}, 5, int64(1), time.Second + margin},
		{"BLMPOP 0", time.Second, []any{"blmpop", 0, 1, "q", "left"}, 1, int64(1), time.Second + margin},
		{"BZPOPMIN 0", time.Second, []any{"bzpopmin", "z", 0}, 2, int64(1), time.Second + margin},
		{"BZPOPMAX 0", time.Second, []any{"bzpopmax", "z", "y", 0}, 3, int64(1), time.Second + margin},
		{"BZMPOP 0", time.Second, []any{"bzmpop", 0, 1, "z", "min"}, 1, int64(1), time.Second + margin},
		{"XREAD BLOCK 0", time.Second, []any{"xread", "count", 1, "block", 0, "streams", "s", "$"}, 4, int64(1000), time.Second + margin},
		{"XREAD BLOCK above, ms", time.Second, []any{"xread", "block", int64(5000), "streams", "s", "$"}, 2, int64(1000), time.Second + margin},
		{"XREAD BLOCK below, ms", time.Second, []any{"xread", "block", 200, "streams", "s", "$"}, 2, 200, 200*time.Millisecond + margin},
		{"XREAD BLOCK decimal cap, ms", 1500 * time.Millisecond, []any{"xread", "block", 0, "streams", "s", "$"}, 2, int64(1500), 1500*time.Millisecond + margin},
		{"XREAD a stream named block", time.Second, []any{"xread", "streams", "block", "0"}, 3, "0", 3 * time.Second},
		{"XREADGROUP BLOCK 0", time.Second, []any{"xreadgroup", "group", "g", "c", "block", 0, "streams", "s", ">"}, 5, int64(1000), time.Second + margin},
		{"WAIT 0", time.Second, []any{"wait", 1, 0}, 2, int64(1000), time.Second + margin},
		{"WAITAOF 0", time.Second, []any{"waitaof", 1, 1, 0}, 3, int64(1000), time.Second + margin},
		{"no cap: BLPOP 0 as asked, no deadline", 0, []any{"blpop", "q", 0}, 2, 0, -1},
		{"no cap: BLPOP 600 as asked", 0, []any{"blpop", "q", 600}, 2, 600, 600*time.Second + margin},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tmo, err := hooks.NewTimeouts(hooks.TimeoutOptions{Read: 3 * time.Second, BlockingMargin: margin, BlockingCap: c.cap})
			if err != nil {
				t.Fatal(err)
			}
			var (
				sent []any
				seen seenDeadline
			)
			h := hooks.RawHook(tmo).ProcessHook(func(ctx context.Context, cmd redis.Cmder) error {
				sent = append([]any(nil), cmd.Args()...)
				seen = seeDeadline(ctx)
				return nil
			})
			if err := h(context.Background(), capCmd(c.args...)); err != nil {
				t.Fatal(err)
			}
			if got := sent[c.pos]; fmt.Sprintf("%T %v", got, got) != fmt.Sprintf("%T %v", c.want, c.want) {
				t.Errorf("sent %v: timeout argument %T %v, want %T %v", sent, got, got, c.want, c.want)
			}
			switch {
			case c.timeout < 0 && seen.ok:
				t.Errorf("deadline %v away, want none", seen.hi)
			case c.timeout >= 0 && !seen.is(c.timeout):
				t.Errorf("deadline %v away (set: %v), want %v", seen.hi, seen.ok, c.timeout)
			}
		})
	}
}

// TestBlockingPipelineDeadlineCoversEveryWait: the server runs a
// pipeline's blocking commands one after the other, so the pipeline's
// deadline covers the sum of their (capped) waits plus the margin. Before,
// it was the longest single deadline, and the cap alone.
func TestBlockingPipelineDeadlineCoversEveryWait(t *testing.T) {
	const margin = 500 * time.Millisecond
	tmo, err := hooks.NewTimeouts(hooks.TimeoutOptions{
		Read: time.Second, Write: 2 * time.Second, BlockingMargin: margin, BlockingCap: 3 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		cmds []redis.Cmder
		want time.Duration
	}{
		{"two capped waits", []redis.Cmder{capCmd("blpop", "a", 0), capCmd("brpop", "b", 0)}, 6*time.Second + margin},
		{"waits and a write", []redis.Cmder{capCmd("set", "k", "v"), capCmd("blpop", "a", 1), capCmd("xread", "block", 500, "streams", "s", "$")}, 1500*time.Millisecond + margin},
		{"a write longer than the waits", []redis.Cmder{capCmd("set", "k", "v"), capCmd("blpop", "a", "0.1")}, 2 * time.Second},
		{"one at the cap", []redis.Cmder{capCmd("get", "k"), capCmd("blpop", "a", 3)}, 3*time.Second + margin},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var seen seenDeadline
			h := hooks.RawHook(tmo).ProcessPipelineHook(func(ctx context.Context, _ []redis.Cmder) error {
				seen = seeDeadline(ctx)
				return nil
			})
			if err := h(context.Background(), c.cmds); err != nil {
				t.Fatal(err)
			}
			if !seen.is(c.want) {
				t.Errorf("deadline %v away (set: %v), want %v", seen.hi, seen.ok, c.want)
			}
			for _, cmd := range c.cmds {
				if hooks.BlocksForever(cmd) {
					t.Errorf("%v was sent with an endless wait", cmd.Args())
				}
			}
		})
	}
}

// TestBlockingQueuedForPermitKeepsItsMargin: a blocking command that
// waited for a Limiter permit still gets its whole wait plus the margin
// once it is sent. Before, the Limiter's wait fixed the command's deadline
// at the start of that wait, so a BLPOP queued for longer than the margin
// was cut before the server's answer at the end of its wait: an i/o
// timeout, a dropped connection, and an element popped then was lost.
func TestBlockingQueuedForPermitKeepsItsMargin(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t, &redis.Options{PoolSize: 8, MaxRetries: -1, ContextTimeoutEnabled: true})
	tmo, err := hooks.NewTimeouts(hooks.TimeoutOptions{BlockingMargin: 200 * time.Millisecond, BlockingCap: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	lim, err := hooks.NewLimiter(hooks.LimiterOptions{MaxInFlight: 4, MaxBlocking: 1, MaxWait: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := hooks.Attach(rdb, tmo, lim); err != nil {
		t.Fatal(err)
	}
	// One consumer holds the only blocking permit for its capped second;
	// the next waits about a second (longer than the margin) for it; a
	// third is refused when its wait reaches its own timeout.
	const consumers = 3
	errs := make([]error, consumers)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = rdb.BLPop(context.Background(), 0, "queued").Err()
		}()
	}
	wg.Wait()
	answered := 0
	for i, err := range errs {
		switch {
		case err == redis.Nil:
			answered++
		case err != nil && strings.HasPrefix(err.Error(), "hooks: limiter"):
			// Refused before it was sent: nothing was popped.
		default:
			t.Errorf("consumer %d: %v, want redis.Nil or a limiter refusal", i, err)
		}
	}
	if answered < 2 {
		t.Errorf("%d consumers got the server's answer, want at least 2 (errors: %v)", answered, errs)
	}
}

// TestBlockingRetriedAfterRefusalKeepsItsMargin: a blocking command the
// Limiter refused (nothing sent) and Retry tried again still gets its
// whole wait plus the margin once it is sent. Before, Retry's check of the
// deadline before its backoff fixed the command's deadline there, and the
// later attempts' waits for a permit ate the margin.
func TestBlockingRetriedAfterRefusalKeepsItsMargin(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t, &redis.Options{PoolSize: 8, MaxRetries: -1, ContextTimeoutEnabled: true})
	tmo, err := hooks.NewTimeouts(hooks.TimeoutOptions{BlockingMargin: 200 * time.Millisecond, BlockingCap: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	retry, err := hooks.NewRetry(hooks.RetryOptions{
		MaxAttempts: 20, InitialInterval: 10 * time.Millisecond, MaxInterval: 20 * time.Millisecond, MaxElapsed: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	lim, err := hooks.NewLimiter(hooks.LimiterOptions{MaxInFlight: 4, MaxBlocking: 1, MaxWait: 150 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := hooks.Attach(rdb, tmo, retry, lim); err != nil {
		t.Fatal(err)
	}
	// The first consumer holds the only blocking permit for its capped
	// second; the second is refused by the Limiter every 150 ms and tried
	// again until the permit is free, then sends its BLPOP.
	first := make(chan error, 1)
	go func() { first <- rdb.BLPop(context.Background(), 0, "retried").Err() }()
	for lim.Stats().InFlightBlocking == 0 {
		time.Sleep(time.Millisecond)
	}
	second := rdb.BLPop(context.Background(), 0, "retried").Err()
	if err := <-first; err != redis.Nil {
		t.Errorf("first consumer: %v, want redis.Nil", err)
	}
	if second != redis.Nil {
		t.Errorf("second consumer, retried after the Limiter refused it: %v, want redis.Nil", second)
	}
}
