package redisguardotel

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// BenchmarkDurationHook is the duration hook's cost per command, with a
// no-op next and the SDK's meter provider (a manual reader):
//
//	go test -run '^$' -bench DurationHook -benchmem ./
func BenchmarkDurationHook(b *testing.B) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer mp.Shutdown(context.Background())
	in, err := newInstruments(mp.Meter(ScopeName))
	if err != nil {
		b.Fatal(err)
	}
	h := newDurationHook(in.duration, &redis.Options{Addr: "127.0.0.1:6379"}, nil)
	benchHook(b, h.ProcessHook(func(context.Context, redis.Cmder) error { return nil }))
}

func benchHook(b *testing.B, hook redis.ProcessHook) {
	ctx := context.Background()
	cmd := redis.NewStatusCmd(ctx, "set", "k", "v")
	b.ReportAllocs()
	for b.Loop() {
		_ = hook(ctx, cmd)
	}
}
