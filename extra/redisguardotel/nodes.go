package redisguardotel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/profiles"
)

// listTimeout bounds the topology query that lists a ClusterClient's
// existing node clients.
const listTimeout = 10 * time.Second

// unwrap returns the go-redis client behind a *profiles.Client, or behind
// a wrapper with a method Unwrap() redis.UniversalClient; rdb otherwise.
func unwrap(rdb redis.UniversalClient) redis.UniversalClient {
	for range 32 {
		switch c := rdb.(type) {
		case *profiles.Client:
			rdb = c.UniversalClient
		case interface{ Unwrap() redis.UniversalClient }:
			rdb = c.Unwrap()
		default:
			return rdb
		}
	}
	return rdb
}

// nodeSet keeps the node clients of a client and adds a hook to each once.
type nodeSet struct {
	mk func(*redis.Client) redis.Hook

	mu     sync.Mutex
	nodes  map[*redis.Client]bool
	order  []*redis.Client
	closed bool
}

func newNodeSet(rdb redis.UniversalClient, mk func(*redis.Client) redis.Hook) (*nodeSet, error) {
	s := &nodeSet{mk: mk, nodes: make(map[*redis.Client]bool)}
	switch c := rdb.(type) {
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
		return nil, fmt.Errorf("redisguardotel: unsupported client type %T", rdb)
	}
	return s, nil
}

func (s *nodeSet) add(c *redis.Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.nodes[c] {
		return
	}
	s.nodes[c] = true
	s.order = append(s.order, c)
	c.AddHook(s.mk(c))
}

func (s *nodeSet) list() []*redis.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*redis.Client(nil), s.order...)
}

func (s *nodeSet) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}

// nodeAttrs are base plus server.address and server.port of a node
// address; an empty address (a hook added without Attach) adds nothing.
func nodeAttrs(addr string, base []attribute.KeyValue) []attribute.KeyValue {
	kv := append(make([]attribute.KeyValue, 0, len(base)+3), base...)
	if addr == "" {
		return kv
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return append(kv, attribute.String("server.address", addr))
	}
	kv = append(kv, attribute.String("server.address", host))
	if p, err := strconv.Atoi(port); err == nil {
		kv = append(kv, attribute.Int("server.port", p))
	}
	return kv
}

// maxOperationNames bounds the attribute sets a duration hook keeps: past
// it, a new command name is reported as "_OTHER".
const maxOperationNames = 512

// durationHook records db.client.operation.duration on one node client.
type durationHook struct {
	hist metric.Float64Histogram
	base []attribute.KeyValue
	sets sync.Map // setKey -> []metric.RecordOption
	n    int64
	mu   sync.Mutex
}

type setKey struct{ op, errType string }

var _ redis.Hook = (*durationHook)(nil)

func newDurationHook(hist metric.Float64Histogram, opt *redis.Options, attrs []attribute.KeyValue) *durationHook {
	base := append([]attribute.KeyValue{attribute.String("db.system.name", "redis")}, nodeAttrs(opt.Addr, attrs)...)
	base = append(base, attribute.String("db.namespace", strconv.Itoa(opt.DB)))
	return &durationHook{hist: hist, base: base}
}

// opts returns the options of a measurement, made once per operation and
// error type: a slice passed as it is costs no allocation per command.
func (h *durationHook) opts(op, errType string) []metric.RecordOption {
	k := setKey{op, errType}
	if v, ok := h.sets.Load(k); ok {
		return v.([]metric.RecordOption)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if v, ok := h.sets.Load(k); ok {
		return v.([]metric.RecordOption)
	}
	name := operationName(op)
	if h.n >= maxOperationNames {
		// Past the bound every new name shares one entry per error type,
		// found under the lock: the memory stays bounded.
		k, name = setKey{"\x00", errType}, "_OTHER"
		if v, ok := h.sets.Load(k); ok {
			return v.([]metric.RecordOption)
		}
	}
	kv := append(append(make([]attribute.KeyValue, 0, len(h.base)+2), h.base...),
		attribute.String("db.operation.name", name))
	if errType != "" {
		kv = append(kv, attribute.String("error.type", errType))
	}
	o := []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(kv...))}
	h.sets.Store(k, o)
	h.n++
	return o
}

// DialHook returns next: dials are not operations.
func (h *durationHook) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook times one command.
func (h *durationHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if isHandshake(cmd) {
			return next(ctx, cmd)
		}
		start := time.Now()
		err := next(ctx, cmd)
		h.hist.Record(ctx, time.Since(start).Seconds(), h.opts(cmd.Name(), errorType(err))...)
		return err
	}
}

// ProcessPipelineHook times a pipeline (PIPELINE) or a transaction (MULTI).
func (h *durationHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if allHandshake(cmds) {
			return next(ctx, cmds)
		}
		start := time.Now()
		err := next(ctx, cmds)
		op := "pipeline"
		if len(cmds) >= 2 && cmds[0].Name() == "multi" && cmds[len(cmds)-1].Name() == "exec" {
			op = "multi"
		}
		h.hist.Record(ctx, time.Since(start).Seconds(), h.opts(op, errorType(err))...)
		return err
	}
}

// isHandshake reports a command go-redis sends to set up a new connection
// (HELLO, AUTH, SELECT, READONLY, CLIENT SETNAME/SETINFO/...): it runs
// nested in the operation that needed the connection, and is timed with it.
func isHandshake(cmd redis.Cmder) bool {
	args := cmd.Args()
	if len(args) == 0 {
		return false
	}
	name, _ := args[0].(string)
	switch name {
	case "hello", "auth", "select", "readonly":
		return true
	case "client":
		if len(args) > 1 {
			sub, _ := args[1].(string)
			switch sub {
			case "setname", "setinfo", "tracking", "maint_notifications":
				return true
			}
		}
	}
	return false
}

// allHandshake reports a batch made only of handshake commands.
func allHandshake(cmds []redis.Cmder) bool {
	for _, c := range cmds {
		if !isHandshake(c) {
			return false
		}
	}
	return len(cmds) > 0
}

// operationName is a command name as db.operation.name: upper case.
func operationName(cmd string) string { return strings.ToUpper(cmd) }

// errorType is err as a low-cardinality error.type: the prefix of an error
// reply (WRONGTYPE, LOADING, ...), a few client-side kinds, or _OTHER. It
// is "" for no error and for redis.Nil, which is an answer.
func errorType(err error) string {
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
