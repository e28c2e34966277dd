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
// the cost of the metrics, measured side by side in one run. route=meter
// records the durations through the meter provider's histogram (no
// Options.Producer), route=producer into a Producer the reader is given.
//
//	go test -run '^$' -bench GuardedSet ./
func BenchmarkGuardedSet(b *testing.B) {
	addr := startRedis(b)
	for _, route := range []string{"meter", "producer"} {
		b.Run("route="+route, func(b *testing.B) {
			pairbench.GuardedSet(b, addr, func(pc *profiles.Client) func() {
				var opt redisguardotel.Options
				var ropts []sdkmetric.ManualReaderOption
				if route == "producer" {
					opt.Producer = redisguardotel.NewProducer()
					ropts = append(ropts, sdkmetric.WithProducer(opt.Producer))
				}
				opt.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader(ropts...)))
				inst, err := redisguardotel.Instrument(pc, opt)
				if err != nil {
					b.Fatal(err)
				}
				return func() {
					_ = inst.Close()
					_ = opt.MeterProvider.(*sdkmetric.MeterProvider).Shutdown(context.Background())
				}
			})
		})
	}
}
