// Command fxapp is the smallest fx application using redisguard's
// fxmodule: an HTTP server with one endpoint that counts hits in Redis
// through the "redis_api" client, and the module's health handler.
//
//	go run ./examples/fxapp                 # serve on 127.0.0.1:8081 until Ctrl-C
//	curl localhost:8081/hits                # hits: 1
//	curl localhost:8081/health              # both clients' health
//	curl localhost:8081/pool-stats          # pool, server and hook figures
//
// With REDIS_URL unset it supplies the module an embedded in-process Redis
// and says so on its first line; with REDIS_URL set the module reads its
// whole configuration from the environment, as a real service would.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"

	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"

	"github.com/redisguard/redisguard/examples/internal/exampleredis"
	"github.com/redisguard/redisguard/fxmodule"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "HTTP listen address")
	flag.Parse()

	target, err := exampleredis.Open()
	if err != nil {
		fmt.Fprintln(os.Stderr, "fxapp:", err)
		os.Exit(1)
	}
	defer target.Close()
	fmt.Println(target.Line())

	opts := []fx.Option{
		fx.NopLogger, // remove to see fx's own log of what it provides and starts
		fxmodule.Module,
		fx.Supply(listenAddr(*addr)),
		fx.Provide(newServer),
		fx.Invoke(func(*http.Server) {}), // the app asks for its server; the module brings the rest
	}
	if target.Embedded {
		cfgs, err := target.Configs()
		if err != nil {
			fmt.Fprintln(os.Stderr, "fxapp:", err)
			os.Exit(1)
		}
		opts = append(opts, fx.Supply(cfgs))
	}
	app := fx.New(opts...)
	if err := app.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "fxapp:", err)
		os.Exit(1)
	}
	// Run starts the app, waits for SIGINT or SIGTERM, and stops it.
	app.Run()
}

type listenAddr string

type serverParams struct {
	fx.In

	Lifecycle fx.Lifecycle
	Addr      listenAddr
	Redis     redis.UniversalClient `name:"redis_api"`
	Health    http.Handler          `name:"redis_health"`
}

func newServer(p serverParams) *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hits", func(w http.ResponseWriter, r *http.Request) {
		n, err := p.Redis.Incr(r.Context(), "fxapp:hits").Result()
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "hits: %d\n", n)
	})
	mux.Handle("GET /health", p.Health)
	mux.Handle("GET /pool-stats", p.Health)
	srv := &http.Server{Handler: mux}
	p.Lifecycle.Append(fx.Hook{
		OnStart: func(context.Context) error {
			ln, err := net.Listen("tcp", string(p.Addr))
			if err != nil {
				return err
			}
			fmt.Printf("fxapp: listening on http://%s (GET /hits, /health, /pool-stats); Ctrl-C stops\n", ln.Addr())
			go func() {
				if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					fmt.Fprintln(os.Stderr, "fxapp:", err)
				}
			}()
			return nil
		},
		OnStop: srv.Shutdown,
	})
	return srv
}
