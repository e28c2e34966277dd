package guarantees_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redisguard/redisguard/batch"
	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
)

// The guarantees, in the order the matrix lists them.
const (
	gOnce       = "never-applied-twice"
	gClassified = "errors-classified"
	gDeadline   = "caller-deadline-keeps-breaker-closed"
	gReport     = "batch-report-exact"
	gSecret     = "no-secret-printed"
)

var guaranteeNames = []string{gOnce, gClassified, gDeadline, gReport, gSecret}

// TestGuaranteeMatrix checks every guarantee through every handle and every
// path, each cell a subtest named guarantee/handle/path, on servers shared
// by the whole matrix; it logs the matrix as a table at the end. What each
// cell expects is written on the function that checks it.
func TestGuaranteeMatrix(t *testing.T) {
	s := startServers(t)
	m := &matrix{res: map[string]cellResult{}}
	checks := map[string]func(c *cell, s *servers, hname, path string){
		gOnce:       checkOnce,
		gClassified: checkClassified,
		gDeadline:   checkDeadline,
		gReport:     checkReport,
		gSecret:     checkSecret,
	}
	for _, g := range guaranteeNames {
		t.Run(g, func(t *testing.T) {
			for _, hn := range handleNames {
				t.Run(hn, func(t *testing.T) {
					// The handles' servers are their own: their cells run
					// at the same time, except where a cell captures the
					// process-wide slog default.
					if g != gSecret {
						t.Parallel()
					}
					for _, p := range pathNames {
						m.run(t, g+"/"+hn+"/"+p, func(c *cell) { checks[g](c, s, hn, p) })
					}
				})
			}
		})
	}
	t.Log("\n" + m.table())
}

// checkOnce: a non-idempotent write is never applied twice. Every reply is
// delayed beyond the socket timeout (the server runs each command at once;
// only its answer is late), so the call fails after the write, with no
// caller deadline. The unit (see write) must then be applied at most once:
// the INCR counter is at most 1 (at most autoCallers on AutoPipeline, one
// INCR per caller), no value of the batch is in the list twice. On WATCH the
// delay starts after the transaction's GET, so that EXEC is the command whose
// reply is late. The client's pools are warmed with several connections
// first, so a command sent again goes out at once, as on a busy client. A
// counter of 0 means the write never left and the cell proves nothing: that
// is reported as a failure too ("inconclusive").
func checkOnce(c *cell, s *servers, hname, path string) {
	h := s.newHandle(c, hname)
	c.needPath(h, path)
	f := newFaults(c.T, h)
	k := newKeys()
	warm(c, h, f, path, k, false, false)
	ctx := ctxFor(c.T, 10*time.Second)
	var errs []error
	if path == "WATCH" {
		errs = write(ctx, h, path, k, func() { f.delay(slowReply) })
	} else {
		f.delay(slowReply)
		errs = write(ctx, h, path, k, nil)
	}
	f.restore()
	time.Sleep(100 * time.Millisecond) // the server runs what is still on its sockets
	n := applied(c.T, h, path, k)
	c.Logf("applied %d time(s); errors: %s", n, showAll(errs))
	switch {
	case n > calls(path) && path == "batch":
		c.fail("a value of the batch is in the list %d times (errors: %s)", n, showAll(errs))
	case n > calls(path):
		c.fail("%d INCR(s) applied %d times (errors: %s)", calls(path), n, showAll(errs))
	case n == 0:
		c.fail("inconclusive: the write never reached the server (errors: %s)", showAll(errs))
	}
}

// checkClassified: every transport error is classified. Under each of four
// faults (connections refused; every reply stalled beyond the socket
// timeout; connections closed while the replies are on their way;
// connections reset by the peer as soon as the client sends), the call's
// error and every command's error (Err of each command a pipeline or a
// transaction returns; each caller's on AutoPipeline) that is not nil must
// match exactly
// one of hooks.ErrNotSent, hooks.ErrMaybeApplied and hooks.ErrRejected with
// errors.Is. A fault must produce at least one error.
func checkClassified(c *cell, s *servers, hname, path string) {
	for _, sc := range []string{"refused", "stalled reply", "cut mid-reply", "reset on send"} {
		h := s.newHandle(c, hname)
		c.needPath(h, path)
		f := newFaults(c.T, h)
		k := newKeys()
		warm(c, h, f, path, k, false, true)
		ctx := ctxFor(c.T, 10*time.Second)
		var errs []error
		switch sc {
		case "refused":
			f.refuse()
			errs = write(ctx, h, path, k, nil)
		case "stalled reply":
			f.delay(slowReply)
			errs = write(ctx, h, path, k, nil)
		case "reset on send":
			f.resetOnSend()
			errs = write(ctx, h, path, k, nil)
		case "cut mid-reply":
			f.delay(slowReply)
			done := make(chan struct{})
			go func() { defer close(done); errs = write(ctx, h, path, k, nil) }()
			time.Sleep(100 * time.Millisecond)
			f.refuse()
			<-done
		}
		f.restore()
		seen := 0
		for i, err := range errs {
			if err == nil {
				continue
			}
			seen++
			if got := classes(err); len(got) != 1 {
				what := "the call's error"
				switch {
				case path == "AutoPipeline":
					what = fmt.Sprintf("caller %d's error", i)
				case i > 0:
					what = fmt.Sprintf("command %d's error", i)
				}
				c.fail("%s: %s %T %s matches %v", sc, what, err, show(err), got)
			}
		}
		if seen == 0 {
			c.fail("%s: inconclusive: the fault produced no error", sc)
		}
	}
}

// classes lists the outcome sentinels err matches.
func classes(err error) []string {
	var got []string
	for _, s := range []struct {
		name string
		err  error
	}{{"ErrNotSent", hooks.ErrNotSent}, {"ErrMaybeApplied", hooks.ErrMaybeApplied}, {"ErrRejected", hooks.ErrRejected}} {
		if errors.Is(err, s.err) {
			got = append(got, s.name)
		}
	}
	return got
}

// checkDeadline: a caller's own deadline never trips the breaker. Before
// each call every data server is told CLIENT PAUSE 200 WRITE: it holds write
// commands (INCR, RPUSH, EXEC of them) for 200ms, still inside the 300ms
// socket timeout, while it keeps answering reads and new connections' HELLO:
// a healthy server with a slow write. The path is called 25 times with a
// caller deadline of callerCut, so each call is cut by the caller while it
// waits for its reply (25 is more than the breaker's 5 consecutive failures
// and its 20-call minimum for the failure ratio). Afterwards, the servers
// unpaused, no node's breaker may be open or half-open, and the same call
// without a caller deadline must succeed.
//
// On the command path a control follows: with replies stalled beyond the
// socket timeout and no caller deadline, the breaker must open within 10
// INCRs, or the check above would hold for a breaker that counts nothing.
func checkDeadline(c *cell, s *servers, hname, path string) {
	h := s.newHandle(c, hname)
	c.needPath(h, path)
	f := newFaults(c.T, h)
	k := newKeys()
	warm(c, h, f, path, k, false, true)
	pause := func(args ...string) {
		for _, a := range h.data {
			if _, err := redistest.Do(a, 2*time.Second, append([]string{"CLIENT"}, args...)...); err != nil {
				c.Fatalf("CLIENT %v on %s: %v", args, a, err)
			}
		}
	}
	c.Cleanup(func() {
		for _, a := range h.data {
			_, _ = redistest.Do(a, 2*time.Second, "CLIENT", "UNPAUSE")
		}
	})
	cut := 0
	var last []error
	for i := 0; i < 25 && (cut > 0 || i < 5); i++ {
		pause("PAUSE", "200", "WRITE")
		ctx, cancel := context.WithTimeout(context.Background(), callerCut)
		errs := write(ctx, h, path, k, nil)
		cancel()
		if slices.ContainsFunc(errs, func(e error) bool { return e != nil }) {
			cut++
			last = errs
		}
	}
	pause("UNPAUSE")
	c.Logf("%d calls cut by the caller's deadline; last errors: %s", cut, showAll(last))
	switch {
	case cut == 0:
		c.note("no call ended at the caller's deadline (the path waited for the late replies): nothing the breaker could count")
	case cut < 25:
		c.note(fmt.Sprintf("only %d of 25 calls ended at the caller's deadline (the others waited for their replies)", cut))
	}
	if open := openNodes(h); len(open) > 0 {
		c.fail("%d calls cut by the caller's own %s deadline left the breaker %v (last errors: %s)", cut, callerCut, open, showAll(last))
	}
	if errs := write(ctxFor(c.T, 5*time.Second), h, path, k, nil); slices.ContainsFunc(errs, func(e error) bool { return e != nil }) {
		c.fail("the next call without a caller deadline failed: %s", showAll(errs))
	}

	if path != "command" {
		return
	}
	h2 := s.newHandle(c, hname)
	f2 := newFaults(c.T, h2)
	k2 := newKeys()
	warm(c, h2, f2, path, k2, false, true)
	f2.delay(slowReply)
	opened := false
	for i := 0; i < 10 && !opened; i++ {
		_ = write(ctxFor(c.T, 5*time.Second), h2, path, k2, nil)
		opened = len(openNodes(h2)) > 0
	}
	f2.restore()
	if !opened {
		c.fail("control: 10 INCRs to a stalled server left every breaker closed (%v)", h2.hooks.Breaker.States())
	}
}

// openNodes lists the nodes whose breaker is not closed.
func openNodes(h *handle) map[string]string {
	out := map[string]string{}
	for node, st := range h.hooks.Breaker.States() {
		if st != hooks.BreakerClosed {
			out[node] = string(st)
		}
	}
	return out
}

// checkReport: the batch report is exact. A batch of 5 items in chunks of 2
// (see batchOn for what each path sends) runs under three conditions, each
// on a fresh client, and the report is compared with what the servers hold:
//   - always: every item is in exactly one of Written, NotWritten and
//     Unknown; a Written item is held exactly once, a NotWritten item not at
//     all, an Unknown item at most once;
//   - healthy: all 5 Written, no error;
//   - refused (a client with no open connection, every dial refused, so
//     nothing can be sent): all 5 NotWritten, none Unknown (not on WATCH,
//     which needs a connection before the batch starts);
//   - stalled reply (every reply delayed beyond the socket timeout; on WATCH
//     from inside the transaction): the first chunk was sent and got no reply,
//     so Unknown is [0 1]; the batch stops there, so NotWritten is [2 3 4];
//   - limiter full (TxPipeline, AutoPipeline and batch, whose items all go to
//     the list's node): the servers hold writes for 250ms (CLIENT PAUSE),
//     8 INCRs on the list's slot hold the node's 8 Limiter permits meanwhile,
//     and the batch runs with a caller deadline of 50ms, which ends while its
//     first chunk waits for a permit: nothing was sent, so all 5 NotWritten.
//     If the Limiter counted no cancelled or rejected wait, the batch did not
//     meet the full limiter and the scenario is reported inconclusive.
//
// A single command has no batch report.
func checkReport(c *cell, s *servers, hname, path string) {
	if path == "command" {
		c.skip("a single command has no batch report; its error is checked by " + gClassified)
	}
	scenarios := []string{"healthy", "refused", "stalled reply"}
	switch path {
	case "WATCH":
		scenarios = []string{"healthy", "stalled reply"}
	case "TxPipeline", "AutoPipeline", "batch":
		scenarios = append(scenarios, "limiter full")
	}
	for _, sc := range scenarios {
		h := s.newHandle(c, hname)
		c.needPath(h, path)
		f := newFaults(c.T, h)
		k := newKeys()
		if sc != "refused" { // refused: no connection may be open before the batch
			warm(c, h, f, path, k, true, true)
		}
		ctx := ctxFor(c.T, 10*time.Second)
		var inTx func()
		switch sc {
		case "refused":
			f.refuse()
		case "stalled reply":
			if path == "WATCH" {
				inTx = func() { f.delay(slowReply) }
			} else {
				f.delay(slowReply)
			}
		}
		var refusedBefore uint64
		if sc == "limiter full" {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			refusedBefore = fillLimiter(c, h, k)
		}
		res, ran, counts, err := batchOn(ctx, c.T, h, path, k, inTx)
		f.restore()
		if sc == "limiter full" {
			st := h.hooks.Limiter.Stats()
			if st.Cancelled+st.Rejected == refusedBefore {
				c.fail("%s: inconclusive: the batch never waited for a permit (report W%v N%v U%v, error %s)", sc, res.Written, res.NotWritten, res.Unknown, show(err))
				continue
			}
		}
		if !ran {
			c.fail("%s: the batch never ran: %s", sc, show(err))
			continue
		}
		time.Sleep(100 * time.Millisecond) // the server runs what is still on its sockets
		n := counts()
		c.Logf("%s: Written %v NotWritten %v Unknown %v held %v error %s", sc, res.Written, res.NotWritten, res.Unknown, n, show(err))
		if msg := exact(res, n); msg != "" {
			c.fail("%s: %s (report W%v N%v U%v, held %v, error %s)", sc, msg, res.Written, res.NotWritten, res.Unknown, n, show(err))
			continue
		}
		var want batch.Result
		switch sc {
		case "healthy":
			want = batch.Result{Written: []int{0, 1, 2, 3, 4}}
		case "refused":
			want = batch.Result{NotWritten: []int{0, 1, 2, 3, 4}}
		case "stalled reply":
			want = batch.Result{NotWritten: []int{2, 3, 4}, Unknown: []int{0, 1}}
		case "limiter full":
			want = batch.Result{NotWritten: []int{0, 1, 2, 3, 4}}
		}
		if !slices.Equal(res.Written, want.Written) || !slices.Equal(res.NotWritten, want.NotWritten) || !slices.Equal(res.Unknown, want.Unknown) {
			c.fail("%s: report W%v N%v U%v, want W%v N%v U%v (held %v, error %s)", sc,
				res.Written, res.NotWritten, res.Unknown, want.Written, want.NotWritten, want.Unknown, n, show(err))
		}
		if (err == nil) != (sc == "healthy") {
			c.fail("%s: error %s", sc, show(err))
		}
	}
}

// fillLimiter makes the data servers hold writes for 250ms and starts 8
// INCRs on k's slot, which take the node's 8 Limiter permits and keep them
// until the servers answer; it returns once they hold them, with the
// Limiter's count of cancelled and rejected waits so far. The INCRs are
// waited for in c.Cleanup.
func fillLimiter(c *cell, h *handle, k keys) uint64 {
	c.Helper()
	for _, a := range h.data {
		if _, err := redistest.Do(a, 2*time.Second, "CLIENT", "PAUSE", "250", "WRITE"); err != nil {
			c.fatal("CLIENT PAUSE on %s: %v", a, err)
		}
	}
	var wg sync.WaitGroup
	c.Cleanup(wg.Wait)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = h.rdb.Incr(ctx, k.n()).Err()
		}()
	}
	deadline := time.Now().Add(2 * time.Second)
	for h.hooks.Limiter.Stats().InFlight < 8 {
		if time.Now().After(deadline) {
			c.fatal("the 8 INCRs never held the Limiter's permits: %+v", h.hooks.Limiter.Stats())
		}
		time.Sleep(time.Millisecond)
	}
	st := h.hooks.Limiter.Stats()
	return st.Cancelled + st.Rejected
}

// exact checks a report against what the servers hold: "" when it is
// consistent, else what is wrong.
func exact(res batch.Result, held []int64) string {
	where := make([]int, len(held))
	for li, l := range [][]int{res.Written, res.NotWritten, res.Unknown} {
		for _, i := range l {
			if i < 0 || i >= len(held) {
				return fmt.Sprintf("index %d out of range", i)
			}
			if where[i] != 0 {
				return fmt.Sprintf("item %d listed twice", i)
			}
			where[i] = li + 1
		}
	}
	for i, w := range where {
		switch {
		case w == 0:
			return fmt.Sprintf("item %d in no list", i)
		case w == 1 && held[i] != 1:
			return fmt.Sprintf("item %d Written but held %d times", i, held[i])
		case w == 2 && held[i] != 0:
			return fmt.Sprintf("item %d NotWritten but held %d times", i, held[i])
		case w == 3 && held[i] > 1:
			return fmt.Sprintf("item %d Unknown but held %d times", i, held[i])
		}
	}
	return ""
}

// checkSecret: no secret is printed. The handle is configured with a
// password (and the Sentinel one with a Sentinel password too); the path is
// run once on a healthy server and once with every reply stalled beyond the
// socket timeout. None of
// these may contain a password: every error the path returned (Error, %v,
// %+v, %#v); every value of this module's types the user holds (the
// profiles.Config, the profiles.Hooks, the *profiles.Client) printed with
// %v, %+v, %#v and %s, marshalled with encoding/json, and logged with
// slog's text and JSON handlers; everything logged through slog's default
// logger while the cell ran (client construction included).
func checkSecret(c *cell, s *servers, hname, path string) {
	var logs lockedBuffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	c.Cleanup(func() { slog.SetDefault(old) })

	h := s.newHandle(c, hname)
	c.needPath(h, path)
	f := newFaults(c.T, h)
	k := newKeys()
	var texts []labeled
	for _, sc := range []string{"healthy", "stalled reply"} {
		if sc == "stalled reply" {
			f.delay(slowReply)
		}
		for i, err := range write(ctxFor(c.T, 10*time.Second), h, path, k, nil) {
			if err == nil {
				continue
			}
			for _, verb := range []string{"%v", "%+v", "%#v"} {
				texts = append(texts, labeled{fmt.Sprintf("%s: error %d as %s", sc, i, verb), fmt.Sprintf(verb, err)})
			}
		}
		f.restore()
	}
	for _, pv := range h.printed {
		name, v := pv.name, pv.v
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			texts = append(texts, labeled{verb + " of " + name, fmt.Sprintf(verb, v)})
		}
		if b, err := json.Marshal(v); err == nil {
			texts = append(texts, labeled{"json.Marshal of " + name, string(b)})
		}
		var tb, jb bytes.Buffer
		slog.New(slog.NewTextHandler(&tb, nil)).Info("value", "v", v)
		slog.New(slog.NewJSONHandler(&jb, nil)).Info("value", "v", v)
		texts = append(texts, labeled{"slog text of " + name, tb.String()}, labeled{"slog JSON of " + name, jb.String()})
	}
	texts = append(texts, labeled{"the default slog output", logs.String()})
	var leaks []string
	for _, tx := range texts {
		if strings.Contains(tx.text, secret) || strings.Contains(tx.text, sentinelSecret) {
			leaks = append(leaks, tx.label)
		}
	}
	if len(leaks) > 0 {
		c.fail("a password is printed by: %s", strings.Join(leaks, "; "))
	}
}

type labeled struct{ label, text string }

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// show prints an error with the matrix's passwords masked, so the test's own
// output never carries them.
func show(err error) string {
	if err == nil {
		return "<nil>"
	}
	return redact(err.Error())
}

func showAll(errs []error) string {
	var b []string
	for _, e := range errs {
		b = append(b, show(e))
	}
	return "[" + strings.Join(b, " | ") + "]"
}

func redact(s string) string {
	return strings.NewReplacer(secret, "<password>", sentinelSecret, "<sentinel password>").Replace(s)
}

// matrix collects each cell's result for the table.
type matrix struct {
	mu  sync.Mutex
	res map[string]cellResult
}

type cellResult struct{ status, note string }

// cell is one subtest of the matrix.
type cell struct {
	*testing.T
	skipReason, firstFail, remark string
	moreFails                     int
}

// note records a remark the table shows even when the cell passes.
func (c *cell) note(msg string) {
	c.Helper()
	c.remark = msg
	c.Log(msg)
}

func (c *cell) fail(format string, args ...any) {
	c.Helper()
	msg := redact(fmt.Sprintf(format, args...))
	if c.firstFail == "" {
		c.firstFail = msg
	} else {
		c.moreFails++
	}
	c.Error(msg)
}

// fatal is fail, then the end of the cell.
func (c *cell) fatal(format string, args ...any) {
	c.Helper()
	c.fail(format, args...)
	c.FailNow()
}

func (c *cell) skip(reason string) {
	c.Helper()
	c.skipReason = reason
	c.Skip(reason)
}

// needPath skips the cell when h cannot take path.
func (c *cell) needPath(h *handle, path string) {
	c.Helper()
	if path != "AutoPipeline" {
		return
	}
	if _, err := h.rdb.AutoPipeline(); err != nil {
		c.skip("go-redis v9.23: " + strings.TrimPrefix(err.Error(), "redis: "))
	}
}

// run runs body as the subtest name (guarantee/handle/path; t is the
// handle's subtest) and records its result.
func (m *matrix) run(t *testing.T, name string, body func(c *cell)) {
	path := name[strings.LastIndex(name, "/")+1:]
	t.Run(path, func(t *testing.T) {
		c := &cell{T: t}
		t.Cleanup(func() {
			r := cellResult{status: "pass", note: c.remark}
			switch {
			case t.Skipped():
				r = cellResult{"n/a", c.skipReason}
			case t.Failed():
				r = cellResult{"FAIL", c.firstFail}
				switch {
				case r.note == "":
					r.note = "stopped early; see the subtest's log"
				case c.moreFails > 0:
					r.note += fmt.Sprintf(" (and %d more failure(s) in the subtest's log)", c.moreFails)
				}
			}
			m.mu.Lock()
			m.res[name] = r
			m.mu.Unlock()
		})
		body(c)
	})
}

// table renders the matrix: one row per guarantee and handle, one column per
// path, then the reason of every cell that is not a pass.
func (m *matrix) table() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	row := func(cols ...string) {
		fmt.Fprintf(&b, "%-58s", cols[0])
		for _, c := range cols[1:] {
			fmt.Fprintf(&b, " %-12s", c)
		}
		b.WriteString("\n")
	}
	row(append([]string{"guarantee / handle"}, pathNames...)...)
	var notes []string
	counts := map[string]int{}
	for _, g := range guaranteeNames {
		for _, h := range handleNames {
			cols := []string{g + " / " + h}
			for _, p := range pathNames {
				name := g + "/" + h + "/" + p
				r, ok := m.res[name]
				if !ok {
					r = cellResult{status: "not run"}
				}
				counts[r.status]++
				cols = append(cols, r.status)
				if r.status != "pass" || r.note != "" {
					notes = append(notes, fmt.Sprintf("%s: %s: %s", name, r.status, r.note))
				}
			}
			row(cols...)
		}
	}
	fmt.Fprintf(&b, "\n%d pass, %d FAIL, %d n/a, %d not run\n", counts["pass"], counts["FAIL"], counts["n/a"], counts["not run"])
	for _, n := range notes {
		b.WriteString(n + "\n")
	}
	return b.String()
}
