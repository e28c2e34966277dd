package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// outcome is how one test or spec ended.
type outcome string

const (
	passed  outcome = "passed"
	failed  outcome = "failed"
	skipped outcome = "skipped"
)

// result is one test or spec of one run.
type result struct {
	Outcome outcome
	Detail  string // the failure message (first lines), for failures
}

// runResults is everything one run (bare or guarded) produced.
type runResults struct {
	Specs      map[string]result // ginkgo specs by full text
	Tests      map[string]result // Go tests by name (subtests as Parent/Sub)
	SuiteError string            // why the ginkgo suite gave no report, if it did not
	Crashed    []string          // Go tests that were running when the test binary died
}

// runner runs the compiled suite in its package directory.
type runner struct {
	dir      string   // the rewritten go-redis copy
	binary   string   // its compiled test binary
	env      []string // base environment
	logDir   string   // where logs and reports go
	suiteTO  time.Duration
	testsTO  time.Duration
	focus    string // ginkgo focus, "" for all
	skip     string // ginkgo skip
	run      string // Go test -run, "" for all listed tests
	noSpecs  bool
	noTests  bool
	progress io.Writer
}

func (r *runner) command(ctx context.Context, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, r.binary, args...)
	cmd.Dir = r.dir
	cmd.Env = append(append(os.Environ(), r.env...), env...)
	// Own process group, killed whole on cancel; killed with the harness.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// listTests returns the suite's top-level Go tests and fuzz targets, without
// TestGinkgoSuite and the examples (go-redis's own CI skips the examples:
// they expect data of their own).
func (r *runner) listTests(ctx context.Context) ([]string, error) {
	cmd := r.command(ctx, nil, "-test.list", ".")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("list tests: %w", err)
	}
	var re *regexp.Regexp
	if r.run != "" {
		if re, err = regexp.Compile(r.run); err != nil {
			return nil, fmt.Errorf("-run: %w", err)
		}
	}
	var names []string
	for _, l := range strings.Split(string(out), "\n") {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "Test") && !strings.HasPrefix(l, "Fuzz") {
			continue
		}
		if l == "TestGinkgoSuite" || (re != nil && !re.MatchString(l)) {
			continue
		}
		names = append(names, l)
	}
	return names, nil
}

// runOnce runs the ginkgo suite, then the Go tests, with env added.
func (r *runner) runOnce(ctx context.Context, mode string, env []string, tests []string) (runResults, error) {
	res := runResults{Specs: map[string]result{}, Tests: map[string]result{}}
	if !r.noSpecs {
		if err := r.runSpecs(ctx, mode, env, &res); err != nil {
			return res, err
		}
	}
	if !r.noTests && len(tests) > 0 {
		if err := r.runTests(ctx, mode, env, tests, &res); err != nil {
			return res, err
		}
	}
	return res, ctx.Err()
}

// readLogs reads the results a run left in the log directory (for
// -report-only). Test binaries that died are not told apart there.
func (r *runner) readLogs(mode string) (runResults, error) {
	res := runResults{Specs: map[string]result{}, Tests: map[string]result{}}
	if !r.noSpecs {
		report := fmt.Sprintf("%s/%s-specs.json", r.logDir, mode)
		specs, err := readGinkgoReport(report)
		if err != nil {
			res.SuiteError = err.Error()
		} else {
			res.Specs = specs
		}
	}
	for round := 1; !r.noTests; round++ {
		f, err := os.Open(fmt.Sprintf("%s/%s-tests-%d.jsonl", r.logDir, mode, round))
		if errors.Is(err, os.ErrNotExist) {
			break
		}
		if err != nil {
			return res, err
		}
		parseTestEvents(f, res.Tests)
		_ = f.Close()
	}
	return res, nil
}

// runSpecs runs TestGinkgoSuite with a JSON report and a fixed seed, so
// both runs take the specs in the same order.
func (r *runner) runSpecs(ctx context.Context, mode string, env []string, res *runResults) error {
	report := fmt.Sprintf("%s/%s-specs.json", r.logDir, mode)
	logPath := fmt.Sprintf("%s/%s-specs.log", r.logDir, mode)
	args := []string{
		"-test.run", "^TestGinkgoSuite$", "-test.count", "1", "-test.v",
		"-test.timeout", (r.suiteTO + 5*time.Minute).String(),
		"-ginkgo.timeout", r.suiteTO.String(),
		"-ginkgo.seed", "1", "-ginkgo.no-color", "-ginkgo.succinct",
		"-ginkgo.json-report", report,
	}
	if r.focus != "" {
		args = append(args, "-ginkgo.focus", r.focus)
	}
	if r.skip != "" {
		args = append(args, "-ginkgo.skip", r.skip)
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer func() { _ = logf.Close() }()
	cmd := r.command(ctx, env, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	fmt.Fprintf(r.progress, "compat: %s: ginkgo specs (log %s)\n", mode, logPath)
	start := time.Now()
	runErr := cmd.Run()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	fmt.Fprintf(r.progress, "compat: %s: ginkgo specs done in %s (%v)\n", mode, time.Since(start).Round(time.Second), exitText(runErr))
	specs, err := readGinkgoReport(report)
	if err != nil {
		res.SuiteError = fmt.Sprintf("no ginkgo report (%v); the suite process ended with %v; see %s", err, exitText(runErr), logPath)
		return nil
	}
	res.Specs = specs
	return nil
}

func exitText(err error) string {
	if err == nil {
		return "exit 0"
	}
	return err.Error()
}

// suiteNodePrefix starts the names of suite-level nodes (BeforeSuite,
// AfterSuite), which are not specs.
const suiteNodePrefix = "["

// readGinkgoReport reads the specs of a ginkgo JSON report. Suite-level
// nodes (BeforeSuite, AfterSuite) count as specs named by their type.
func readGinkgoReport(path string) (map[string]result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var reports []struct {
		SpecReports []struct {
			ContainerHierarchyTexts []string
			LeafNodeText            string
			LeafNodeType            string
			State                   string
			Failure                 struct {
				Message        string
				ForwardedPanic string
				Location       struct {
					FileName   string
					LineNumber int
				}
			}
		}
	}
	if err := json.Unmarshal(b, &reports); err != nil {
		return nil, err
	}
	out := map[string]result{}
	seen := map[string]int{}
	for _, rep := range reports {
		for _, s := range rep.SpecReports {
			parts := append(append([]string{}, s.ContainerHierarchyTexts...), s.LeafNodeText)
			name := strings.TrimSpace(strings.Join(parts, " "))
			if s.LeafNodeType != "It" {
				name = strings.TrimSpace(suiteNodePrefix + s.LeafNodeType + "] " + name)
			}
			// Specs with the same text (several at one place, made in a
			// loop) are told apart by their order: the seed is fixed, so it
			// is the same in both runs.
			if seen[name]++; seen[name] > 1 {
				name = fmt.Sprintf("%s (#%d)", name, seen[name])
			}
			var r result
			switch s.State {
			case "passed":
				r.Outcome = passed
			case "skipped", "pending":
				r.Outcome = skipped
			default: // failed, panicked, timedout, interrupted, aborted
				r.Outcome = failed
				msg := s.Failure.Message
				if s.Failure.ForwardedPanic != "" {
					msg = s.Failure.ForwardedPanic
				}
				r.Detail = fmt.Sprintf("%s at %s:%d: %s", s.State, baseName(s.Failure.Location.FileName),
					s.Failure.Location.LineNumber, firstLines(msg, 3))
			}
			out[name] = r
		}
	}
	return out, nil
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, " | ")
}

// runTests runs the Go tests through test2json. A test that panics or
// hangs ends the test binary; it is recorded as crashed (a failure) and the
// tests not yet run are started again in a new process.
func (r *runner) runTests(ctx context.Context, mode string, env []string, tests []string, res *runResults) error {
	remaining := tests
	for round := 1; len(remaining) > 0; round++ {
		logPath := fmt.Sprintf("%s/%s-tests-%d.jsonl", r.logDir, mode, round)
		fmt.Fprintf(r.progress, "compat: %s: %d Go tests (log %s)\n", mode, len(remaining), logPath)
		pattern := "^(" + strings.Join(remaining, "|") + ")$"
		args := []string{"-p", "redis", r.binary,
			"-test.v=test2json", "-test.run", pattern, "-test.count", "1",
			"-test.timeout", r.testsTO.String()}
		cmd := exec.CommandContext(ctx, "go", append([]string{"tool", "test2json", "-t"}, args...)...)
		cmd.Dir = r.dir
		cmd.Env = append(append(os.Environ(), r.env...), env...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = 10 * time.Second
		logf, err := os.Create(logPath)
		if err != nil {
			return err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			_ = logf.Close()
			return err
		}
		cmd.Stderr = logf
		if err := cmd.Start(); err != nil {
			_ = logf.Close()
			return err
		}
		started, ended := parseTestEvents(io.TeeReader(stdout, logf), res.Tests)
		runErr := cmd.Wait()
		_ = logf.Close()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var next []string
		var crashed []string
		for _, t := range remaining {
			switch {
			case ended[t]:
			case started[t]:
				crashed = append(crashed, t)
			default:
				next = append(next, t)
			}
		}
		for _, t := range crashed {
			res.Crashed = append(res.Crashed, t)
			prev := res.Tests[t]
			res.Tests[t] = result{Outcome: failed, Detail: "the test binary died during this test (" + exitText(runErr) + "); " + prev.Detail}
		}
		if len(next) == len(remaining) {
			return fmt.Errorf("%s: Go tests made no progress (%v); see %s", mode, exitText(runErr), logPath)
		}
		remaining = next
	}
	return nil
}

// parseTestEvents reads test2json events into results and returns which
// tests (top-level and subtests) started and which ended.
func parseTestEvents(rd io.Reader, results map[string]result) (started, ended map[string]bool) {
	started, ended = map[string]bool{}, map[string]bool{}
	output := map[string][]string{}
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var ev struct {
			Action string
			Test   string
			Output string
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.Test == "" {
			continue
		}
		switch ev.Action {
		case "run":
			started[ev.Test] = true
		case "output":
			if o := output[ev.Test]; len(o) < 400 {
				output[ev.Test] = append(o, ev.Output)
			}
		case "pass":
			ended[ev.Test] = true
			results[ev.Test] = result{Outcome: passed}
			delete(output, ev.Test)
		case "skip":
			ended[ev.Test] = true
			results[ev.Test] = result{Outcome: skipped}
			delete(output, ev.Test)
		case "fail":
			ended[ev.Test] = true
			results[ev.Test] = result{Outcome: failed, Detail: failureText(output[ev.Test])}
			delete(output, ev.Test)
		}
	}
	// Tests that started and never ended keep their output as the detail.
	for t, o := range output {
		if started[t] && !ended[t] {
			results[t] = result{Outcome: failed, Detail: failureText(o)}
		}
	}
	return started, ended
}

// failureText keeps the lines of a failed test's output that say why.
func failureText(lines []string) string {
	var keep []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- ") {
			continue
		}
		keep = append(keep, t)
		if len(keep) == 3 {
			break
		}
	}
	return strings.Join(keep, " | ")
}
