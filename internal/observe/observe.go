// Package observe holds what the metrics adapters in extra/ share: the
// node clients of a client, each with a hook added once; a hook that times
// each operation on a node; and the low-cardinality names an operation and
// an error are reported under. The adapters' own packages only map these to
// OpenTelemetry instruments or Prometheus collectors.
package observe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/handshake"
)

// listTimeout bounds the topology query that lists a ClusterClient's
// existing node clients.
const listTimeout = 10 * time.Second

// Nodes keeps the node clients of a client and adds a hook to each once.
type Nodes struct {
	mk func(*redis.Client) redis.Hook

	mu     sync.Mutex
	nodes  map[*redis.Client]bool
	order  []*redis.Client
	closed bool
}

// NewNodes finds the node clients of rdb (itself for a *redis.Client; the
// nodes of a ClusterClient or Ring, those that exist now and those go-redis
// creates later; a wrapper is read through hooks.Unwrap) and adds mk(node)
// to each. pkg names the caller in errors.
func NewNodes(pkg string, rdb redis.UniversalClient, mk func(*redis.Client) redis.Hook) (*Nodes, error) {
	s := &Nodes{mk: mk, nodes: make(map[*redis.Client]bool)}
	switch c := hooks.Unwrap(rdb).(type) {
	case *redis.Client:
		s.add(c)
	case *redis.ClusterClient:
		c.OnNewNode(s.add)
		ctx, cancel := context.WithTimeout(context.Background(), listTimeout)
		defer cancel()
		// Nodes it cannot list now get the hook when go-redis creates them.
		_ = c.ForEachShard(ctx, func(_ context.Context, n *redis.Client) error { s.add(n); return nil })
	case *redis.Ring:
		c.OnNewNode(s.add)
		_ = c.ForEachShard(context.Background(), func(_ context.Context, n *redis.Client) error { s.add(n); return nil })
	default:
		return nil, fmt.Errorf("%s: unsupported client type %T", pkg, rdb)
	}
	return s, nil
}

func (s *Nodes) add(c *redis.Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.nodes[c] {
		return
	}
	s.nodes[c] = true
	s.order = append(s.order, c)
	c.AddHook(s.mk(c))
}

// List returns the node clients found so far, in the order they were found.
func (s *Nodes) List() []*redis.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*redis.Client(nil), s.order...)
}

// Close stops adding hooks to new node clients (a hook already added stays:
// go-redis cannot remove one).
func (s *Nodes) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}

// MaxOperationNames bounds the series a Timer keeps per node: past it, a
// new command name is reported as "_OTHER".
const MaxOperationNames = 512

// Timer is a redis.Hook that times each command, pipeline (PIPELINE) and
// transaction (MULTI) on one node client, handshakes excepted (they run
// nested in the operation that needed the connection, and are timed with
// it). For each operation name and error type it makes a series once, with
// Series, and then hands every duration to Record with that series, so
// that recording allocates nothing.
type Timer[S any] struct {
	// Series makes the series of an operation name (upper case, or
	// "_OTHER") and an error type ("" for none).
	Series func(op, errType string) S
	// Record records one duration.
	Record func(ctx context.Context, s S, d time.Duration)

	// sets is read without a lock and replaced, copied, under mu when an
	// entry is added: after the first commands, a lookup is one map read.
	sets atomic.Pointer[map[setKey]S]
	mu   sync.Mutex
}

type setKey struct{ op, errType string }

var _ redis.Hook = (*Timer[int])(nil)

// epoch is the origin the Timer reads durations from: time.Since(epoch)
// reads only the monotonic clock, where time.Now reads the wall clock too
// (as costly again on some virtual machines).
var epoch = time.Now()

func (t *Timer[S]) series(op, errType string) S {
	k := setKey{op, errType}
	if m := t.sets.Load(); m != nil {
		if s, ok := (*m)[k]; ok {
			return s
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var old map[setKey]S
	if m := t.sets.Load(); m != nil {
		old = *m
	}
	if s, ok := old[k]; ok {
		return s
	}
	name := OperationName(op)
	if len(old) >= MaxOperationNames {
		// Past the bound every new name shares one entry per error type,
		// found under the lock: the memory stays bounded.
		k, name = setKey{"\x00", errType}, "_OTHER"
		if s, ok := old[k]; ok {
			return s
		}
	}
	s := t.Series(name, errType)
	m := make(map[setKey]S, len(old)+1)
	maps.Copy(m, old)
	m[k] = s
	t.sets.Store(&m)
	return s
}

// DialHook returns next: dials are not operations.
func (t *Timer[S]) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook times one command.
func (t *Timer[S]) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if handshake.Is(cmd) {
			return next(ctx, cmd)
		}
		start := time.Since(epoch)
		err := next(ctx, cmd)
		t.Record(ctx, t.series(cmd.Name(), ErrorType(err)), time.Since(epoch)-start)
		return err
	}
}

// ProcessPipelineHook times a pipeline (PIPELINE) or a transaction (MULTI).
func (t *Timer[S]) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if handshake.All(cmds) {
			return next(ctx, cmds)
		}
		start := time.Since(epoch)
		err := next(ctx, cmds)
		op := "pipeline"
		if len(cmds) >= 2 && cmds[0].Name() == "multi" && cmds[len(cmds)-1].Name() == "exec" {
			op = "multi"
		}
		t.Record(ctx, t.series(op, ErrorType(err)), time.Since(epoch)-start)
		return err
	}
}

// OperationName is a command name as an operation name: upper case.
func OperationName(cmd string) string { return strings.ToUpper(cmd) }

// ErrorType is err as a low-cardinality error type: the prefix of an error
// reply (WRONGTYPE, LOADING, ...), a few client-side kinds, or _OTHER. It
// is "" for no error and for redis.Nil, which is an answer.
func ErrorType(err error) string {
	if err == nil || errors.Is(err, redis.Nil) {
		return ""
	}
	switch {
	case errors.Is(err, hooks.ErrCircuitOpen):
		return "circuit_open"
	case errors.Is(err, hooks.ErrLimited):
		return "limited"
	case errors.Is(err, redis.ErrPoolTimeout):
		return "pool_timeout"
	case errors.Is(err, redis.ErrClosed):
		return "client_closed"
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		if p := replyPrefix(rerr.Error()); p != "" {
			return p
		}
		return "_OTHER"
	}
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection_refused"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline_exceeded"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, net.ErrClosed), errors.As(err, &ne):
		return "network"
	}
	return "_OTHER"
}

// replyPrefix returns the first word of an error reply when it is an upper
// case code of at most 32 letters (ERR, WRONGTYPE, LOADING, ...), else "".
func replyPrefix(msg string) string {
	w, _, _ := strings.Cut(msg, " ")
	if w == "" || len(w) > 32 {
		return ""
	}
	for i := 0; i < len(w); i++ {
		if c := w[i]; (c < 'A' || c > 'Z') && c != '_' {
			return ""
		}
	}
	return w
}
