package examples_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/redisguard/redisguard/internal/redistest"
)

// The examples are built once, into binDir, the first time a test needs them.
var (
	binDir    string
	buildOnce sync.Once
	buildErr  error
	buildOut  []byte
)

var examples = []string{"taskflow", "attach", "starvation", "fxapp"}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "redisguard-examples-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		os.RemoveAll(dir)
		os.Exit(code)
	}))
}

// binary builds every example (with -race when the tests run with it) and
// returns the path of one.
func binary(t *testing.T, name string) string {
	t.Helper()
	buildOnce.Do(func() {
		args := []string{"build", "-o", binDir + string(filepath.Separator)}
		if raceEnabled {
			args = append(args, "-race")
		}
		for _, e := range examples {
			args = append(args, "./"+e)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", args...)
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build of the examples: %v\n%s", buildErr, buildOut)
	}
	return filepath.Join(binDir, name)
}

// env is the test process's environment without any Redis variable, plus
// extra ("KEY=value").
func env(extra ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "REDIS_") || strings.HasPrefix(kv, "WORKER_REDIS_") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, extra...)
}

// backend is one Redis an example runs against; first is how the
// example's first line starts.
type backend struct {
	name, first string
	env         []string
}

// backends are the embedded default and the real server srv.
func backends(srv *redistest.Server) []backend {
	return []backend{
		{"embedded", "redis: embedded", env()},
		{"real server", "redis: real server", env("REDIS_URL=redis://" + srv.Addr())},
	}
}

// runExample runs an example to its end and returns its output and exit code.
func runExample(t *testing.T, environ []string, name string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t, name), args...)
	cmd.Env = environ
	cmd.WaitDelay = 5 * time.Second
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = cmd.ProcessState.ExitCode()
	if err != nil && code == 0 {
		t.Fatalf("%s: %v", name, err)
	}
	return o.String(), e.String(), code
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func TestTaskflowDemoOnEmbeddedRedis(t *testing.T) {
	t.Parallel()
	out, errOut, code := runExample(t, env(), "taskflow", "-demo", "200")
	if code != 0 {
		t.Fatalf("taskflow -demo 200 exited %d\n%s\n%s", code, out, errOut)
	}
	if !strings.HasPrefix(firstLine(out), "redis: embedded") {
		t.Errorf("first line %q does not say the Redis is embedded", firstLine(out))
	}
	for _, want := range []string{"tasks:       200 done exactly once, 0 failed, 0 completed more than once, 0 wrong summaries, 0 unfinished, 0 not submitted",
		"PASS: all 200 tasks completed exactly once"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestTaskflowDemoOnRealServer(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	out, errOut, code := runExample(t, env("REDIS_URL=redis://"+srv.Addr()), "taskflow", "-demo", "200", "-prefix", "demo")
	if code != 0 {
		t.Fatalf("taskflow -demo 200 exited %d\n%s\n%s", code, out, errOut)
	}
	if want := "redis: real server from the environment (REDIS_URL=redis://" + srv.Addr() + ")"; firstLine(out) != want {
		t.Errorf("first line %q, want %q", firstLine(out), want)
	}
	if !strings.Contains(out, "PASS: all 200 tasks completed exactly once") {
		t.Fatalf("demo did not pass:\n%s", out)
	}

	// What the server holds: 200 tasks, each done, each completed once.
	rdb := srv.Client(t, nil)
	ctx := context.Background()
	done := 0
	iter := rdb.Scan(ctx, 0, "demo:task:*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		if strings.HasSuffix(k, ":events") {
			continue
		}
		f := rdb.HMGet(ctx, k, "status", "completions").Val()
		if f[0] != "done" || f[1] != "1" {
			t.Errorf("%s: status %v, completions %v", k, f[0], f[1])
		}
		done++
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	if done != 200 {
		t.Errorf("%d tasks on the server, want 200", done)
	}
}

// server is an example running until it gets SIGINT.
type server struct {
	t     *testing.T
	cmd   *exec.Cmd
	lines chan string
	out   strings.Builder // every stdout line seen
	err   bytes.Buffer
	url   string
}

var listening = regexp.MustCompile(`listening on (http://\S+)`)

// startServer runs an example in server mode and waits for its
// "listening on http://..." line.
func startServer(t *testing.T, environ []string, name string, args ...string) *server {
	t.Helper()
	return startProcess(t, environ, listening, name, args...)
}

// startProcess runs an example until SIGINT and waits for a line matching
// ready; the line's first submatch, if any, is the server's URL.
func startProcess(t *testing.T, environ []string, ready *regexp.Regexp, name string, args ...string) *server {
	t.Helper()
	s := &server{t: t, lines: make(chan string, 64)}
	s.cmd = exec.Command(binary(t, name), args...)
	s.cmd.Env = environ
	s.cmd.Stderr = &s.err
	s.cmd.WaitDelay = 5 * time.Second
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			_ = s.cmd.Process.Kill()
			for range s.lines {
			}
			_ = s.cmd.Wait()
		}
	})
	timeout := time.After(time.Minute)
	for up := false; !up; {
		select {
		case line, ok := <-s.lines:
			if !ok {
				t.Fatalf("%s exited before listening\nstdout:\n%s\nstderr:\n%s", name, &s.out, &s.err)
			}
			s.out.WriteString(line + "\n")
			if m := ready.FindStringSubmatch(line); m != nil {
				up = true
				if len(m) > 1 {
					s.url = m[1]
				}
			}
		case <-timeout:
			t.Fatalf("%s did not say it was listening\nstdout:\n%s\nstderr:\n%s", name, &s.out, &s.err)
		}
	}
	return s
}

// interrupt sends SIGINT and returns the exit code and the whole stdout.
func (s *server) interrupt() (int, string) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGINT); err != nil {
		s.t.Fatal(err)
	}
	for line := range s.lines {
		s.out.WriteString(line + "\n")
	}
	err := s.cmd.Wait()
	if err != nil && s.cmd.ProcessState.ExitCode() == 0 {
		s.t.Fatal(err)
	}
	return s.cmd.ProcessState.ExitCode(), s.out.String()
}

func get(t *testing.T, hc *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestTaskflowServer(t *testing.T) {
	t.Parallel()
	s := startServer(t, env(), "taskflow", "-addr", "127.0.0.1:0")
	hc := &http.Client{Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()

	resp, err := hc.Post(s.url+"/api/v1/summarize", "application/json",
		strings.NewReader(`{"content": "Queues hold tasks. Workers take tasks. Tasks end.", "max_sentences": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	var sub struct {
		TaskID string `json:"task_id"`
	}
	err = json.NewDecoder(resp.Body).Decode(&sub)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusAccepted || sub.TaskID == "" {
		t.Fatalf("POST /api/v1/summarize: %d %v %+v", resp.StatusCode, err, sub)
	}
	var task struct {
		Status      string
		Summary     string
		Completions int
		Events      []struct{ Stage string }
	}
	for deadline := time.Now().Add(30 * time.Second); task.Status != "done"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("task not done: %+v", task)
		}
		code, body := get(t, hc, s.url+"/api/v1/tasks/"+sub.TaskID)
		if code != http.StatusOK {
			t.Fatalf("GET task: %d %s", code, body)
		}
		if err := json.Unmarshal([]byte(body), &task); err != nil {
			t.Fatal(err)
		}
	}
	// "tasks" is the most frequent word, and the shortest sentence has it.
	if task.Summary != "Tasks end." || task.Completions != 1 || len(task.Events) != 4 || task.Events[3].Stage != "done" {
		t.Errorf("finished task: %+v", task)
	}

	if code, body := get(t, hc, s.url+"/health"); code != http.StatusOK || !strings.Contains(body, `"api"`) || !strings.Contains(body, `"worker"`) {
		t.Errorf("/health: %d %s", code, body)
	}
	if code, body := get(t, hc, s.url+"/api/v1/redis/pool-stats"); code != http.StatusOK || !strings.Contains(body, `"max_connections":200`) {
		t.Errorf("/api/v1/redis/pool-stats: %d %s", code, body)
	}
	hc.CloseIdleConnections()

	code, out := s.interrupt()
	if code != 0 || !strings.Contains(out, "taskflow: stopping") {
		t.Errorf("after SIGINT: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, &s.err)
	}
}

func TestAttach(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	for _, tc := range backends(srv) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, errOut, code := runExample(t, tc.env, "attach")
			if code != 0 {
				t.Fatalf("attach exited %d\n%s\n%s", code, out, errOut)
			}
			for _, want := range []string{tc.first, "bare go-redis", "after profiles.Apply", "0 of 10: 4 BLPOPs held the blocking budget, 6 waited",
				"OK: with the hooks attached"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

func TestStarvation(t *testing.T) {
	t.Parallel()
	out, errOut, code := runExample(t, env(), "starvation", "-duration", "500ms")
	if code != 0 {
		t.Fatalf("starvation exited %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"redis: embedded", "SET ops/s", "\nbare go-redis ", "\nredisguard ", "4 of 16 slots for blocking commands"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestFxapp(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	for _, tc := range backends(srv) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, tc.env, "fxapp", "-addr", "127.0.0.1:0")
			hc := &http.Client{Timeout: 10 * time.Second}
			defer hc.CloseIdleConnections()
			for i := 1; i <= 2; i++ {
				if code, body := get(t, hc, s.url+"/hits"); code != http.StatusOK || body != fmt.Sprintf("hits: %d\n", i) {
					t.Errorf("GET /hits #%d: %d %q", i, code, body)
				}
			}
			if code, body := get(t, hc, s.url+"/health"); code != http.StatusOK || !strings.Contains(body, `"status":"healthy"`) {
				t.Errorf("/health: %d %s", code, body)
			}
			hc.CloseIdleConnections()
			code, out := s.interrupt()
			if code != 0 || !strings.HasPrefix(out, tc.first) {
				t.Errorf("exit %d, output:\n%s\nstderr:\n%s", code, out, &s.err)
			}
			if tc.name == "real server" {
				if got := srv.Client(t, nil).Get(context.Background(), "fxapp:hits").Val(); got != "2" {
					t.Errorf("fxapp:hits on the real server = %q, want 2", got)
				}
			}
		})
	}
}

// count returns the number in out just before suffix, as in "13 failed":
// the first match of `(\d+)` + suffix, or -1.
func count(out, suffix string) int {
	m := regexp.MustCompile(`(\d+)` + regexp.QuoteMeta(suffix)).FindStringSubmatch(out)
	if m == nil {
		return -1
	}
	var n int
	fmt.Sscan(m[1], &n)
	return n
}

// The demo with Redis taken away mid-run: the embedded server is stopped
// and restarted; a real server named by REDIS_URL is left running and the
// demo's relay to it is cut. Either way the API fails fast, /health says
// 503 and comes back, and every task still completes exactly once.
func TestTaskflowDemoRidesOutAnOutage(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	for _, tc := range backends(srv) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, errOut, code := runExample(t, tc.env, "taskflow", "-demo", "60", "-outage", "2s", "-prefix", "outage")
			if code != 0 {
				t.Fatalf("taskflow -demo 60 -outage 2s exited %d\n%s\n%s", code, out, errOut)
			}
			for _, want := range []string{tc.first, "outage:      for 2s", "back:        Redis back after",
				"batch:       15 tasks in one POST /api/v1/summarize/batch -> 202, 15 queued",
				"queue ids,   batch.RPush: 15 written, 0 not written, 0 unknown",
				"with batch.Publish: 60 written, 0 not written, 0 unknown; the demo's subscriber received 60",
				"tasks:       60 done exactly once, 0 failed, 0 completed more than once, 0 wrong summaries, 0 unfinished, 0 not submitted",
				"GET /health -> 200 ", "GET /api/v1/redis/pool-stats -> 200 ",
				"PASS: all 60 tasks completed exactly once"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if n := count(out, " failed with 503"); n < 1 {
				t.Errorf("the API answered no request with 503 while Redis was away (%d):\n%s", n, out)
			}
			if n := count(out, " of them refused at once by the open breaker"); n < 1 {
				t.Errorf("the API's breaker never refused a request while Redis was away (%d):\n%s", n, out)
			}
			if n := count(out, " times, the first"); n < 1 {
				t.Errorf("/health never answered 503 while Redis was away (%d):\n%s", n, out)
			}
			if tc.name != "real server" {
				return
			}
			if !strings.Contains(out, "is not the demo's to stop") {
				t.Errorf("the demo does not say it left the real server alone:\n%s", out)
			}
			// The server itself: every task done once, nothing left queued.
			rdb := srv.Client(t, nil)
			ctx := context.Background()
			done := 0
			iter := rdb.Scan(ctx, 0, "outage:task:*", 1000).Iterator()
			for iter.Next(ctx) {
				if strings.HasSuffix(iter.Val(), ":events") {
					continue
				}
				f := rdb.HMGet(ctx, iter.Val(), "status", "completions").Val()
				if f[0] != "done" || f[1] != "1" {
					t.Errorf("%s: status %v, completions %v", iter.Val(), f[0], f[1])
				}
				done++
			}
			if err := iter.Err(); err != nil {
				t.Fatal(err)
			}
			if done != 60 {
				t.Errorf("%d tasks on the server, want 60", done)
			}
			if n := rdb.LLen(ctx, "outage:queue").Val(); n != 0 {
				t.Errorf("%d ids left in the queue", n)
			}
		})
	}
}

// The same system as two processes, "taskflow api" (fxmodule.APIModule)
// and "taskflow worker" (fxmodule.WorkerModule), built as the user runs
// them and sharing one real server.
func TestTaskflowAPIAndWorkerProcesses(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	environ := env("REDIS_URL=redis://" + srv.Addr())
	api := startServer(t, environ, "taskflow", "api", "-addr", "127.0.0.1:0", "-prefix", "split")
	worker := startProcess(t, environ, regexp.MustCompile(`^taskflow worker: running worker`), "taskflow", "worker", "-prefix", "split", "-workers", "4")
	hc := &http.Client{Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()

	post := func(path, body string, want int, v any) {
		t.Helper()
		resp, err := hc.Post(api.url+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != want {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
		}
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	for i := range 10 {
		var sub struct {
			TaskID string `json:"task_id"`
		}
		post("/api/v1/summarize", fmt.Sprintf(`{"content": "Task %d is here. Tasks end.", "max_sentences": 1}`, i), http.StatusAccepted, &sub)
		ids = append(ids, sub.TaskID)
	}
	var tasks []string
	for i := range 10 {
		tasks = append(tasks, fmt.Sprintf(`{"content": "Batch %d goes. Batch tasks end."}`, i))
	}
	var br struct {
		TaskIDs []string `json:"task_ids"`
		Status  []string `json:"status"`
		Queued  int      `json:"queued"`
	}
	post("/api/v1/summarize/batch", `{"tasks": [`+strings.Join(tasks, ",")+`]}`, http.StatusAccepted, &br)
	if br.Queued != 10 || len(br.TaskIDs) != 10 {
		t.Fatalf("batch: %+v", br)
	}
	ids = append(ids, br.TaskIDs...)

	for _, id := range ids {
		var task struct {
			Status      string
			Completions int
			Worker      string
		}
		for deadline := time.Now().Add(30 * time.Second); task.Status != "done"; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("task %s not done: %+v\nworker stderr:\n%s", id, task, &worker.err)
			}
			code, body := get(t, hc, api.url+"/api/v1/tasks/"+id)
			if code != http.StatusOK {
				t.Fatalf("GET task: %d %s", code, body)
			}
			if err := json.Unmarshal([]byte(body), &task); err != nil {
				t.Fatal(err)
			}
		}
		if task.Completions != 1 || task.Worker == "" {
			t.Errorf("task %s: %+v", id, task)
		}
	}
	// The API process has only the API client: its /health names no worker.
	if code, body := get(t, hc, api.url+"/health"); code != http.StatusOK || !strings.Contains(body, `"api"`) || strings.Contains(body, `"worker"`) {
		t.Errorf("the api process's /health: %d %s", code, body)
	}
	hc.CloseIdleConnections()

	for _, p := range []*server{api, worker} {
		if code, out := p.interrupt(); code != 0 || !strings.Contains(out, "stopping") {
			t.Errorf("after SIGINT: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, &p.err)
		}
	}
	rdb := srv.Client(t, nil)
	ctx := context.Background()
	if keys := rdb.Keys(ctx, "split:workers:*").Val(); len(keys) != 0 {
		t.Errorf("heartbeats left after the worker stopped: %q", keys)
	}
	if keys := rdb.Keys(ctx, "split:processing:*").Val(); len(keys) != 0 {
		t.Errorf("processing lists left: %q", keys)
	}
}

func TestTaskflowAPIModeRefusesTheEmbeddedRedis(t *testing.T) {
	t.Parallel()
	out, errOut, code := runExample(t, env(), "taskflow", "api")
	if code != 2 || !strings.Contains(errOut, "set REDIS_URL") {
		t.Errorf("taskflow api with no REDIS_URL: exit %d\n%s\n%s", code, out, errOut)
	}
}
