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
// redisguard fx module, each with its redisguard.client attribute.
func TestModuleInstrumentsTheFxClients(t *testing.T) {
	addr := startRedis(t)
	at := func(c profiles.Config) profiles.Config { c.Addr = addr; return c }
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	var api redis.UniversalClient
	app := fxtest.New(t, fx.NopLogger,
		fx.Supply(fxmodule.Configs{API: at(profiles.API()), Worker: at(profiles.Worker())}),
		fx.Provide(func() metric.MeterProvider { return mp }),
		fxmodule.Module, redisguardotel.Module,
		fx.Populate(fx.Annotate(&api, fx.ParamTags(`name:"redis_api"`))))
	app.RequireStart()
	defer app.RequireStop()
	if err := api.Set(context.Background(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	ms := collect(t, reader)
	node := hostPort(t, addr)
	for _, side := range []string{"api", "worker"} {
		expect(t, ms, "redisguard.breaker.state", 1,
			with(node, str("redisguard.client", side), str("redisguard.breaker.state", "closed"))...)
	}
	expect(t, ms, "db.client.operation.duration", 1, with(node, str("redisguard.client", "api"),
		str("db.system.name", "redis"), str("db.namespace", "0"), str("db.operation.name", "SET"))...)
}
