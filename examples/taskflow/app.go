package main

import (
	"log/slog"
	"net/http"

	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"

	"github.com/redisguard/redisguard/examples/internal/exampleredis"
	"github.com/redisguard/redisguard/fxmodule"
	"github.com/redisguard/redisguard/health"
	"github.com/redisguard/redisguard/profiles"
)

// parts are the pieces of the running app the demo reads.
type parts struct {
	fx.In

	API           *API
	Workers       *Workers
	APIClient     *profiles.Client `name:"redis_api_client"`
	WorkerClient  *profiles.Client `name:"redis_worker_client"`
	APIMonitor    *health.Monitor  `name:"redis_api"`
	WorkerMonitor *health.Monitor  `name:"redis_worker"`
}

type apiParams struct {
	fx.In

	Lifecycle fx.Lifecycle
	Client    redis.UniversalClient `name:"redis_api"`
	Health    http.Handler          `name:"redis_health"`
	Options   options
	Logger    *slog.Logger
}

func provideAPI(p apiParams) *API {
	a := newAPI(p.Client, p.Health, keys{p.Options.prefix}, p.Options.addr, p.Logger)
	p.Lifecycle.Append(fx.Hook{OnStart: a.Start, OnStop: a.Stop})
	return a
}

type workersParams struct {
	fx.In

	Lifecycle fx.Lifecycle
	Client    redis.UniversalClient `name:"redis_worker"`
	Options   options
	Logger    *slog.Logger
}

func provideWorkers(p workersParams) (*Workers, error) {
	w, err := newWorkers(p.Client, keys{p.Options.prefix}, p.Options.workers, p.Logger)
	if err != nil {
		return nil, err
	}
	p.Lifecycle.Append(fx.Hook{OnStart: w.Start, OnStop: w.Stop})
	return w, nil
}

// newApp wires taskflow: fxmodule gives the two clients, their monitors and
// the health handler; the API uses the "redis_api" client and the workers
// the "redis_worker" one. On the embedded server the configs are supplied;
// on a real one fxmodule reads them from the environment.
func newApp(target *exampleredis.Target, o options, logger *slog.Logger, dst *parts) (*fx.App, error) {
	opts := []fx.Option{
		fx.NopLogger,
		fx.Supply(o, logger),
		fx.Supply(fxmodule.Options{Logger: logger}),
		fxmodule.Module,
		fx.Provide(provideAPI, provideWorkers),
		fx.Invoke(func(p parts) { *dst = p }),
	}
	if target.Embedded {
		cfgs, err := target.Configs()
		if err != nil {
			return nil, err
		}
		opts = append(opts, fx.Supply(cfgs))
	}
	app := fx.New(opts...)
	return app, app.Err()
}
