package redisguardotel_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/redisguard/redisguard/extra/redisguardotel"
	"github.com/redisguard/redisguard/fxmodule"
	"github.com/redisguard/redisguard/profiles"
)

// With a MeterProvider supplied, Module instruments both clients of the
// redisguard fx module, each with its redisguard.client attribute; with a
// Producer supplied too (route=producer), the durations go through it.
func TestModuleInstrumentsTheFxClients(t *testing.T) {
	addr := startRedis(t)
	at := func(c profiles.Config) profiles.Config { c.Addr = addr; return c }
	for _, route := range []string{"meter", "producer"} {
		t.Run("route="+route, func(t *testing.T) {
			errs := handled(t)
			opts := []fx.Option{fx.NopLogger,
				fx.Supply(fxmodule.Configs{API: at(profiles.API()), Worker: at(profiles.Worker())}),
				fxmodule.Module, redisguardotel.Module}
			var ropts []sdkmetric.ManualReaderOption
			if route == "producer" {
				p := redisguardotel.NewProducer()
				ropts = append(ropts, sdkmetric.WithProducer(p))
				opts = append(opts, fx.Supply(p))
			}
			reader := sdkmetric.NewManualReader(ropts...)
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
			defer mp.Shutdown(context.Background())
			var api redis.UniversalClient
			app := fxtest.New(t, append(opts, fx.Provide(func() metric.MeterProvider { return mp }),
				fx.Populate(fx.Annotate(&api, fx.ParamTags(`name:"redis_api"`))))...)
			app.RequireStart()
			defer app.RequireStop()
			if err := api.Set(context.Background(), "k", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				ms := collect(t, reader)
				node := hostPort(t, addr)
				for _, side := range []string{"api", "worker"} {
					expect(t, ms, "redisguard.breaker.state", 1,
						with(node, str("redisguard.client", side), str("redisguard.breaker.state", "closed"))...)
				}
				expect(t, ms, "db.client.operation.duration", 1, with(node, str("redisguard.client", "api"),
					str("db.system.name", "redis"), str("db.namespace", "0"), str("db.operation.name", "SET"))...)
			}
			if n := notCollected(errs()); n != 0 {
				t.Errorf("%d ErrProducerNotCollected reported", n)
			}
		})
	}
}
