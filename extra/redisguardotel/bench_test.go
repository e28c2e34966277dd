package redisguardotel_test

import (
	"context"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/redisguard/redisguard/extra/redisguardotel"
	"github.com/redisguard/redisguard/internal/pairbench"
	"github.com/redisguard/redisguard/profiles"
)

// BenchmarkGuardedSet is pairbench.GuardedSet with the second client
// instrumented (the SDK's meter provider, a manual reader): other/base is
// the cost of the metrics, measured side by side in one run.
//
//	go test -run '^$' -bench GuardedSet ./
func BenchmarkGuardedSet(b *testing.B) {
	pairbench.GuardedSet(b, startRedis(b), func(pc *profiles.Client) func() {
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		inst, err := redisguardotel.Instrument(pc, redisguardotel.Options{MeterProvider: mp})
		if err != nil {
			b.Fatal(err)
		}
		return func() {
			_ = inst.Close()
			_ = mp.Shutdown(context.Background())
		}
	})
}
