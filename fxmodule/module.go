package fxmodule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"

	"github.com/redisguard/redisguard/health"
	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/profiles"
)

// Names of the values the module provides, for fx `name:"..."` tags.
const (
	// NameAPI names the API side's redis.UniversalClient, profiles.Config
	// and *health.Monitor.
	NameAPI = "redis_api"
	// NameWorker names the Worker side's redis.UniversalClient,
	// profiles.Config and *health.Monitor.
	NameWorker = "redis_worker"
	// NameAPIClient names the API side's *profiles.Client (the same client,
	// with its Hooks and Config).
	NameAPIClient = "redis_api_client"
	// NameWorkerClient names the Worker side's *profiles.Client.
	NameWorkerClient = "redis_worker_client"
	// NameHealth names the health http.Handler.
	NameHealth = "redis_health"
)

// Value groups that bring extra hooks to the clients. Hooks in a group run
// outermost, before the redisguard hooks; fx does not keep the order of a
// group's values.
const (
	// GroupHooks adds a redis.Hook to both clients.
	GroupHooks = "redis_hooks"
	// GroupAPIHooks adds a redis.Hook to the API client only.
	GroupAPIHooks = "redis_api_hooks"
	// GroupWorkerHooks adds a redis.Hook to the Worker client only.
	GroupWorkerHooks = "redis_worker_hooks"
)

var (
	apiProviders    = side(NameAPI, NameAPIClient, GroupAPIHooks, Configs.APIConfig)
	workerProviders = side(NameWorker, NameWorkerClient, GroupWorkerHooks, Configs.WorkerConfig)
	healthProvider  = fx.Provide(fx.Annotate(
		func(api, worker *health.Monitor) http.Handler { return health.NewHandler(api, worker) },
		fx.ParamTags(`name:"`+NameAPI+`" optional:"true"`, `name:"`+NameWorker+`" optional:"true"`),
		fx.ResultTags(`name:"`+NameHealth+`"`)))
)

// Module provides both sides: the API and Worker clients, their monitors
// and the health handler serving both. See the package documentation for
// the names and the lifecycle.
var Module = fx.Module("redisguard", apiProviders, workerProviders, healthProvider)

// APIModule provides the API side only: the client named "redis_api" (and
// "redis_api_client"), its monitor, and the health handler serving it. Use
// Module, not APIModule and WorkerModule together, for both sides: each of
// them provides the health handler.
var APIModule = fx.Module("redisguard-api", apiProviders, healthProvider)

// WorkerModule provides the Worker side only: the client named
// "redis_worker" (and "redis_worker_client"), its monitor, and the health
// handler serving it.
var WorkerModule = fx.Module("redisguard-worker", workerProviders, healthProvider)

// side provides one side's values: the *profiles.Client under clientName,
// and the same client as a redis.UniversalClient, its Config and its
// monitor under name. One constructor per value, annotated with the
// side's names; the client takes the hooks of GroupHooks and of sideGroup.
func side(name, clientName, sideGroup string, config func(Configs) (profiles.Config, error)) fx.Option {
	tag := func(n string) string { return `name:"` + n + `"` }
	return fx.Provide(
		fx.Annotate(
			func(lc fx.Lifecycle, cfgs Configs, opt Options, both, own []redis.Hook) (*profiles.Client, error) {
				cfg, err := config(cfgs)
				if err != nil {
					return nil, err
				}
				return newClient(lc, cfg, opt, both, own)
			},
			fx.ParamTags(``, `optional:"true"`, `optional:"true"`, `group:"`+GroupHooks+`"`, `group:"`+sideGroup+`"`),
			fx.ResultTags(tag(clientName))),
		fx.Annotate(
			func(c *profiles.Client) redis.UniversalClient { return c },
			fx.ParamTags(tag(clientName)), fx.ResultTags(tag(name))),
		fx.Annotate(
			func(c *profiles.Client) profiles.Config { return c.Config() },
			fx.ParamTags(tag(clientName)), fx.ResultTags(tag(name))),
		fx.Annotate(
			newMonitor,
			fx.ParamTags(``, tag(clientName), `optional:"true"`), fx.ResultTags(tag(name))),
	)
}

func newClient(lc fx.Lifecycle, cfg profiles.Config, opt Options, groups ...[]redis.Hook) (*profiles.Client, error) {
	var extra []hooks.Guard
	for _, g := range groups {
		for _, h := range g {
			if h != nil {
				extra = append(extra, hooks.Outer(h))
			}
		}
	}
	c, err := profiles.NewClient(cfg, extra...)
	if err != nil {
		return nil, fmt.Errorf("fxmodule: %s client: %w", cfg.Name, err)
	}
	unstarted := unstartedOf(lc)
	unstarted.add(c)
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			unstarted.remove(lc, c)
			err := Ping(ctx, c, opt.PingTimeout)
			if err == nil {
				return nil
			}
			if opt.StartWithoutRedis {
				opt.logger().LogAttrs(ctx, slog.LevelWarn, "Redis unreachable at start, starting anyway",
					slog.String("profile", c.Config().Name), slog.String("error", err.Error()))
				return nil
			}
			// fx runs OnStop only for hooks whose OnStart succeeded, and
			// starts none after this one: close this client and every
			// client of the application not started yet.
			_ = c.Close()
			unstarted.closeAll(lc)
			return err
		},
		OnStop: func(context.Context) error {
			if err := c.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
				return fmt.Errorf("fxmodule: closing %s client: %w", c.Config().Name, err)
			}
			return nil
		},
	})
	return c, nil
}

// unstartedClients are the clients the module built for one application
// (one fx.Lifecycle) whose OnStart has not run. A go-redis client runs
// goroutines from the moment it is made; when a start fails, fx neither
// starts nor stops the hooks after the failing one, so the failing start
// closes these.
type unstartedClients struct {
	mu      sync.Mutex
	clients map[*profiles.Client]bool
}

// unstartedByApp maps an application's fx.Lifecycle to its
// unstartedClients; an entry goes when its last client starts or closes.
var unstartedByApp sync.Map

func unstartedOf(lc fx.Lifecycle) *unstartedClients {
	v, _ := unstartedByApp.LoadOrStore(lc, &unstartedClients{clients: make(map[*profiles.Client]bool)})
	return v.(*unstartedClients)
}

func (u *unstartedClients) add(c *profiles.Client) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.clients[c] = true
}

func (u *unstartedClients) remove(lc fx.Lifecycle, c *profiles.Client) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.clients, c)
	if len(u.clients) == 0 {
		unstartedByApp.CompareAndDelete(lc, u)
	}
}

func (u *unstartedClients) closeAll(lc fx.Lifecycle) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for c := range u.clients {
		_ = c.Close()
		delete(u.clients, c)
	}
	unstartedByApp.CompareAndDelete(lc, u)
}

// Ping sends one PING on c, bounded by timeout (and by ctx), and returns an
// error naming the client's profile and the server it tried when there is
// no answer. It is what the module's OnStart does; call it yourself when
// you build clients without fx.
func Ping(ctx context.Context, c *profiles.Client, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = DefaultPingTimeout
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		cfg := c.Config()
		return fmt.Errorf("fxmodule: %s client: Redis at %s did not answer PING within %s: %w",
			cfg.Name, target(cfg), timeout, err)
	}
	return nil
}

func newMonitor(lc fx.Lifecycle, c *profiles.Client, opt Options) (*health.Monitor, error) {
	m, err := health.NewMonitor(c, MonitorOptions(c, opt)) // NewMonitor reads the client inside (hooks.Unwrap)
	if err != nil {
		return nil, fmt.Errorf("fxmodule: %s monitor: %w", c.Config().Name, err)
	}
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error { m.Start(); return nil },
		OnStop:  func(context.Context) error { m.Stop(); return nil },
	})
	return m, nil
}

// MonitorOptions returns the health.Options the module gives c's monitor:
// opt.Monitor with its zero fields filled in from c (Name from the profile,
// Interval from HealthCheckInterval, the Limiter, Breaker and Retry hooks)
// and Logger from opt.Logger.
func MonitorOptions(c *profiles.Client, opt Options) health.Options {
	mo := opt.Monitor
	cfg := c.Config()
	if mo.Name == "" {
		mo.Name = cfg.Name
	}
	if mo.Interval == 0 {
		mo.Interval = cfg.HealthCheckInterval
	}
	if mo.Limiter == nil && c.Hooks.Limiter != nil {
		mo.Limiter = c.Hooks.Limiter
	}
	if mo.Breaker == nil && c.Hooks.Breaker != nil {
		mo.Breaker = c.Hooks.Breaker
	}
	if mo.Retry == nil && c.Hooks.Retry != nil {
		mo.Retry = c.Hooks.Retry
	}
	if mo.Logger == nil {
		mo.Logger = opt.Logger
	}
	return mo
}
