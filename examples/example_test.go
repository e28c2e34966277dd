package examples_test

import (
	"context"
	"fmt"
	"log"
	"net/http"

	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"

	"github.com/redisguard/redisguard/batch"
	"github.com/redisguard/redisguard/examples/internal/exampleredis"
	"github.com/redisguard/redisguard/fxmodule"
	"github.com/redisguard/redisguard/profiles"
)

// The README's quick starts, one per way in. They compile with every test
// run. Example_attach and Example_fx are the README's text as it stands:
// they need a Redis server at localhost:6379 (and Example_fx runs until a
// signal), so they have no Output section. Example_profile runs on the
// examples' embedded Redis and checks its output.

// Example_attach adds the hooks to a client the application already has.
func Example_attach() {
	rdb := redis.NewClient(&redis.Options{
		Addr:                  "localhost:6379",
		PoolSize:              50,   // Apply sizes the Limiter to it: 40 in flight, 10 of them blocking
		MaxRetries:            -1,   // the Retry hook decides what may be sent again
		ContextTimeoutEnabled: true, // the Timeouts hook works through context deadlines
	})
	defer rdb.Close()

	guards, err := profiles.Apply(rdb, profiles.API()) // Timeouts, Retry, Breaker, Limiter
	if err != nil {
		log.Fatal(err)
	}
	defer guards.Breaker.Close() // stops its probes of a node whose circuit is open

	// Use rdb as before; the hooks report what they do.
	_ = rdb.Set(context.Background(), "greeting", "hello", 0).Err()
	fmt.Println(guards.Limiter.Stats().InFlight, guards.Breaker.States())
}

// Example_profile builds a guarded client from a preset and the environment.
// Here the environment names no server, and exampleredis puts its embedded
// Redis in place; an application calls profiles.FromEnv(profiles.Worker()).
func Example_profile() {
	target, err := exampleredis.Open()
	if err != nil {
		log.Fatal(err)
	}
	defer target.Close()
	cfg, err := target.Config(profiles.Worker()) // profiles.FromEnv: REDIS_URL, WORKER_REDIS_MAX_CONNECTIONS, ...
	if err != nil {
		log.Fatal(err) // names the variable and the value it got
	}
	rdb, err := profiles.NewClient(cfg) // pool 200, limiter 100 (25 for blocking commands), retries, breaker
	if err != nil {
		log.Fatal(err)
	}
	defer rdb.Close()

	ctx := context.Background()
	jobs := []string{"job-1", "job-2", "job-3"}
	res, err := batch.RPush(ctx, rdb, "example:jobs", jobs, batch.Options{})
	if err != nil {
		// res.NotWritten can be sent again safely; res.Unknown needs a decision.
		log.Printf("written %d, not written %d, unknown %d: %v", len(res.Written), len(res.NotWritten), len(res.Unknown), err)
	}
	fmt.Println(rdb.Config().PoolSize, "connections;", len(res.Written), "jobs written")
	rdb.Del(ctx, "example:jobs")
	// Output: 200 connections; 3 jobs written
}

// HitsParams are what NewHits takes from the graph.
type HitsParams struct {
	fx.In

	Redis  redis.UniversalClient `name:"redis_api"`
	Health http.Handler          `name:"redis_health"`
}

// NewHits is an application's constructor using the module's values.
func NewHits(p HitsParams) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /health", p.Health) // both clients' health: 200, or 503 when unhealthy
	mux.HandleFunc("GET /hits", func(w http.ResponseWriter, r *http.Request) {
		n, err := p.Redis.Incr(r.Context(), "hits").Result()
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, n)
	})
	return mux
}

// Example_fx takes the clients from the fx module.
func Example_fx() {
	app := fx.New(
		fxmodule.Module, // config from the environment, both clients, their monitors, the health handler
		fx.Provide(NewHits),
		fx.Invoke(func(mux *http.ServeMux) { /* serve mux */ }),
	)
	app.Run() // OnStart PINGs Redis (bounded) and starts the monitors; OnStop closes everything
}
