package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"

	"github.com/redisguard/redisguard/health"
	"github.com/redisguard/redisguard/internal/redistest"
)

// useEnv points the program at url ("" = the embedded Redis) for this test.
func useEnv(t *testing.T, url string) {
	t.Helper()
	for _, k := range []string{"REDIS_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_CLUSTER_ADDRS", "REDIS_SENTINEL_ADDRS"} {
		t.Setenv(k, "")
	}
	t.Setenv("REDIS_URL", url)
}

func TestSummarize(t *testing.T) {
	text := "Redis queues hold tasks. Workers take tasks from Redis queues. The weather is nice today! " +
		"Tasks finish when workers commit tasks. Why?"
	for _, tc := range []struct {
		max  int
		want string
	}{
		// Content-word frequencies: tasks 4; redis, queues, workers 2; the
		// rest 1. Average per sentence: 9/4, 11/5, 3/3, 12/5, 1/1.
		{1, "Tasks finish when workers commit tasks."},
		{2, "Redis queues hold tasks. Tasks finish when workers commit tasks."},
		{3, "Redis queues hold tasks. Workers take tasks from Redis queues. Tasks finish when workers commit tasks."},
		{10, text},
	} {
		got := summarize(text, tc.max)
		if got.Text != tc.want || got.Sentences != 5 {
			t.Errorf("summarize(max %d) = %q (%d sentences), want %q (5)", tc.max, got.Text, got.Sentences, tc.want)
		}
	}
	if got := summarize("no punctuation at all", 3); got.Text != "no punctuation at all" || got.Chosen != 1 {
		t.Errorf("one unterminated sentence: %+v", got)
	}
	if got := summarize("  ", 3); got.Text != "" || got.Sentences != 0 {
		t.Errorf("blank text: %+v", got)
	}
	if got := splitSentences("v1.2 is out. Yes."); !slices.Equal(got, []string{"v1.2 is out.", "Yes."}) {
		t.Errorf("a dot inside a word split the sentence: %q", got)
	}
	d := demoDoc(7)
	if a, b := summarize(d.content, d.max), summarize(d.content, d.max); a != b {
		t.Error("summarize is not deterministic")
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-workers", "0"}, {"-poll", "1500ms"}, {"-demo", "-1"}, {"-nope"},
		{"-demo", "3", "-outage", "-1s"}, {"-outage", "1s"}, {"apis"}, {"api", "-demo", "3"}} {
		if code := run(context.Background(), args, io.Discard, io.Discard); code != 2 {
			t.Errorf("run(%q) = %d, want 2", args, code)
		}
	}
}

// demo runs the program in-process with -demo n and returns its output.
func demo(t *testing.T, n int, extra ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	args := append([]string{"-demo", strconv.Itoa(n)}, extra...)
	code := run(context.Background(), args, &out, &errOut)
	if code != 0 {
		t.Fatalf("taskflow %s exited %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, &out, &errOut)
	}
	return out.String()
}

func TestDemoOnEmbeddedRedis(t *testing.T) {
	useEnv(t, "")
	out := demo(t, 200)
	if !strings.HasPrefix(out, "redis: embedded") {
		t.Errorf("first line does not say the Redis is embedded:\n%s", out)
	}
	for _, want := range []string{"200 done exactly once, 0 failed, 0 completed more than once", "PASS: all 200 tasks completed exactly once",
		"0 of the demo's task ids left"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestDemoOnRealServer(t *testing.T) {
	srv := redistest.Start(t)
	useEnv(t, "redis://"+srv.Addr())
	out := demo(t, 200, "-prefix", "tf")
	if !strings.HasPrefix(out, "redis: real server from the environment (REDIS_URL=redis://"+srv.Addr()+")") {
		t.Errorf("first line does not name REDIS_URL:\n%s", out)
	}
	if !strings.Contains(out, "PASS: all 200 tasks completed exactly once") {
		t.Fatalf("demo did not pass:\n%s", out)
	}

	// Check the server itself, not the demo's own report.
	rdb := srv.Client(t, nil)
	ctx := context.Background()
	var tasks []string
	iter := rdb.Scan(ctx, 0, "tf:task:*", 1000).Iterator()
	for iter.Next(ctx) {
		if !strings.HasSuffix(iter.Val(), ":events") {
			tasks = append(tasks, iter.Val())
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 200 {
		t.Fatalf("%d task hashes on the server, want 200", len(tasks))
	}
	for _, k := range tasks {
		f := rdb.HGetAll(ctx, k).Val()
		if f["status"] != statusDone || f["completions"] != "1" || f["summary"] == "" {
			t.Errorf("%s: status %q completions %q summary %q", k, f["status"], f["completions"], f["summary"])
		}
		if evs := rdb.LRange(ctx, k+":events", 0, -1).Val(); len(evs) < 4 ||
			!strings.Contains(evs[len(evs)-1], `"stage":"done"`) {
			t.Errorf("%s: events %q, want started/split/ranked/done", k, evs)
		}
	}
	if n := rdb.LLen(ctx, "tf:queue").Val(); n != 0 {
		t.Errorf("queue holds %d ids after the demo", n)
	}
	if live, err := health.LiveWorkers(ctx, rdb, "tf:workers:"); err != nil || len(live) != 0 {
		t.Errorf("heartbeats left after a clean stop: %q %v", live, err)
	}
	if keys := rdb.Keys(ctx, "tf:processing:*").Val(); len(keys) != 0 {
		t.Errorf("processing lists left: %q", keys)
	}
}

// started starts the app against srv with args and returns its parts; the
// app is stopped in Cleanup.
func started(t *testing.T, srv *redistest.Server, args ...string) parts {
	t.Helper()
	app, p := startApp(t, srv, args...)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := app.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return p
}

// startApp starts the app against srv with args and returns it and its
// parts; the caller stops it.
func startApp(t *testing.T, srv *redistest.Server, args ...string) (*fx.App, parts) {
	t.Helper()
	useEnv(t, "redis://"+srv.Addr())
	o, err := parseFlags(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o.addr = "127.0.0.1:0"
	var p parts
	app, err := newApp(nil, o, slog.New(slog.NewTextHandler(io.Discard, nil)), &p)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return app, p
}

// putTask writes a queued task's hash, as the API would, without queueing it.
func putTask(t *testing.T, rdb *redis.Client, k keys, id string) {
	t.Helper()
	err := rdb.HSet(context.Background(), k.task(id), "status", statusQueued, "content", "One. Two two. Three.",
		"max_sentences", 1, "attempts", 0, "completions", 0).Err()
	if err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond every 20 ms for up to 15 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func doneOnce(rdb *redis.Client, k keys, id string) bool {
	f := rdb.HMGet(context.Background(), k.task(id), "status", "completions").Val()
	return f[0] == statusDone && f[1] == "1"
}

func TestReaperRecoversOnlyDeadWorkersTasks(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t, nil)
	ctx := context.Background()
	k := keys{"reap"}
	for _, id := range []string{"alive-a", "alive-b", "dead-a"} {
		putTask(t, rdb, k, id)
	}
	rdb.RPush(ctx, k.processing("w-alive"), "alive-a", "alive-b")
	rdb.Set(ctx, k.heartbeatPrefix()+"w-alive", "x", time.Minute)
	rdb.RPush(ctx, k.processing("w-dead"), "dead-a") // no heartbeat: dead

	p := started(t, srv, "-prefix", "reap", "-reap-interval", "50ms")
	eventually(t, "the dead worker's task is done", func() bool { return doneOnce(rdb, k, "dead-a") })
	passes := p.Workers.stats.ReaperPasses.Load()
	eventually(t, "three more reaper passes", func() bool { return p.Workers.stats.ReaperPasses.Load() >= passes+3 })
	if got := rdb.LRange(ctx, k.processing("w-alive"), 0, -1).Val(); !slices.Equal(got, []string{"alive-a", "alive-b"}) {
		t.Fatalf("a live worker's processing list was touched: %q", got)
	}

	// The live worker dies: its heartbeat goes, its tasks come back.
	rdb.Del(ctx, k.heartbeatPrefix()+"w-alive")
	eventually(t, "the second worker's tasks are done", func() bool {
		return doneOnce(rdb, k, "alive-a") && doneOnce(rdb, k, "alive-b")
	})
	if got := p.Workers.stats.Recovered.Load(); got != 3 {
		t.Errorf("recovered %d tasks, want 3", got)
	}
}

func TestOwnOrphanIsRequeued(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t, nil)
	k := keys{"own"}
	p := started(t, srv, "-prefix", "own", "-reap-interval", "50ms")

	// An id in this worker's list that no goroutine holds, as after a
	// BLMOVE whose reply was lost.
	putTask(t, rdb, k, "lost")
	rdb.RPush(context.Background(), k.processing(p.Workers.ID()), "lost")
	eventually(t, "the orphan is done", func() bool { return doneOnce(rdb, k, "lost") })
	if got := p.Workers.stats.Requeued.Load(); got != 1 {
		t.Errorf("requeued %d, want 1", got)
	}
}

func TestStopRequeuesWhatIsLeft(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t, nil)
	ctx := context.Background()
	k := keys{"stop"}
	app, p := startApp(t, srv, "-prefix", "stop", "-reap-interval", "1h")
	putTask(t, rdb, k, "left")
	rdb.RPush(ctx, k.processing(p.Workers.ID()), "left")
	stopCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := app.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}
	if got := rdb.LRange(ctx, k.queue(), 0, -1).Val(); !slices.Equal(got, []string{"left"}) {
		t.Errorf("queue after stop: %q, want the task left in the processing list", got)
	}
	if n := rdb.Exists(ctx, k.processing(p.Workers.ID()), k.heartbeatPrefix()+p.Workers.ID()).Val(); n != 0 {
		t.Errorf("%d of the processing list and heartbeat left after stop", n)
	}
}

func TestCommitScriptCommitsOnce(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t, nil)
	ctx := context.Background()
	k := keys{"c"}
	putTask(t, rdb, k, "t")
	rdb.RPush(ctx, k.processing("w1"), "t")
	rdb.HSet(ctx, k.task("t"), "worker", "w1")
	commitAs := func(worker string) int64 {
		n, err := commitScript.Run(ctx, rdb, []string{k.processing(worker), k.task("t"), k.events("t")},
			"t", worker, statusDone, "sum", 3, "now", `{"stage":"done"}`, 60, k.channel(), "").Int64()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if got := commitAs("w1"); got != 1 {
		t.Fatalf("first commit = %d, want 1", got)
	}
	if got := commitAs("w1"); got != 2 {
		t.Errorf("the same commit again = %d, want 2 (already done by this worker)", got)
	}
	if got := commitAs("w2"); got != 0 {
		t.Errorf("a commit by a worker that does not hold the task = %d, want 0", got)
	}
	f := rdb.HGetAll(ctx, k.task("t")).Val()
	if f["completions"] != "1" || f["status"] != statusDone || f["summary"] != "sum" {
		t.Errorf("task after three commits: %v", f)
	}
	if ttl := rdb.TTL(ctx, k.task("t")).Val(); ttl <= 0 {
		t.Errorf("finished task has no TTL (%s)", ttl)
	}
}

func TestAPI(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t, nil)
	k := keys{"api"}
	a := newAPI(rdb, http.NotFoundHandler(), k, "", slog.New(slog.NewTextHandler(io.Discard, nil)))
	do := func(method, path, body string) (int, map[string]any) {
		rec := httptest.NewRecorder()
		a.srv.Handler.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
		var m map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &m)
		return rec.Code, m
	}
	for _, bad := range []string{`{`, `{"content": "   "}`, `{"content": "x", "max_sentences": 99}`} {
		if code, _ := do(http.MethodPost, "/api/v1/summarize", bad); code != http.StatusBadRequest {
			t.Errorf("POST %s: %d, want 400", bad, code)
		}
	}
	code, m := do(http.MethodPost, "/api/v1/summarize", `{"content": "A b. C d."}`)
	id, _ := m["task_id"].(string)
	if code != http.StatusAccepted || id == "" || m["status"] != statusQueued {
		t.Fatalf("POST: %d %v", code, m)
	}
	if q := rdb.LRange(context.Background(), k.queue(), 0, -1).Val(); !slices.Equal(q, []string{id}) {
		t.Errorf("queue %q, want [%s]", q, id)
	}
	code, m = do(http.MethodGet, "/api/v1/tasks/"+id, "")
	if code != http.StatusOK || m["status"] != statusQueued || m["completions"] != float64(0) {
		t.Errorf("GET task: %d %v", code, m)
	}
	if code, _ := do(http.MethodGet, "/api/v1/tasks/nope", ""); code != http.StatusNotFound {
		t.Errorf("GET unknown task: %d, want 404", code)
	}

	// The batch endpoint: bad input is refused whole, naming the task.
	for _, bad := range []string{`{"tasks": []}`, `{"tasks": [{"content": "x"}, {"content": " "}]}`, `[]`} {
		if code, m := do(http.MethodPost, "/api/v1/summarize/batch", bad); code != http.StatusBadRequest {
			t.Errorf("POST batch %s: %d %v, want 400", bad, code, m)
		}
	}
	if _, m := do(http.MethodPost, "/api/v1/summarize/batch", `{"tasks": [{"content": "x"}, {"content": " "}]}`); !strings.Contains(fmt.Sprint(m["error"]), "tasks[1]: content is empty") {
		t.Errorf("a bad task is not named: %v", m)
	}
	var tasks []string
	for i := range 120 { // three chunks of the batch helpers
		tasks = append(tasks, fmt.Sprintf(`{"content": "Task %d. Done.", "max_sentences": 1}`, i))
	}
	code, m = do(http.MethodPost, "/api/v1/summarize/batch", `{"tasks": [`+strings.Join(tasks, ",")+`]}`)
	if code != http.StatusAccepted || m["queued"] != float64(120) {
		t.Fatalf("POST batch: %d %v", code, m)
	}
	q := rdb.LRange(context.Background(), k.queue(), 1, -1).Val() // after the single task's id
	ids, _ := m["task_ids"].([]any)
	if len(q) != 120 || len(ids) != 120 {
		t.Fatalf("queue holds %d batch ids, the answer %d, want 120", len(q), len(ids))
	}
	for i, id := range ids {
		if q[i] != id {
			t.Fatalf("queue[%d] = %s, want %s: the batch's order is not kept", i+1, q[i], id)
		}
		if st := rdb.HGet(context.Background(), k.task(q[i]), "status").Val(); st != statusQueued {
			t.Fatalf("task %s: status %q", q[i], st)
		}
	}
}

// A real server killed and restarted (with its AOF) under the workers: every
// task queued before the kill still completes exactly once, and nothing is
// left in a processing list.
func TestTasksCompleteOnceAcrossARealServerRestart(t *testing.T) {
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	rdb := srv.Client(t, nil)
	ctx := context.Background()
	k := keys{"restart"}
	p := started(t, srv, "-prefix", "restart", "-reap-interval", "200ms")
	hc := &http.Client{Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()

	var ids []string
	for i := range 40 {
		id, err := submitTask(ctx, hc, "http://"+p.API.Addr(), demoDoc(i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	srv.Kill()
	time.Sleep(500 * time.Millisecond) // let the workers meet the dead server
	srv.Restart()

	eventually(t, "every task is done", func() bool {
		for _, id := range ids {
			if rdb.HGet(ctx, k.task(id), "status").Val() != statusDone {
				return false
			}
		}
		return true
	})
	for _, id := range ids {
		if n := rdb.HGet(ctx, k.task(id), "completions").Val(); n != "1" {
			t.Errorf("task %s completed %s times", id, n)
		}
	}
	eventually(t, "the processing list is empty", func() bool {
		return rdb.LLen(ctx, k.processing(p.Workers.ID())).Val() == 0 && rdb.LLen(ctx, k.queue()).Val() == 0
	})
}
