package profiles_test

import (
	"errors"
	"fmt"

	"github.com/redisguard/redisguard/profiles"
)

func ExampleFromEnvLookup() {
	env := map[string]string{
		"REDIS_URL":                    "redis://app:s3cret@cache.internal:6379/2",
		"WORKER_REDIS_MAX_CONNECTIONS": "300",
		"WORKER_REDIS_SOCKET_TIMEOUT":  "90",
	}
	cfg, err := profiles.FromEnvLookup(profiles.Worker(), func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(cfg.Mode(), cfg.PoolSize, cfg.MaxConcurrentOps, cfg.MaxBlocking, cfg.SocketTimeout)
	fmt.Println(profiles.RedactURL(cfg.URL))
	// Output:
	// single 300 150 37 1m30s
	// redis://app:xxxxx@cache.internal:6379/2
}

func ExampleFromEnvLookup_badValue() {
	_, err := profiles.FromEnvLookup(profiles.API(), func(k string) (string, bool) {
		if k == "REDIS_MAX_CONNECTIONS" {
			return "abc", true
		}
		return "", false
	})
	fmt.Println(err)
	var envErr *profiles.EnvError
	if errors.As(err, &envErr) {
		fmt.Println(envErr.Var)
	}
	// Output:
	// profiles: REDIS_MAX_CONNECTIONS="abc": not a whole number
	// REDIS_MAX_CONNECTIONS
}

func ExampleConfig_ClientOptions() {
	cfg := profiles.API()
	cfg.Addr = "localhost:6379"
	opts, err := cfg.ClientOptions()
	if err != nil {
		panic(err)
	}
	// rdb := redis.NewClient(opts)
	fmt.Println(opts.PoolSize, opts.ReadTimeout, opts.ContextTimeoutEnabled, opts.MaxRetries)
	// Output: 50 30s true -1
}
