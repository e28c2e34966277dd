package redisguardotel_test

import (
	"context"
	"log/slog"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/redisguard/redisguard/extra/redisguardotel"
	"github.com/redisguard/redisguard/internal/pairbench"
	"github.com/redisguard/redisguard/profiles"
)

// BenchmarkGuardedSet runs SETs from 32 goroutines on two clients built by
// profiles.NewClient (the API preset's hooks) against one spawned
// redis-server, the second one instrumented, in alternating rounds
// (pairbench.Run): other/base is the cost of the metrics, measured side by
// side in one run.
//
//	go test -run '^$' -bench GuardedSet ./
func BenchmarkGuardedSet(b *testing.B) {
	addr := startRedis(b)
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.DiscardHandler))
	client := func() *profiles.Client {
		cfg := profiles.API()
		cfg.Addr = addr
		pc, err := profiles.NewClient(cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = pc.Close() })
		return pc
	}
	bare, measured := client(), client()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer mp.Shutdown(context.Background())
	inst, err := redisguardotel.Instrument(measured, redisguardotel.Options{MeterProvider: mp})
	if err != nil {
		b.Fatal(err)
	}
	defer inst.Close()
	ctx := context.Background()
	pairbench.Run(b, 32,
		func() error { return bare.Set(ctx, "k", "v", 0).Err() },
		func() error { return measured.Set(ctx, "k", "v", 0).Err() })
}
