package health_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/health"
)

// A monitor checks the client every Interval and serves /health and
// /pool-stats. It shows the wiring of a server at localhost:6379 and prints
// nothing, so it has no Output section (Monitor.Handler's example runs).
func ExampleNewMonitor() {
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379", PoolSize: 50})
	defer rdb.Close()

	m, err := health.NewMonitor(rdb, health.Options{
		Name:     "api",
		Interval: 30 * time.Second,
		OnStatusChange: func(old, new health.Status, reasons []string) {
			log.Printf("redis %s -> %s: %v", old, new, reasons)
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	m.Start()
	defer m.Stop()

	http.Handle("/redis/", http.StripPrefix("/redis", m.Handler()))
}

// The handler answers from the last check; before the first one it runs one.
// This example uses an in-memory server, so it runs anywhere.
func ExampleMonitor_Handler() {
	mr, err := miniredis.Run()
	if err != nil {
		log.Fatal(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()

	m, err := health.NewMonitor(rdb, health.Options{
		Name:   "api",
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/health", nil))

	var body struct {
		Name    string   `json:"name"`
		Status  string   `json:"status"`
		Reasons []string `json:"reasons"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		log.Fatal(err)
	}
	fmt.Println(rec.Code, body.Name, body.Status, len(body.Reasons))
	// Output: 200 api healthy 0
}

// A worker registers itself for as long as it runs. This example uses an
// in-memory server, so it runs anywhere.
func ExampleNewHeartbeat() {
	mr, err := miniredis.Run()
	if err != nil {
		log.Fatal(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	host, _ := os.Hostname()
	hb, err := health.NewHeartbeat(rdb, "workers:"+host, time.Now().UTC().Format(time.RFC3339), 30*time.Second, 10*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	if err := hb.Beat(ctx); err != nil {
		log.Fatal(err)
	}
	hb.Start()
	defer hb.Stop(ctx)

	workers, err := health.LiveWorkers(ctx, rdb, "workers:")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(workers), "live worker")
	// Output: 1 live worker
}
