package fxmodule

import (
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"time"

	"github.com/redisguard/redisguard/health"
	"github.com/redisguard/redisguard/profiles"
)

// DefaultPingTimeout bounds the PING each client sends when the application
// starts, when Options.PingTimeout is 0.
const DefaultPingTimeout = 5 * time.Second

// Configs are the configurations of the two clients. Without one in the
// graph the module reads both from the environment (profiles.FromEnv on the
// API and Worker presets). Supply one to choose them in code:
//
//	fx.Supply(fxmodule.Configs{API: apiCfg, Worker: workerCfg})
//
// or fx.Replace(fxmodule.Configs{...}) to override one supplied elsewhere.
// A side left as the zero Config is still read from the environment, so an
// application may set only the side it cares about. A supplied Config with
// an empty Name takes the preset of its side (NameAPI or NameWorker); it is
// used as given otherwise, without reading the environment.
type Configs struct {
	// API configures the client named "redis_api".
	API profiles.Config
	// Worker configures the client named "redis_worker".
	Worker profiles.Config
}

// APIConfig returns the API side's Config: c.API when it is set, otherwise
// profiles.FromEnv(profiles.API()).
func (c Configs) APIConfig() (profiles.Config, error) {
	return resolve(c.API, profiles.API())
}

// WorkerConfig returns the Worker side's Config: c.Worker when it is set,
// otherwise profiles.FromEnv(profiles.Worker()).
func (c Configs) WorkerConfig() (profiles.Config, error) {
	return resolve(c.Worker, profiles.Worker())
}

func resolve(given, preset profiles.Config) (profiles.Config, error) {
	if reflect.ValueOf(given).IsZero() {
		cfg, err := profiles.FromEnv(preset)
		if err != nil {
			return profiles.Config{}, fmt.Errorf("fxmodule: %s client: %w", preset.Name, err)
		}
		return cfg, nil
	}
	if given.Name == "" {
		given.Name = preset.Name
	}
	if err := given.Validate(); err != nil {
		return profiles.Config{}, fmt.Errorf("fxmodule: %s client: %w", given.Name, err)
	}
	return given, nil
}

// Options tune what the module does around the clients. The zero value is
// usable: PING within DefaultPingTimeout at start and fail the start when
// Redis does not answer, default monitor settings, slog.Default(). Supply it
// with fx.Supply(fxmodule.Options{...}).
type Options struct {
	// PingTimeout bounds the PING each client sends at start (OnStart).
	// 0 means DefaultPingTimeout. The start context's own deadline (fx's
	// StartTimeout, 15 s by default) wins when it is earlier.
	PingTimeout time.Duration

	// StartWithoutRedis lets the application start when a client's PING at
	// start fails: the failure is logged at warn and the monitors report
	// the client unhealthy until Redis answers. By default the start fails
	// with an error naming the client and the address it tried.
	StartWithoutRedis bool

	// Monitor is the template of both health monitors' options. The module
	// fills in what it leaves zero: Name ("api" or "worker"), Interval (the
	// Config's HealthCheckInterval), Limiter, Breaker and Retry (the
	// client's hooks) and Logger (Options.Logger).
	Monitor health.Options

	// Logger receives the module's own lines. nil means slog.Default().
	Logger *slog.Logger
}

func (o Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}

// target describes the server a Config points at, for errors and logs,
// without any password.
func target(c profiles.Config) string {
	switch c.Mode() {
	case profiles.ModeCluster:
		return "cluster " + strings.Join(c.ClusterAddrs, ",")
	case profiles.ModeSentinel:
		return fmt.Sprintf("master %q via sentinels %s", c.SentinelMaster, strings.Join(c.SentinelAddrs, ","))
	}
	if c.URL != "" {
		return profiles.RedactURL(c.URL)
	}
	// The address go-redis dials (Addr or the default), which holds no password.
	if o, err := c.ClientOptions(); err == nil {
		return o.Addr
	}
	return "an invalid Config"
}
