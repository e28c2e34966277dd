package batch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
)

// replyErr stands for an error reply from the server in unit tests.
type replyErr string

func (e replyErr) Error() string { return string(e) }
func (replyErr) RedisError()     {}

var (
	wrongType       = replyErr("WRONGTYPE Operation against a key holding the wrong kind of value")
	execAbort       = replyErr("EXECABORT Transaction discarded because of previous errors.")
	arity           = replyErr("ERR wrong number of arguments for 'set' command")
	crossSlot       = replyErr("CROSSSLOT Keys in request don't hash to the same slot")
	wrongPass       = replyErr("WRONGPASS invalid username-password pair or user is disabled.")
	dialErr         = &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	resetErr        = &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	pipeErr         = &net.OpError{Op: "write", Net: "tcp", Err: syscall.EPIPE}
	errLimited      = fmt.Errorf("hooks: limiter: waited 2s: %w", hooks.ErrLimited)
	errMaybeApplied = fmt.Errorf("hooks: incr may have been applied: %w", hooks.ErrMaybeApplied)
	errOpen         = fmt.Errorf("hooks: node 127.0.0.1:7000: %w", hooks.ErrCircuitOpen)
)

// gaveUp is an error like the one redisguard's Retry returns when a later
// attempt was refused after an earlier one may have run.
type gaveUp struct{ last error }

func (e gaveUp) Error() string        { return "hooks: pipeline may have been applied: " + e.last.Error() }
func (e gaveUp) Unwrap() error        { return e.last }
func (e gaveUp) Is(target error) bool { return target == hooks.ErrMaybeApplied }

// neverSent is like the error redisguard's Retry returns when no attempt
// left the client.
type neverSent struct{ last error }

func (e neverSent) Error() string        { return "hooks: pipeline not sent: " + e.last.Error() }
func (e neverSent) Unwrap() error        { return e.last }
func (e neverSent) Is(target error) bool { return target == hooks.ErrNotSent }

// waitOver is like the Limiter's error when the context ended while the
// command waited for a permit.
type waitOver struct{ cause error }

func (e waitOver) Error() string        { return "hooks: limiter: context ended: " + e.cause.Error() }
func (e waitOver) Unwrap() error        { return e.cause }
func (e waitOver) Is(target error) bool { return target == hooks.ErrNotSent }

var (
	errWaitOver = waitOver{context.DeadlineExceeded}
	// dialTimeout is a dial that hit its own timeout, as a retry hook that
	// calls it not sent returns it.
	dialTimeout = neverSent{&net.OpError{Op: "dial", Net: "tcp", Err: context.DeadlineExceeded}}
)

// N marks a command that still carries the placeholder (no reply read).
var N = errNoReply

const (
	ok = cmdOK
	rj = cmdRejected
	uk = cmdUnknown
	ns = cmdNotSent
)

func cmdsWith(errs ...error) []redis.Cmder {
	cmds := make([]redis.Cmder, len(errs))
	for i, err := range errs {
		c := redis.NewIntCmd(context.Background(), "rpush", "k", i)
		c.SetErr(err)
		cmds[i] = c
	}
	return cmds
}

// TestClassify checks each reading rule against the command errors go-redis
// v9.23 leaves after each kind of failure (see classify.go).
func TestClassify(t *testing.T) {
	single := target{mode: modeSingle}
	singleRetry := target{mode: modeSingle, resend: true}
	cluster := target{mode: modeCluster}
	clusterRetry := target{mode: modeCluster, resend: true}
	other := target{mode: modeOther, resend: true}
	ring := target{mode: modeRing, resend: true}

	tests := []struct {
		name string
		t    target
		tx   bool
		errs []error
		xerr error
		want []uint8
	}{
		{"success", single, false, []error{nil, nil, nil}, nil, []uint8{ok, ok, ok}},
		{"nil reply is an answer", single, false, []error{nil, redis.Nil}, redis.Nil, []uint8{ok, ok}},
		{"error reply rejects one command", single, false, []error{nil, wrongType, nil}, wrongType, []uint8{ok, rj, ok}},
		{"read fails halfway: replies read before it are written", single, false,
			[]error{io.EOF, io.EOF, io.EOF, N, N}, io.EOF, []uint8{ok, ok, uk, uk, uk}},
		{"read fails halfway after an error reply", single, false,
			[]error{wrongType, resetErr, resetErr, N}, resetErr, []uint8{rj, ok, uk, uk}},
		{"read fails halfway, go-redis retried", singleRetry, false,
			[]error{dialErr, io.EOF, N}, dialErr, []uint8{ok, uk, uk}},
		{"first read fails", single, false, []error{io.EOF, N, N}, io.EOF, []uint8{uk, uk, uk}},
		{"last read fails: boundary unknown", single, false, []error{io.EOF, io.EOF, io.EOF}, io.EOF, []uint8{uk, uk, uk}},
		{"dial error, no retries", single, false, []error{N, N}, dialErr, []uint8{ns, ns}},
		{"dial error, go-redis may have retried", singleRetry, false, []error{N, N}, dialErr, []uint8{uk, uk}},
		{"pool timeout", single, false, []error{N, N}, redis.ErrPoolTimeout, []uint8{ns, ns}},
		{"client closed", single, false, []error{N, N}, redis.ErrClosed, []uint8{ns, ns}},
		{"limiter refused", singleRetry, false, []error{N, N}, errLimited, []uint8{ns, ns}},
		{"breaker open", singleRetry, false, []error{N, N}, errOpen, []uint8{ns, ns}},
		{"handshake rejected", single, false, []error{N, N}, wrongPass, []uint8{ns, ns}},
		{"handshake rejected, go-redis may have retried", singleRetry, false, []error{N, N}, wrongPass, []uint8{uk, uk}},
		{"write failed", single, false, []error{N, N}, pipeErr, []uint8{uk, uk}},
		{"refused after an attempt that may have run", single, false, []error{nil, nil}, gaveUp{errLimited}, []uint8{uk, uk}},
		{"dial error after an attempt that may have run", single, false, []error{nil, nil}, gaveUp{dialErr}, []uint8{uk, uk}},
		{"tx dial error after an attempt that may have run", single, true, []error{dialErr}, gaveUp{dialErr}, []uint8{uk}},
		{"cluster refused after an attempt that may have run", cluster, false,
			[]error{nil, gaveUp{errLimited}}, gaveUp{errLimited}, []uint8{ok, uk}},
		{"placeholders cleared, then refused", single, false, []error{nil, nil}, errOpen, []uint8{ns, ns}},
		{"placeholders cleared, then refused, go-redis may have retried", singleRetry, false, []error{nil, nil}, errOpen, []uint8{uk, uk}},
		{"placeholders cleared, then a dial error", single, false, []error{dialErr, dialErr}, dialErr, []uint8{ns, ns}},
		{"retry hook: never sent", single, false, []error{syscall.ECONNREFUSED, syscall.ECONNREFUSED}, neverSent{syscall.ECONNREFUSED}, []uint8{ns, ns}},
		{"never sent but go-redis may have retried", singleRetry, false, []error{N, N}, neverSent{syscall.ECONNREFUSED}, []uint8{uk, uk}},
		{"cluster node failure after an attempt that may have run", cluster, false,
			[]error{nil, dialErr}, gaveUp{dialErr}, []uint8{ok, uk}},
		{"placeholders cleared, then a read failed", single, false,
			[]error{io.EOF, wrongType, io.EOF}, io.EOF, []uint8{uk, rj, uk}},
		{"pipeline ok but a placeholder left", single, false, []error{nil, N}, nil, []uint8{ok, uk}},

		{"tx success", single, true, []error{nil, nil}, nil, []uint8{ok, ok}},
		{"tx runtime error inside EXEC", single, true, []error{nil, wrongType, nil}, wrongType, []uint8{ok, rj, ok}},
		{"tx EXECABORT", single, true, []error{execAbort, arity, execAbort}, execAbort, []uint8{rj, rj, rj}},
		{"tx refused by a hook", single, true, []error{nil, nil}, errLimited, []uint8{ns, ns}},
		{"tx handshake rejected", single, true, []error{nil, nil}, wrongPass, []uint8{ns, ns}},
		{"tx dial error (retries are safe for MULTI)", singleRetry, true, []error{dialErr, dialErr}, dialErr, []uint8{ns, ns}},
		{"tx read failed after send", single, true, []error{io.EOF, io.EOF}, io.EOF, []uint8{uk, uk}},
		{"tx EXEC reply partly read", single, true, []error{resetErr, resetErr, resetErr}, resetErr, []uint8{uk, uk, uk}},

		{"cluster success", cluster, false, []error{nil, nil}, nil, []uint8{ok, ok}},
		{"cluster one node fails mid-read", cluster, false,
			[]error{nil, io.EOF, nil, io.EOF}, io.EOF, []uint8{ok, uk, ok, uk}},
		{"cluster node refused, no redirects", cluster, false,
			[]error{nil, errLimited, nil, errLimited}, errLimited, []uint8{ok, ns, ok, ns}},
		// A refusal by the hooks is certain with redirects on too: the node
		// guard Attach adds gives a command an earlier send may have applied
		// ErrMaybeApplied instead.
		{"cluster node refused, redirects on", clusterRetry, false,
			[]error{nil, errLimited, nil, errLimited}, errLimited, []uint8{ok, ns, ok, ns}},
		{"cluster node refused after a send that may have applied", clusterRetry, false,
			[]error{nil, errMaybeApplied, nil, errLimited}, errMaybeApplied, []uint8{ok, uk, ok, uk}},
		{"cluster refused before routing", clusterRetry, false, []error{nil, nil}, errOpen, []uint8{ns, ns}},
		{"cluster tx cross slot", cluster, true, []error{crossSlot, crossSlot}, crossSlot, []uint8{rj, rj}},
		{"cluster tx dial error", clusterRetry, true, []error{dialErr, dialErr}, dialErr, []uint8{ns, ns}},
		{"cluster tx read failed", cluster, true, []error{io.EOF, io.EOF}, io.EOF, []uint8{uk, uk}},
		{"cluster wrong type", cluster, false, []error{nil, wrongType}, wrongType, []uint8{ok, rj}},

		{"other success", other, false, []error{nil, nil}, nil, []uint8{ok, ok}},
		{"other error reply: the rest is not known", other, false, []error{nil, wrongType}, wrongType, []uint8{uk, rj}},
		{"other failure: only error replies known", other, false,
			[]error{nil, wrongType, io.EOF}, io.EOF, []uint8{uk, rj, uk}},
		{"other refused", other, false, []error{nil, nil}, errLimited, []uint8{uk, uk}},

		{"limiter wait ended by the context", single, false, []error{errWaitOver, errWaitOver}, errWaitOver, []uint8{ns, ns}},
		{"limiter wait ended by the context, before go-redis", singleRetry, false, []error{N, N}, errWaitOver, []uint8{ns, ns}},
		{"limiter wait cancelled", single, false, []error{N, N}, waitOver{context.Canceled}, []uint8{ns, ns}},
		{"limiter wait ended after an attempt that may have run", single, false,
			[]error{errWaitOver, errWaitOver}, gaveUp{errWaitOver}, []uint8{uk, uk}},
		{"dial timeout called not sent, go-redis may have retried", singleRetry, false, []error{N, N}, dialTimeout, []uint8{uk, uk}},
		{"tx limiter wait ended by the context", single, true, []error{errWaitOver, errWaitOver}, errWaitOver, []uint8{ns, ns}},
		{"cluster limiter wait ended before routing", clusterRetry, false, []error{nil, nil}, errWaitOver, []uint8{ns, ns}},

		{"ring success", ring, false, []error{nil, nil}, nil, []uint8{ok, ok}},
		{"ring node refused", ring, false, []error{errLimited, errOpen, errWaitOver}, errLimited, []uint8{ns, ns, ns}},
		{"ring one node refused, another failed mid-read", ring, false,
			[]error{nil, errOpen, io.EOF, wrongType}, errOpen, []uint8{uk, ns, uk, rj}},
		{"ring refused after an attempt that may have run", ring, false,
			[]error{errLimited, errLimited}, gaveUp{errLimited}, []uint8{uk, uk}},
		{"ring refused before routing", ring, false, []error{nil, nil}, errOpen, []uint8{ns, ns}},
		{"ring dial error", ring, false, []error{dialErr, dialErr}, dialErr, []uint8{uk, uk}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := make([]uint8, len(tc.errs))
			tc.t.classify(cmdsWith(tc.errs...), tc.xerr, tc.tx, out)
			if !slices.Equal(out, tc.want) {
				t.Fatalf("got %v, want %v (1 ok, 2 rejected, 3 unknown, 4 not sent)", out, tc.want)
			}
		})
	}
}

func TestItemOutcome(t *testing.T) {
	tests := []struct {
		name   string
		out    []uint8
		status uint8
		rej    int
		broken bool
	}{
		{"no command", nil, itemWritten, -1, false},
		{"all answered", []uint8{ok, ok}, itemWritten, -1, false},
		{"rejected", []uint8{rj}, itemNotWritten, 0, false},
		{"rejected and not sent", []uint8{rj, ns}, itemNotWritten, 0, true},
		{"not sent", []uint8{ns, ns}, itemNotWritten, -1, true},
		{"partly applied", []uint8{ok, rj}, itemUnknown, 1, false},
		{"unknown wins", []uint8{ok, uk, rj}, itemUnknown, 2, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, rej, brk := itemOutcome(tc.out)
			if st != tc.status || rej != tc.rej || brk != tc.broken {
				t.Fatalf("got (%d, %d, %v), want (%d, %d, %v)", st, rej, brk, tc.status, tc.rej, tc.broken)
			}
		})
	}
}

func TestTargetOf(t *testing.T) {
	def := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer def.Close()
	noRetry := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer noRetry.Close()
	cl := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}, MaxRedirects: -1})
	defer cl.Close()
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	defer ring.Close()

	tests := []struct {
		name string
		c    Client
		want target
	}{
		{"client with go-redis retries", def, target{mode: modeSingle, resend: true}},
		{"client without", noRetry, target{mode: modeSingle}},
		{"cluster without redirects", cl, target{mode: modeCluster}},
		{"ring", ring, target{mode: modeRing, resend: true}},
	}
	for _, tc := range tests {
		if got := targetOf(tc.c); got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestOptionsCheck(t *testing.T) {
	for _, o := range []Options{{ChunkSize: -1}, {Parallel: -1}} {
		if err := o.check("Run", true); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	if err := (Options{Parallel: 2}).check("RPush", false); err == nil {
		t.Error("Parallel 2 accepted where not allowed")
	}
	if err := (Options{Parallel: 8, ChunkSize: 1000, Tx: true}).check("Run", true); err != nil {
		t.Errorf("valid options: %v", err)
	}
}

func TestResultHelpers(t *testing.T) {
	r := buildResult([]uint8{itemWritten, itemNotWritten, itemUnknown, itemWritten}, nil)
	if fmt.Sprint(r.Written, r.NotWritten, r.Unknown) != "[0 3] [1] [2]" || r.Len() != 4 || r.Complete() {
		t.Fatalf("got %+v", r)
	}
	if got := Pick([]string{"a", "b", "c", "d"}, r.Written); fmt.Sprint(got) != "[a d]" {
		t.Fatalf("Pick: %v", got)
	}
	if !(Result{Written: []int{0}}).Complete() {
		t.Fatal("all written is not complete")
	}
	e := ItemError{Index: 7, Err: wrongType}
	if !errors.Is(fmt.Errorf("x: %w", e), wrongType) || e.Error() != "item 7: "+wrongType.Error() {
		t.Fatalf("ItemError: %v", e)
	}
}
