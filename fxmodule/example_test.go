package fxmodule_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"

	"github.com/redisguard/redisguard/fxmodule"
	"github.com/redisguard/redisguard/health"
	"github.com/redisguard/redisguard/profiles"
)

// The examples run on an in-process miniredis so their output can be
// checked; a real application leaves Configs out and sets REDIS_URL.
func embeddedConfigs() (*miniredis.Miniredis, fxmodule.Configs) {
	mr, err := miniredis.Run()
	if err != nil {
		panic(err)
	}
	api, worker := profiles.API(), profiles.Worker()
	api.Addr, worker.Addr = mr.Addr(), mr.Addr()
	return mr, fxmodule.Configs{API: api, Worker: worker}
}

func ExampleModule() {
	mr, cfgs := embeddedConfigs()
	defer mr.Close()

	type clients struct {
		fx.In
		API    redis.UniversalClient `name:"redis_api"`
		Worker redis.UniversalClient `name:"redis_worker"`
	}
	var c clients
	app := fx.New(
		fx.NopLogger,
		fx.Supply(cfgs), // without it, both configs come from the environment
		fxmodule.Module,
		fx.Invoke(func(got clients) { c = got }),
	)
	ctx := context.Background()
	if err := app.Start(ctx); err != nil { // PINGs both clients first
		panic(err)
	}
	defer app.Stop(ctx) // stops the monitors, closes the clients

	c.API.Set(ctx, "greeting", "hello", 0)
	fmt.Println(c.Worker.Get(ctx, "greeting").Val())
	// Output: hello
}

// keyLogger is a redis.Hook that prints the commands sent on one key.
type keyLogger struct{ key string }

func (k keyLogger) DialHook(next redis.DialHook) redis.DialHook { return next }

func (k keyLogger) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if args := cmd.Args(); len(args) > 1 && args[1] == k.key {
			fmt.Println("hook saw:", cmd.Name(), k.key)
		}
		return next(ctx, cmd)
	}
}

func (k keyLogger) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func ExampleModule_hooks() {
	mr, cfgs := embeddedConfigs()
	defer mr.Close()

	var api redis.UniversalClient
	app := fx.New(
		fx.NopLogger,
		fx.Supply(cfgs),
		// A hook in the "redis_hooks" group goes on both clients, outermost.
		fx.Provide(fx.Annotate(func() redis.Hook { return keyLogger{"greeting"} },
			fx.ResultTags(`group:"redis_hooks"`))),
		fxmodule.Module,
		fx.Invoke(fx.Annotate(func(c redis.UniversalClient) { api = c }, fx.ParamTags(`name:"redis_api"`))),
	)
	ctx := context.Background()
	if err := app.Start(ctx); err != nil {
		panic(err)
	}
	defer app.Stop(ctx)

	api.Set(ctx, "greeting", "hello", 0)
	// Output: hook saw: set greeting
}

// Without fx: the parts fxmodule wires are plain functions.
func ExampleMonitorOptions() {
	mr, cfgs := embeddedConfigs()
	defer mr.Close()

	api, err := profiles.NewClient(cfgs.API)
	if err != nil {
		panic(err)
	}
	defer api.Close()
	mon, err := health.NewMonitor(api.UniversalClient, fxmodule.MonitorOptions(api, fxmodule.Options{}))
	if err != nil {
		panic(err)
	}
	h := health.NewHandler(mon) // mount it on your mux

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
	fmt.Println(rec.Code, mon.Report().Status)
	// Output: 200 healthy
}
