package redisguardotel

import (
	"context"
	"net"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/redisguard/redisguard/internal/observe"
)

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

// newDurationHook records db.client.operation.duration on one node client,
// into p when it is not nil, else through hist. Each operation and error
// type gets its attribute set made once, and then its series of p or its
// options for hist: a slice passed as it is costs no allocation per
// command.
func newDurationHook(hist metric.Float64Histogram, p *Producer, opt *redis.Options, attrs []attribute.KeyValue) redis.Hook {
	base := append([]attribute.KeyValue{attribute.String("db.system.name", "redis")}, nodeAttrs(opt.Addr, attrs)...)
	base = append(base, attribute.String("db.namespace", strconv.Itoa(opt.DB)))
	set := func(op, errType string) attribute.Set {
		kv := append(append(make([]attribute.KeyValue, 0, len(base)+2), base...),
			attribute.String("db.operation.name", op))
		if errType != "" {
			kv = append(kv, attribute.String("error.type", errType))
		}
		return attribute.NewSet(kv...)
	}
	if p != nil {
		return &observe.Timer[*series]{
			Series: func(op, errType string) *series { return p.lookup(set(op, errType)) },
			Record: func(_ context.Context, s *series, d time.Duration) { s.record(d) },
		}
	}
	return &observe.Timer[[]metric.RecordOption]{
		Series: func(op, errType string) []metric.RecordOption {
			return []metric.RecordOption{metric.WithAttributeSet(set(op, errType))}
		},
		Record: func(ctx context.Context, o []metric.RecordOption, d time.Duration) {
			hist.Record(ctx, d.Seconds(), o...)
		},
	}
}
