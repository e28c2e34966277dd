package redisguardotel

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// BenchmarkDurationHook is the duration hook's cost per command, with a
// no-op next, recording through the SDK's meter provider (a manual reader)
// and into a Producer, next to the SDK's own cost of the one Record the
// first makes (the same attribute set, made once):
//
//	go test -run '^$' -bench DurationHook -benchmem ./
func BenchmarkDurationHook(b *testing.B) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer mp.Shutdown(context.Background())
	in, err := newInstruments(mp.Meter(ScopeName))
	if err != nil {
		b.Fatal(err)
	}
	opt := &redis.Options{Addr: "127.0.0.1:6379"}
	ctx := context.Background()
	cmd := redis.NewStatusCmd(ctx, "set", "k", "v")
	b.Run("meter", func(b *testing.B) {
		hook := newDurationHook(in.duration, nil, opt, nil).ProcessHook(func(context.Context, redis.Cmder) error { return nil })
		b.ReportAllocs()
		for b.Loop() {
			_ = hook(ctx, cmd)
		}
	})
	b.Run("producer", func(b *testing.B) {
		hook := newDurationHook(in.duration, NewProducer(), opt, nil).ProcessHook(func(context.Context, redis.Cmder) error { return nil })
		b.ReportAllocs()
		for b.Loop() {
			_ = hook(ctx, cmd)
		}
	})
	b.Run("sdk-record", func(b *testing.B) {
		kv := append([]attribute.KeyValue{attribute.String("db.system.name", "redis")}, nodeAttrs(opt.Addr, nil)...)
		kv = append(kv, attribute.String("db.namespace", "0"), attribute.String("db.operation.name", "SET"))
		o := []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(kv...))}
		b.ReportAllocs()
		for b.Loop() {
			in.duration.Record(ctx, 0.001, o...)
		}
	})
}
