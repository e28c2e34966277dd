// Command taskflow is the task system redisguard was first built for: an
// HTTP API that accepts texts to summarise and a pool of workers that take
// them from a reliable Redis queue, wired with fxmodule.
//
//	go run ./examples/taskflow               # serve on 127.0.0.1:8080 until Ctrl-C
//	go run ./examples/taskflow -demo 100     # submit 100 tasks over HTTP, check each completed once, exit
//	go run ./examples/taskflow -demo 100 -outage 2s   # the same, with Redis gone for 2s mid-demo
//	REDIS_URL=redis://... go run ./examples/taskflow api      # the API alone (fxmodule.APIModule)
//	REDIS_URL=redis://... go run ./examples/taskflow worker   # the workers alone (fxmodule.WorkerModule)
//
// With REDIS_URL unset it runs on an embedded in-process Redis (miniredis)
// and says so on its first line; with REDIS_URL (or REDIS_HOST, ...) set it
// uses that server, configured from the environment like any fxmodule app.
// The api and worker modes are the same system as two processes; they need
// a server both can reach, so they refuse to run on the embedded one.
//
// With -outage the embedded server is stopped and restarted mid-demo. A
// server named by the environment is never restarted (the demo did not start
// it): the demo reaches it through a relay of its own and cuts the relay
// instead, so its clients see the server go away and come back.
//
// The API:
//
//	POST /api/v1/summarize          {"content": "...", "max_sentences": 3} -> 202 {"task_id": "...", "status": "queued"}
//	POST /api/v1/summarize/batch    {"tasks": [...]} -> 202 {"task_ids", "status", "queued", "hashes", "queue"} (batch.Run, batch.RPush)
//	GET  /api/v1/tasks/{id}         status, summary, attempts, completions, progress events
//	GET  /health                    both Redis clients' health: 200, or 503 when unhealthy
//	GET  /api/v1/redis/pool-stats   pool, server and hook figures of both clients
//
// The workers use the reliable-queue pattern (BLMOVE to a per-worker
// processing list, LREM when the result is committed), keep a heartbeat,
// recover the tasks of workers whose heartbeat expired, and write progress
// events and results with the batch helpers. The summary is a deterministic
// extractive one (no model), so the demo can check every result. The demo
// announces the results with batch.Publish on PREFIX:results, which it
// listens to, and prints /health and /api/v1/redis/pool-stats as fetched
// over HTTP. (No /metrics: the metrics adapters are modules of their own.)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/redisguard/redisguard/examples/internal/exampleredis"
	"github.com/redisguard/redisguard/fxmodule"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command line.
type options struct {
	addr        string
	prefix      string
	demo        int
	demoCrash   int
	demoTimeout time.Duration
	outage      time.Duration
	mode        string // "" (both sides in one process), "api" or "worker"
	verbose     bool
	workers     workerSettings
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		o.mode, args = args[0], args[1:]
		if o.mode != "api" && o.mode != "worker" {
			fmt.Fprintf(stderr, "usage: taskflow [api|worker] [flags]\n")
			return o, fmt.Errorf("unknown mode %q: want api or worker, or none for both in one process", o.mode)
		}
	}
	fs := flag.NewFlagSet("taskflow", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "HTTP listen address (the demo listens on a free port unless -addr is given)")
	fs.StringVar(&o.prefix, "prefix", "taskflow", "prefix of every Redis key")
	fs.IntVar(&o.demo, "demo", 0, "submit `N` tasks over HTTP, wait for all, print a summary and exit (0 only if every task completed exactly once)")
	fs.IntVar(&o.demoCrash, "demo-crash", 3, "in the demo, a simulated worker takes this many tasks and dies without finishing them (0: none)")
	fs.DurationVar(&o.demoTimeout, "demo-timeout", 60*time.Second, "in the demo, how long to wait for every task")
	fs.DurationVar(&o.outage, "outage", 0, "in the demo, take Redis away for this long once the tasks are submitted, then bring it back (0: no outage)")
	fs.BoolVar(&o.verbose, "v", false, "log at info level (the demo logs warnings only)")
	fs.IntVar(&o.workers.Concurrency, "workers", 8, "worker goroutines")
	fs.DurationVar(&o.workers.Poll, "poll", time.Second, "BLMOVE timeout of one wait for a task (whole seconds)")
	fs.DurationVar(&o.workers.HeartbeatTTL, "heartbeat-ttl", 10*time.Second, "TTL of a worker's heartbeat; a worker silent this long is dead")
	fs.DurationVar(&o.workers.ReapInterval, "reap-interval", time.Second, "how often to look for dead workers' tasks")
	fs.DurationVar(&o.workers.ResultTTL, "result-ttl", time.Hour, "how long a finished task is kept")
	fs.IntVar(&o.workers.MaxAttempts, "max-attempts", 3, "tries of one task before it is marked failed")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	explicitAddr := false
	fs.Visit(func(f *flag.Flag) { explicitAddr = explicitAddr || f.Name == "addr" })
	if o.demo > 0 && !explicitAddr {
		o.addr = "127.0.0.1:0"
	}
	o.workers.HandleTimeout = 10 * time.Second
	switch {
	case o.demo < 0:
		return o, errors.New("-demo must be 0 or more")
	case o.workers.Concurrency < 1:
		return o, errors.New("-workers must be 1 or more")
	case o.workers.Poll < time.Second || o.workers.Poll%time.Second != 0:
		return o, errors.New("-poll must be whole seconds (BLMOVE counts in seconds)")
	case o.workers.HeartbeatTTL < time.Second:
		return o, errors.New("-heartbeat-ttl must be 1s or more")
	case o.workers.ReapInterval <= 0 || o.workers.ResultTTL < time.Second || o.workers.MaxAttempts < 1:
		return o, errors.New("-reap-interval, -result-ttl and -max-attempts must be positive")
	case o.demoCrash < 0:
		return o, errors.New("-demo-crash must be 0 or more")
	case o.outage < 0:
		return o, errors.New("-outage must be 0 or more")
	case o.outage > 0 && o.demo == 0:
		return o, errors.New("-outage needs -demo")
	case o.mode != "" && o.demo > 0:
		return o, fmt.Errorf("-demo runs both sides in one process; leave out %q", o.mode)
	}
	return o, nil
}

// run is the whole program; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "taskflow:", err)
		return 2
	}
	target, err := exampleredis.Open()
	if err != nil {
		fmt.Fprintln(stderr, "taskflow:", err)
		return 1
	}
	defer target.Close()
	fmt.Fprintln(stdout, target.Line())
	if o.mode != "" && target.Embedded {
		fmt.Fprintf(stderr, "taskflow %s: the api and worker processes need a Redis both can reach; set REDIS_URL (the embedded one lives inside a single process)\n", o.mode)
		return 2
	}

	logger := newLogger(o, stderr)
	prev := slog.Default()
	slog.SetDefault(logger) // profiles and health log through the default logger
	defer slog.SetDefault(prev)

	if o.mode != "" {
		return runSplit(ctx, o, logger, stdout, stderr)
	}

	cfgs, out, closeRelay, err := configsFor(target, o)
	if err != nil {
		fmt.Fprintln(stderr, "taskflow:", err)
		return 1
	}
	defer closeRelay() // after the app has stopped (deferred calls run last first)

	var p parts
	app, err := newApp(cfgs, o, logger, &p)
	if err != nil {
		fmt.Fprintln(stderr, "taskflow:", err)
		return 1
	}
	startCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	err = app.Start(startCtx)
	cancel()
	if err != nil {
		fmt.Fprintln(stderr, "taskflow: start:", err)
		return 1
	}

	code := 0
	if o.demo > 0 {
		if !runDemo(ctx, stdout, p, keys{o.prefix}, o, out) {
			code = 1
		}
	} else {
		fmt.Fprintf(stdout, "taskflow: listening on http://%s (worker %s, %d goroutines); Ctrl-C stops\n",
			p.API.Addr(), p.Workers.ID(), o.workers.Concurrency)
		waitForSignal(ctx)
		fmt.Fprintln(stdout, "taskflow: stopping")
	}

	stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := app.Stop(stopCtx); err != nil {
		fmt.Fprintln(stderr, "taskflow: stop:", err)
		return 1
	}
	return code
}

// newLogger logs at info level, or during a demo only warnings (errors
// with -outage: the outage's warnings are counted and summed up instead),
// unless -v.
func newLogger(o options, stderr io.Writer) *slog.Logger {
	level := slog.LevelInfo
	if o.demo > 0 && !o.verbose {
		level = slog.LevelWarn
		if o.outage > 0 {
			level = slog.LevelError
		}
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
}

// configsFor returns the configurations: the embedded server's, or with
// -outage on a server from the environment the relay's; otherwise nil,
// and fxmodule reads them from the environment. The outage is nil without
// -outage; closeRelay stops the relay, if one was started.
func configsFor(target *exampleredis.Target, o options) (cfgs *fxmodule.Configs, out outage, closeRelay func(), err error) {
	closeRelay = func() {}
	switch {
	case target.Embedded:
		c, err := target.Configs()
		if err != nil {
			return nil, nil, closeRelay, err
		}
		cfgs = &c
		out = embeddedOutage{target}
	case o.outage > 0:
		c, r, err := relayConfigs()
		if err != nil {
			return nil, nil, closeRelay, err
		}
		cfgs, out, closeRelay = &c, r, r.close
	}
	if o.outage > 0 {
		// Checks every second, so /health follows the server back promptly.
		cfgs.API.HealthCheckInterval, cfgs.Worker.HealthCheckInterval = time.Second, time.Second
	} else {
		out = nil
	}
	return cfgs, out, closeRelay, nil
}

func waitForSignal(ctx context.Context) {
	sig, stopSig := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	<-sig.Done()
	stopSig()
}

// runSplit runs one side, api or worker, until SIGINT or SIGTERM.
func runSplit(ctx context.Context, o options, logger *slog.Logger, stdout, stderr io.Writer) int {
	var api *API
	var workers *Workers
	app, err := newSplitApp(o.mode, o, logger, &api, &workers)
	if err != nil {
		fmt.Fprintf(stderr, "taskflow %s: %v\n", o.mode, err)
		return 1
	}
	startCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	err = app.Start(startCtx)
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "taskflow %s: start: %v\n", o.mode, err)
		return 1
	}
	if api != nil {
		fmt.Fprintf(stdout, "taskflow api: listening on http://%s (no workers in this process); Ctrl-C stops\n", api.Addr())
	} else {
		fmt.Fprintf(stdout, "taskflow worker: running worker %s, %d goroutines (no HTTP in this process); Ctrl-C stops\n",
			workers.ID(), o.workers.Concurrency)
	}
	waitForSignal(ctx)
	fmt.Fprintf(stdout, "taskflow %s: stopping\n", o.mode)
	stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := app.Stop(stopCtx); err != nil {
		fmt.Fprintf(stderr, "taskflow %s: stop: %v\n", o.mode, err)
		return 1
	}
	return 0
}
