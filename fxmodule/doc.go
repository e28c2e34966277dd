// Package fxmodule wires redisguard into an Uber fx application: the
// configuration, the API and Worker clients, their health monitors, the
// health HTTP handler and their lifecycle.
//
// It is thin: what it wires is usable on its own, without fx:
// profiles.NewClient, health.NewMonitor with MonitorOptions, and
// health.NewHandler.
//
// # Modules
//
// Module provides both sides; APIModule and WorkerModule provide one side
// each, for an application that needs only one (use Module, not the two
// together: each provides the health handler).
//
//	app := fx.New(
//		fxmodule.Module,
//		fx.Invoke(fx.Annotate(func(rdb redis.UniversalClient) { ... },
//			fx.ParamTags(`name:"redis_api"`))),
//	)
//
// # What it provides
//
//	type                   name                   what
//	redis.UniversalClient  "redis_api"            the API client (profiles.API preset)
//	redis.UniversalClient  "redis_worker"         the Worker client (profiles.Worker preset)
//	*profiles.Client       "redis_api_client"     the API client with its Hooks and Config
//	*profiles.Client       "redis_worker_client"  the Worker client with its Hooks and Config
//	profiles.Config        "redis_api"            the API client's configuration, defaults filled in
//	profiles.Config        "redis_worker"         the Worker client's configuration, defaults filled in
//	*health.Monitor        "redis_api"            the API client's monitor
//	*health.Monitor        "redis_worker"         the Worker client's monitor
//	http.Handler           "redis_health"         /health and /pool-stats for both monitors (health.NewHandler)
//
// fx builds a value only when something asks for it: an application that
// asks only for "redis_api" gets no Worker client and no monitor. The
// monitors run once the health handler, or the application, asks for them.
//
// # What it takes
//
// All optional:
//
//   - Configs: the two clients' profiles.Config. Without it, each side is
//     read from the environment with profiles.FromEnv on its preset
//     (REDIS_URL, REDIS_MAX_CONNECTIONS, WORKER_REDIS_MAX_CONNECTIONS, ...;
//     see package profiles). Supply it with fx.Supply, or override one with
//     fx.Replace.
//   - Options: the PING bound at start, whether to start without Redis, the
//     monitors' template options, the logger.
//   - redis.Hook values in the group "redis_hooks" (both clients),
//     "redis_api_hooks" or "redis_worker_hooks" (one client). They run
//     outermost, before the redisguard hooks.
//
// A hook joins the group like this:
//
//	fx.Provide(fx.Annotate(newTracingHook, fx.As(new(redis.Hook)),
//		fx.ResultTags(`group:"redis_hooks"`)))
//
// # Lifecycle
//
// OnStart, for each client, sends one PING bounded by Options.PingTimeout
// (DefaultPingTimeout, 5 s) and fails the start with an error naming the
// client and the address it tried if Redis does not answer, unless
// Options.StartWithoutRedis is set; then each monitor starts (its checks
// run on its own goroutine). OnStop stops the monitors, then closes the
// clients: fx stops in the reverse order of construction, so anything built
// on a client (a worker pool, an HTTP server) stops before the client is
// closed. No hook blocks beyond the bounded PING and the monitors' Stop,
// and the module adds no fx.Invoke of its own.
package fxmodule
