// Command compat runs go-redis's own test suite twice against local
// redis-server processes, once bare and once with profiles.Apply(c,
// profiles.API()) on every client the suite's external tests create, and
// prints the counts and the tests that fail only with the hooks. Each of
// those must be listed in docs/compat.md as an intended behaviour change;
// compat exits 1 when one is not. `make compat` runs it; docs/compat.md says
// how it works.
//
// The go-redis source is copied from the module cache (the version in
// go.mod) into a temporary directory at run time; nothing of it is kept.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

type options struct {
	work     string
	keep     bool
	docs     string
	mode     string
	focus    string
	skip     string
	run      string
	noSpecs  bool
	noTests  bool
	suiteTO  time.Duration
	testsTO  time.Duration
	redisVer string
	reportOn bool
}

func main() {
	var o options
	flag.StringVar(&o.work, "work", "", "work directory (default: a new temporary directory)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (the go-redis copy, logs, reports)")
	flag.StringVar(&o.docs, "docs", "docs/compat.md", "the document that must list each guarded-only failure")
	flag.StringVar(&o.mode, "mode", "both", "both, bare or guarded")
	flag.StringVar(&o.focus, "focus", "", "ginkgo focus regexp (a subset of the specs)")
	flag.StringVar(&o.skip, "skip", "", "ginkgo skip regexp")
	flag.StringVar(&o.run, "run", "", "regexp selecting the top-level Go tests (default all)")
	flag.BoolVar(&o.noSpecs, "no-specs", false, "do not run the ginkgo specs")
	flag.BoolVar(&o.noTests, "no-tests", false, "do not run the Go tests")
	flag.DurationVar(&o.suiteTO, "suite-timeout", 40*time.Minute, "ginkgo suite timeout per run")
	flag.DurationVar(&o.testsTO, "tests-timeout", 5*time.Minute, "timeout of one Go test process (a hung test ends it; the rest run again)")
	flag.StringVar(&o.redisVer, "redis-version", "", "REDIS_VERSION for the suite (default: major.minor of redis-server --version)")
	flag.BoolVar(&o.reportOn, "report-only", false, "run nothing: print the report of the logs a kept -work directory holds")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "compat:", err)
		if code == 0 {
			code = 2
		}
	}
	stop()
	os.Exit(code)
}

func run(ctx context.Context, o options) (int, error) {
	if o.mode != "both" && o.mode != "bare" && o.mode != "guarded" {
		return 2, fmt.Errorf("-mode %q: want both, bare or guarded", o.mode)
	}
	ws, cleanup, err := prepare(ctx, o)
	defer cleanup()
	if err != nil {
		return 2, err
	}

	r := &runner{
		dir: ws.dir, binary: ws.binary, logDir: ws.logDir,
		env: []string{
			"REDIS_PORT=6379", "REDIS_VERSION=" + ws.redisVer, "RE_CLUSTER=false", "RCE_DOCKER=false",
			"GOREDIS_TEST_SUBJECT=", "CLUSTER_MAINT_INTEGRATION_TEST=", "RUN_MONITOR_TEST=",
		},
		suiteTO: o.suiteTO, testsTO: o.testsTO,
		focus: o.focus, skip: o.skip, run: o.run,
		noSpecs: o.noSpecs, noTests: o.noTests,
		progress: os.Stdout,
	}
	var tests []string
	if !o.reportOn {
		if tests, err = r.listTests(ctx); err != nil {
			return 2, err
		}
	}
	guardLog := filepath.Join(ws.logDir, "guard.log")
	bare, guarded, err := runModes(ctx, o, r, ws.work, guardLog, tests)
	if err != nil {
		return 2, err
	}

	rep := report{
		version: ws.version, redisVer: ws.redisVer, rewrite: ws.rewrite, tests: len(tests),
		bare: bare, guarded: guarded, guardLog: guardLog, docsPath: o.docs,
	}
	if o.docs != "" {
		b, err := os.ReadFile(filepath.Join(ws.repo, o.docs))
		if err != nil {
			return 2, err
		}
		rep.docs = string(b)
	}
	undocumented := rep.print(os.Stdout)
	if undocumented > 0 {
		return 1, nil
	}
	return 0, nil
}

// workspace is where a run works: the rewritten copy of go-redis, its
// test binary and the logs.
type workspace struct {
	repo, version, redisVer string
	work, dir, logDir       string
	binary                  string
	rewrite                 rewriteStats
}

// prepare finds go-redis in the module cache, copies and rewrites it into
// the work directory and builds its test binary (not with -report-only).
// cleanup removes the work directory unless it is kept; it is never nil.
func prepare(ctx context.Context, o options) (ws workspace, cleanup func(), err error) {
	cleanup = func() {}
	if ws.repo, err = goOutput(ctx, "", "list", "-m", "-f", "{{.Dir}}"); err != nil {
		return ws, cleanup, err
	}
	src, err := goOutput(ctx, ws.repo, "list", "-m", "-f", "{{.Dir}}", goRedisPath)
	if err != nil || src == "" {
		return ws, cleanup, fmt.Errorf("go-redis is not in the module cache (run go mod download): %v", err)
	}
	ws.version, _ = goOutput(ctx, ws.repo, "list", "-m", "-f", "{{.Version}}", goRedisPath)
	if ws.redisVer = o.redisVer; ws.redisVer == "" {
		if ws.redisVer, err = redisServerVersion(ctx); err != nil {
			return ws, cleanup, err
		}
	}

	if ws.work = o.work; ws.work == "" {
		if ws.work, err = os.MkdirTemp("", "redisguard-compat-"); err != nil {
			return ws, cleanup, err
		}
	}
	if o.reportOn {
		if o.work == "" {
			return ws, cleanup, errors.New("-report-only needs -work")
		}
		o.keep = true
	}
	if o.keep {
		fmt.Printf("compat: work directory %s (kept)\n", ws.work)
	} else {
		work := ws.work
		cleanup = func() { _ = os.RemoveAll(work) }
	}
	ws.dir = filepath.Join(ws.work, "go-redis")
	ws.logDir = filepath.Join(ws.work, "logs")
	ws.binary = filepath.Join(ws.work, "redis.test")
	if err := os.RemoveAll(ws.dir); err != nil {
		return ws, cleanup, err
	}
	if err := os.MkdirAll(ws.logDir, 0o755); err != nil {
		return ws, cleanup, err
	}

	fmt.Printf("compat: copying go-redis %s from %s\n", ws.version, src)
	if err := copyTree(src, ws.dir); err != nil {
		return ws, cleanup, err
	}
	if ws.rewrite, err = rewriteDir(ws.dir); err != nil {
		return ws, cleanup, fmt.Errorf("rewrite: %w", err)
	}
	if err := useRepo(ctx, ws.dir, ws.repo); err != nil {
		return ws, cleanup, err
	}
	if !o.reportOn {
		fmt.Println("compat: building the suite's test binary")
		if out, err := goCombined(ctx, ws.dir, "test", "-c", "-o", ws.binary, "."); err != nil {
			return ws, cleanup, fmt.Errorf("build the suite: %w\n%s", err, out)
		}
	}
	return ws, cleanup, nil
}

// runModes runs the suite bare, guarded or both (-mode), or with
// -report-only reads the logs of an earlier run.
func runModes(ctx context.Context, o options, r *runner, work, guardLog string, tests []string) (bare, guarded *runResults, err error) {
	if !o.reportOn {
		_ = os.Remove(guardLog)
	}
	for _, mode := range []string{"bare", "guarded"} {
		if o.mode != "both" && o.mode != mode {
			continue
		}
		var res runResults
		if o.reportOn {
			res, err = r.readLogs(mode)
		} else {
			env := []string{"REDISGUARD_COMPAT=" + mode, "REDISGUARD_COMPAT_LOG=" + guardLog}
			res, err = runWithServers(ctx, r, filepath.Join(work, "servers-"+mode), mode, env, tests)
		}
		if err != nil {
			return nil, nil, err
		}
		if mode == "bare" {
			bare = &res
		} else {
			guarded = &res
		}
	}
	return bare, guarded, nil
}

// runWithServers starts a fresh set of servers, runs the suite once and
// stops the servers, whatever happens.
func runWithServers(ctx context.Context, r *runner, dir, mode string, env, tests []string) (runResults, error) {
	if err := os.RemoveAll(dir); err != nil {
		return runResults{}, err
	}
	fmt.Printf("compat: %s: starting servers\n", mode)
	f, err := startFleet(ctx, dir)
	if err != nil {
		return runResults{}, err
	}
	defer func() {
		f.stop()
		fmt.Printf("compat: %s: servers stopped\n", mode)
	}()
	return r.runOnce(ctx, mode, env, tests)
}

// useRepo makes the copy use this repository for redisguard. The copy is
// the main module github.com/redis/go-redis/v9, so redisguard's own import
// of go-redis resolves to the copy: one go-redis in the build.
func useRepo(ctx context.Context, dir, repo string) error {
	const mod = "github.com/redisguard/redisguard"
	if out, err := goCombined(ctx, dir, "mod", "edit", "-require="+mod+"@v0.0.0", "-replace="+mod+"="+repo); err != nil {
		return fmt.Errorf("go mod edit: %w\n%s", err, out)
	}
	sum, err := os.ReadFile(filepath.Join(repo, "go.sum"))
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, "go.sum"), os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(sum)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if out, err := goCombined(ctx, dir, "mod", "tidy"); err != nil {
		return fmt.Errorf("go mod tidy in the copy: %w\n%s", err, out)
	}
	return nil
}

// copyTree copies the module source (read-only in the cache) to dst as
// writable files.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}

func goOutput(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

func goCombined(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS="+strings.TrimSpace(os.Getenv("GOFLAGS")+" -mod=mod"))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// redisServerVersion is "major.minor" of the installed redis-server.
func redisServerVersion(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "redis-server", "--version").Output()
	if err != nil {
		return "", fmt.Errorf("redis-server --version: %w (install it: make deps)", err)
	}
	// "Redis server v=7.0.15 sha=..."
	for _, f := range strings.Fields(string(out)) {
		if v, ok := strings.CutPrefix(f, "v="); ok {
			parts := strings.SplitN(v, ".", 3)
			if len(parts) >= 2 {
				return parts[0] + "." + parts[1], nil
			}
		}
	}
	return "", errors.New("redis-server --version: no version in " + strings.TrimSpace(string(out)))
}
