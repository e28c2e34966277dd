// Package exampleredis chooses the Redis server the example programs talk
// to: the one the environment names (REDIS_URL, or REDIS_HOST/REDIS_PORT,
// REDIS_CLUSTER_ADDRS, REDIS_SENTINEL_ADDRS), or, when none is named, an
// embedded in-process Redis (miniredis), so every example runs on a machine
// with no Redis at all.
package exampleredis

import (
	"context"
	"fmt"
	"os"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/fxmodule"
	"github.com/redisguard/redisguard/profiles"
)

// connectionVars are the variables that name a server (see the profiles
// package documentation); any of them set means "use a real server".
var connectionVars = []string{
	"REDIS_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_CLUSTER_ADDRS", "REDIS_SENTINEL_ADDRS",
}

// Target is the server an example uses.
type Target struct {
	// Embedded is true when the server is the in-process miniredis.
	Embedded bool
	mr       *miniredis.Miniredis
	line     string
}

// Open picks the server. With no connection variable set it starts an
// embedded miniredis on a free loopback port, with key TTLs running on the
// wall clock (so heartbeats expire as they would on a real server).
func Open() (*Target, error) {
	for _, v := range connectionVars {
		if val := os.Getenv(v); val != "" {
			if v == "REDIS_URL" {
				val = profiles.RedactURL(val)
			}
			return &Target{line: fmt.Sprintf("redis: real server from the environment (%s=%s)", v, val)}, nil
		}
	}
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		return nil, fmt.Errorf("exampleredis: starting the embedded Redis: %w", err)
	}
	mr.ClockTTL(true)
	return &Target{
		Embedded: true,
		mr:       mr,
		line: fmt.Sprintf("redis: embedded (in-process miniredis at %s; REDIS_URL is not set, set it to use a real server)",
			mr.Addr()),
	}, nil
}

// Line is the example's first line of output: which server it uses.
func (t *Target) Line() string { return t.line }

// Addr is the embedded server's address, or "" when the server comes from
// the environment.
func (t *Target) Addr() string {
	if t.mr == nil {
		return ""
	}
	return t.mr.Addr()
}

// Config returns preset with the environment's settings (profiles.FromEnv)
// and, for the embedded server, its address in place of any connection
// setting.
func (t *Target) Config(preset profiles.Config) (profiles.Config, error) {
	cfg, err := profiles.FromEnv(preset)
	if err != nil {
		return profiles.Config{}, err
	}
	if t.Embedded {
		cfg.URL, cfg.Addr = "", t.mr.Addr()
		cfg.Username, cfg.Password = "", ""
		cfg.TLS, cfg.TLSConfig = false, nil
	}
	return cfg, nil
}

// Configs returns both sides' configurations, as Config does.
func (t *Target) Configs() (fxmodule.Configs, error) {
	api, err := t.Config(profiles.API())
	if err != nil {
		return fxmodule.Configs{}, err
	}
	worker, err := t.Config(profiles.Worker())
	if err != nil {
		return fxmodule.Configs{}, err
	}
	return fxmodule.Configs{API: api, Worker: worker}, nil
}

// Down stops the embedded server, as a crash would: every connection is
// closed and new ones are refused. The data stays, for Up. It does nothing
// when the server comes from the environment (an example never stops a
// server it did not start).
func (t *Target) Down() {
	if t.mr != nil {
		t.mr.Close()
	}
}

// Up starts the embedded server again after Down, on the same address and
// with the same data.
func (t *Target) Up() error {
	if t.mr == nil {
		return nil
	}
	// Close cancelled the server's context, and Restart does not make a new
	// one: blocking commands (BLMOVE, BLPOP, ...) would then never answer.
	t.mr.Lock()
	t.mr.Ctx, t.mr.CtxCancel = context.WithCancel(context.Background())
	t.mr.Unlock()
	if err := t.mr.Restart(); err != nil {
		return fmt.Errorf("exampleredis: restarting the embedded Redis on %s: %w", t.mr.Addr(), err)
	}
	return nil
}

// Close stops the embedded server, if any.
func (t *Target) Close() {
	if t.mr != nil {
		t.mr.Close()
	}
}

// ClientOptions returns plain go-redis options for the server, the kind an
// application already has: only the address and credentials set, every
// other field at go-redis's default. It needs a single server (not a
// cluster or Sentinel).
func (t *Target) ClientOptions() (*redis.Options, error) {
	if t.Embedded {
		return &redis.Options{Addr: t.mr.Addr()}, nil
	}
	if u := os.Getenv("REDIS_URL"); u != "" {
		o, err := redis.ParseURL(u)
		if err != nil {
			return nil, fmt.Errorf("exampleredis: REDIS_URL=%s: %w", profiles.RedactURL(u), err)
		}
		return o, nil
	}
	cfg, err := profiles.FromEnv(profiles.API())
	if err != nil {
		return nil, err
	}
	if cfg.Mode() != profiles.ModeSingle {
		return nil, fmt.Errorf("exampleredis: this example needs a single server, the environment names a %s", cfg.Mode())
	}
	full, err := cfg.ClientOptions()
	if err != nil {
		return nil, err
	}
	return &redis.Options{Addr: full.Addr, Username: full.Username, Password: full.Password,
		DB: full.DB, TLSConfig: full.TLSConfig, Dialer: full.Dialer}, nil
}
