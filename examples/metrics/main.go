// Command metrics is an fx application whose redisguard figures are served
// on /metrics. It is a module of its own, as the metrics adapters are: the
// core module, and the examples in it, carry no Prometheus or OpenTelemetry
// dependency.
//
//	cd examples/metrics
//	go run .                          # serve on 127.0.0.1:8082 until Ctrl-C
//	curl localhost:8082/hits          # hits: 1 (an INCR through "redis_api")
//	curl localhost:8082/metrics       # redisguard_* and db_client_* of both clients
//	go run . -otel                    # the same figures through OpenTelemetry
//
// The application is fxmodule.Module plus one option: redisguardprom.Module,
// given a prometheus.Registerer, registers a collector for each client
// (label client="api" or "worker"); with -otel, redisguardotel.Module,
// given a metric.MeterProvider (here one whose reader is OpenTelemetry's
// Prometheus exporter) and the redisguardotel.Producer that reader was
// given, instruments each client (attribute redisguard.client). Either way
// /metrics serves the registry.
//
// With REDIS_URL unset it uses an embedded in-process Redis and says so on
// its first line; with REDIS_URL set the fx module reads its whole
// configuration from the environment.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.uber.org/fx"

	"github.com/redisguard/redisguard/examples/internal/exampleredis"
	"github.com/redisguard/redisguard/extra/redisguardotel"
	"github.com/redisguard/redisguard/extra/redisguardprom"
	"github.com/redisguard/redisguard/fxmodule"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8082", "HTTP listen address")
	useOtel := flag.Bool("otel", false, "report through OpenTelemetry (its Prometheus exporter) instead of the Prometheus collector")
	flag.Parse()
	if err := run(*addr, *useOtel); err != nil {
		fmt.Fprintln(os.Stderr, "metrics:", err)
		os.Exit(1)
	}
}

func run(addr string, useOtel bool) error {
	target, err := exampleredis.Open()
	if err != nil {
		return err
	}
	defer target.Close()
	fmt.Println(target.Line())

	reg := prometheus.NewRegistry()
	var rdb redis.UniversalClient
	opts := []fx.Option{
		fx.NopLogger,
		fxmodule.Module,
		fx.Invoke(fx.Annotate(func(c redis.UniversalClient) { rdb = c }, fx.ParamTags(`name:"redis_api"`))),
	}
	if useOtel {
		// The durations go through a Producer the exporter's reader is
		// given: the cheaper route (see the redisguardotel package doc).
		producer := redisguardotel.NewProducer()
		exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithProducer(producer))
		if err != nil {
			return err
		}
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
		defer func() { _ = mp.Shutdown(context.Background()) }()
		opts = append(opts, redisguardotel.Module, fx.Supply(producer),
			fx.Supply(fx.Annotate(mp, fx.As(new(metric.MeterProvider)))))
	} else {
		opts = append(opts, redisguardprom.Module, fx.Supply(fx.Annotate(reg, fx.As(new(prometheus.Registerer)))))
	}
	if target.Embedded {
		cfgs, err := target.Configs()
		if err != nil {
			return err
		}
		opts = append(opts, fx.Supply(cfgs))
	}
	// The application holds the clients; the program serves HTTP itself.
	app := fx.New(opts...)
	ctx, cancel := context.WithTimeout(context.Background(), fx.DefaultTimeout)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		return err
	}
	defer func() { _ = app.Stop(context.Background()) }()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /hits", func(w http.ResponseWriter, r *http.Request) {
		n, err := rdb.Incr(r.Context(), "metrics:hits").Result()
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "hits: %d\n", n)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Printf("metrics: listening on http://%s (GET /hits, /metrics); Ctrl-C stops\n", ln.Addr())
	select {
	case <-app.Wait(): // SIGINT or SIGTERM
	case err := <-served:
		return err
	}
	return srv.Shutdown(context.Background())
}
