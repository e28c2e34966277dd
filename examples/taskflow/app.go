package main

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"

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
// the "redis_worker" one. cfgs, when not nil, are supplied (the embedded
// server, the outage relay); otherwise fxmodule reads them from the
// environment.
func newApp(cfgs *fxmodule.Configs, o options, logger *slog.Logger, dst *parts) (*fx.App, error) {
	opts := []fx.Option{
		fx.NopLogger,
		fx.Supply(o, logger),
		fx.Supply(fxmodule.Options{Logger: logger}),
		fxmodule.Module,
		fx.Provide(provideAPI, provideWorkers),
		fx.Invoke(func(p parts) { *dst = p }),
	}
	if cfgs != nil {
		opts = append(opts, fx.Supply(*cfgs))
	}
	app := fx.New(opts...)
	return app, app.Err()
}

// newSplitApp wires one side of taskflow as a process of its own: "api"
// on fxmodule.APIModule (the API client, its monitor, the health handler),
// "worker" on fxmodule.WorkerModule (the Worker client, its monitor). Both
// read their configuration from the environment.
func newSplitApp(mode string, o options, logger *slog.Logger, api **API, workers **Workers) (*fx.App, error) {
	opts := []fx.Option{
		fx.NopLogger,
		fx.Supply(o, logger),
		fx.Supply(fxmodule.Options{Logger: logger}),
	}
	switch mode {
	case "api":
		opts = append(opts, fxmodule.APIModule, fx.Provide(provideAPI), fx.Invoke(func(a *API) { *api = a }))
	case "worker":
		opts = append(opts, fxmodule.WorkerModule, fx.Provide(provideWorkers),
			// The monitor runs once something asks for it: the worker has
			// no HTTP server, so it asks here, to log the pool's health.
			fx.Invoke(fx.Annotate(func(w *Workers, _ *health.Monitor) { *workers = w }, fx.ParamTags(``, `name:"redis_worker"`))))
	default:
		return nil, fmt.Errorf("unknown mode %q (want api or worker)", mode)
	}
	app := fx.New(opts...)
	return app, app.Err()
}
