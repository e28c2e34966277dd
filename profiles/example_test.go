package profiles_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/redisguard/redisguard/profiles"
)

func ExampleFromEnv() {
	// The environment a deployment gives the process.
	for k, v := range map[string]string{
		"REDIS_URL":                    "redis://app:s3cret@cache.internal:6379/2",
		"WORKER_REDIS_MAX_CONNECTIONS": "300",
		"WORKER_REDIS_SOCKET_TIMEOUT":  "90",
	} {
		os.Setenv(k, v)
		defer os.Unsetenv(k)
	}
	cfg, err := profiles.FromEnv(profiles.Worker())
	if err != nil {
		panic(err)
	}
	fmt.Println(cfg.Mode(), cfg.PoolSize, cfg.MaxConcurrentOps, cfg.MaxBlocking, cfg.SocketTimeout)
	// Output:
	// single 300 150 37 1m30s
}

func ExampleFromEnv_badValue() {
	os.Setenv("REDIS_MAX_CONNECTIONS", "abc")
	defer os.Unsetenv("REDIS_MAX_CONNECTIONS")
	_, err := profiles.FromEnv(profiles.API())
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
