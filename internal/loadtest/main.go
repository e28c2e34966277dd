// Command loadtest runs redisguard's load scenarios against a redis-server it
// starts itself, each scenario bare and guarded back to back in one process,
// and prints a markdown table (and, with -json, one JSON object per row).
//
//	go run ./internal/loadtest [-json] [-only overhead,starvation] [-scale 1] [-cpuprofile f] [-mutexprofile f]
//
// The overload scenario labels its phases in the CPU profile
// (phase=overload-bare, overload-guarded, overload-shedding): go tool pprof
// -tagfocus phase=overload-guarded f shows the guarded client alone.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/redisguard/redisguard/internal/redistest"
)

type scenario struct {
	name string
	run  func(env *env) ([]Row, error)
}

var scenarios = []scenario{
	{"overhead", runOverhead},
	{"overhead-parts", runOverheadParts},
	{"starvation", runStarvation},
	{"overload", runOverload},
	{"slow-server", runSlowServer},
	{"limiter-std", runLimiterStd},
	{"batch", runBatch},
	{"autopipeline", runAutopipeline},
	{"failfast", runFailfast},
	{"restart", runRestart},
	{"failover", runFailover},
	{"flapping", runFlapping},
	{"deadlinectx", runDeadlineCtx},
}

// env is what every scenario gets: a scale for its durations and a way to
// start servers.
type env struct {
	scale float64
}

func (e *env) dur(d time.Duration) time.Duration { return time.Duration(float64(d) * e.scale) }

func (e *env) server(args ...string) (*redistest.Server, error) {
	return redistest.StartServer(args...)
}

func main() {
	jsonOut := flag.Bool("json", false, "also print one JSON object per row")
	only := flag.String("only", "", "comma-separated scenarios to run (default all)")
	scale := flag.Float64("scale", 1, "multiply every scenario's duration")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	mutexProfile := flag.String("mutexprofile", "", "write a mutex contention profile of the whole run to this file")
	flag.Parse()
	stop, err := startProfiles(*cpuProfile, *mutexProfile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadtest: %v\n", err)
		os.Exit(2)
	}

	// The guarded clients log retries and pool set-up; keep the table clean.
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))

	want := map[string]bool{}
	for _, s := range strings.Split(*only, ",") {
		if s = strings.TrimSpace(s); s != "" {
			want[s] = true
		}
	}
	for s := range want {
		if !known(s) {
			fmt.Fprintf(os.Stderr, "loadtest: unknown scenario %q\n", s)
			os.Exit(2)
		}
	}

	e := &env{scale: *scale}
	fmt.Printf("machine: %d cores, %s, %s\n", runtime.NumCPU(), runtime.Version(), redisVersion())
	fmt.Printf("command: go run ./internal/loadtest %s\n\n", strings.Join(os.Args[1:], " "))

	var rows []Row
	failed := false
	for _, sc := range scenarios {
		if len(want) > 0 && !want[sc.name] {
			continue
		}
		start := time.Now()
		fmt.Fprintf(os.Stderr, "loadtest: %s ...\n", sc.name)
		rs, err := sc.run(e)
		if err != nil {
			fmt.Fprintf(os.Stderr, "loadtest: %s: %v\n", sc.name, err)
			failed = true
			continue
		}
		fmt.Fprintf(os.Stderr, "loadtest: %s done in %s\n", sc.name, time.Since(start).Round(time.Second))
		rows = append(rows, rs...)
	}

	if err := stop(); err != nil {
		fmt.Fprintf(os.Stderr, "loadtest: %v\n", err)
		failed = true
	}
	printTable(rows)
	if *jsonOut {
		fmt.Println()
		enc := json.NewEncoder(os.Stdout)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				fmt.Fprintf(os.Stderr, "loadtest: %v\n", err)
				os.Exit(1)
			}
		}
	}
	if failed {
		os.Exit(1)
	}
}

func known(name string) bool {
	for _, s := range scenarios {
		if s.name == name {
			return true
		}
	}
	return false
}

func redisVersion() string {
	s, err := redistest.StartServer()
	if err != nil {
		return "redis-server: " + err.Error()
	}
	defer s.Close()
	info, err := redistest.Do(s.Addr(), 2*time.Second, "INFO", "server")
	if err != nil {
		return "redis-server: " + err.Error()
	}
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "redis_version:"); ok {
			return "Redis " + v
		}
	}
	return "Redis (unknown version)"
}

func printTable(rows []Row) {
	fmt.Println("| scenario | metric | unit | bare | guarded | guarded/bare | notes |")
	fmt.Println("|---|---|---|---:|---:|---:|---|")
	for _, r := range rows {
		ratio := "-"
		if r.Ratio != 0 {
			ratio = fmt.Sprintf("%.2f", r.Ratio)
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %s | %s |\n",
			r.Scenario, r.Metric, r.Unit, num(r.Bare), num(r.Guarded), ratio, r.Notes)
	}
}

func num(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 1000:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}
