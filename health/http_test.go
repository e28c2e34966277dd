package health

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
)

// get serves one request through h and decodes the JSON object it answers.
func get(t *testing.T, h http.Handler, method, path string) (int, map[string]any, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	body := rec.Body.String()
	if rec.Code == http.StatusMethodNotAllowed || rec.Code == http.StatusNotFound {
		return rec.Code, nil, body
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: Content-Type %q", method, path, ct)
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(body), &obj); err != nil {
		t.Fatalf("%s %s: %v in %s", method, path, err, body)
	}
	return rec.Code, obj, body
}

// fields checks that obj has exactly the keys of want and that each value
// passes its check.
func fields(t *testing.T, where string, obj map[string]any, want map[string]func(any) bool) {
	t.Helper()
	for k, ok := range want {
		v, present := obj[k]
		if !present {
			t.Errorf("%s: no %q", where, k)
			continue
		}
		if !ok(v) {
			t.Errorf("%s: %q = %v (%T): implausible", where, k, v, v)
		}
	}
	for k := range obj {
		if _, known := want[k]; !known {
			t.Errorf("%s: unexpected field %q = %v", where, k, obj[k])
		}
	}
}

func num(ok func(float64) bool) func(any) bool {
	return func(v any) bool { f, isNum := v.(float64); return isNum && ok(f) }
}

func str(ok func(string) bool) func(any) bool {
	return func(v any) bool { s, isStr := v.(string); return isStr && ok(s) }
}

func eq(want float64) func(any) bool   { return num(func(f float64) bool { return f == want }) }
func atLeast(n float64) func(any) bool { return num(func(f float64) bool { return f >= n }) }
func positive(v any) bool              { return num(func(f float64) bool { return f > 0 })(v) }
func is(want string) func(any) bool    { return str(func(s string) bool { return s == want }) }

func recent(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	ts, err := time.Parse(time.RFC3339Nano, s)
	return err == nil && time.Since(ts) < time.Hour && time.Since(ts) > -time.Minute
}

func emptyList(v any) bool { l, ok := v.([]any); return ok && len(l) == 0 }

func object(v any) map[string]any { o, _ := v.(map[string]any); return o }

func TestHealthHandlerAnswersByStatus(t *testing.T) {
	s := redistest.Start(t)
	rdb := s.Client(t, &redis.Options{MaxRetries: -1})
	brk := &fakeBreaker{}
	m := newMonitor(t, rdb, Options{Name: "api", Breaker: brk, PingTimeout: 10 * time.Second})
	h := m.Handler()

	// Before any check, the handler runs one.
	code, obj, _ := get(t, h, "GET", "/health")
	if code != http.StatusOK {
		t.Fatalf("healthy: code %d", code)
	}
	fields(t, "/health", obj, map[string]func(any) bool{
		"name":                 is("api"),
		"status":               is("healthy"),
		"reasons":              emptyList,
		"latency_ms":           positive,
		"avg_latency_ms":       positive,
		"consecutive_failures": eq(0),
		"checked_at":           recent,
	})

	brk.set(s.Addr(), hooks.BreakerHalfOpen)
	m.Check(context.Background())
	code, obj, _ = get(t, h, "GET", "/health")
	if code != http.StatusOK || obj["status"] != "degraded" {
		t.Fatalf("degraded: code %d, %v", code, obj)
	}
	if r, _ := obj["reasons"].([]any); len(r) != 1 || r[0] != "breaker half-open for "+s.Addr() {
		t.Fatalf("degraded: reasons %v", obj["reasons"])
	}

	brk.set(s.Addr(), hooks.BreakerOpen)
	m.Check(context.Background())
	if code, obj, _ = get(t, h, "GET", "/health"); code != http.StatusServiceUnavailable || obj["status"] != "unhealthy" {
		t.Fatalf("unhealthy (breaker open): code %d, %v", code, obj)
	}

	// A dead server: 503 with the error.
	brk.set(s.Addr(), hooks.BreakerClosed)
	s.Kill()
	for i := 0; i < defaultRules.FailuresUnhealthy; i++ {
		m.Check(context.Background())
	}
	code, obj, _ = get(t, h, "GET", "/health")
	if code != http.StatusServiceUnavailable {
		t.Fatalf("server killed: code %d, %v", code, obj)
	}
	fields(t, "/health, server killed", obj, map[string]func(any) bool{
		"name":                 is("api"),
		"status":               is("unhealthy"),
		"reasons":              func(v any) bool { l, ok := v.([]any); return ok && len(l) == 1 },
		"latency_ms":           positive,
		"avg_latency_ms":       positive, // the average of the pings that answered
		"consecutive_failures": eq(float64(defaultRules.FailuresUnhealthy)),
		"last_error":           str(func(s string) bool { return s != "" }),
		"checked_at":           recent,
	})
}

func TestHandlerRoutes(t *testing.T) {
	s := redistest.Start(t)
	m := newMonitor(t, s.Client(t, nil), Options{})
	h := m.Handler()
	if code, _, _ := get(t, h, "POST", "/health"); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /health: %d", code)
	}
	if code, _, _ := get(t, h, "GET", "/elsewhere"); code != http.StatusNotFound {
		t.Errorf("GET /elsewhere: %d", code)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("HEAD", "/health", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("HEAD /health: %d", rec.Code)
	}
	mux := http.NewServeMux()
	mux.Handle("/redis/", http.StripPrefix("/redis", h))
	if code, obj, _ := get(t, mux, "GET", "/redis/pool-stats"); code != http.StatusOK || obj["status"] != "healthy" {
		t.Errorf("under a prefix: %d %v", code, obj)
	}
}

func TestPoolStatsHandlerFields(t *testing.T) {
	s := redistest.Start(t, "--maxclients", "777")
	rdb := s.Client(t, &redis.Options{PoolSize: 9})
	lim := &fakeLimiter{
		stats: hooks.LimiterStats{InFlight: 1, InFlightBlocking: 1, Waiting: 2, Admitted: 50, Rejected: 3, Cancelled: 4,
			TotalWait: 250 * time.Millisecond, MaxWaitSeen: 5 * time.Millisecond, Limit: 27,
			LimiterLimits: hooks.LimiterLimits{MaxInFlight: 40, MaxBlocking: 10, MaxWait: 700 * time.Millisecond, MaxWaiting: 30, MinInFlight: 11}},
		nodes: map[string]hooks.LimiterStats{s.Addr(): {InFlight: 1, Admitted: 50}},
	}
	brk := &fakeBreaker{}
	brk.set(s.Addr(), hooks.BreakerClosed)
	rty := &fakeRetry{stats: hooks.RetryStats{Retries: 6, Recovered: 5, GaveUp: 1, NotRetried: 7, BudgetSpent: 8}}
	m := newMonitor(t, rdb, Options{Name: "worker", Limiter: lim, Breaker: brk, Retry: rty})
	m.Check(context.Background())

	code, obj, _ := get(t, m.Handler(), "GET", "/pool-stats")
	if code != http.StatusOK {
		t.Fatalf("code %d", code)
	}
	isObject := func(v any) bool { return object(v) != nil }
	fields(t, "/pool-stats", obj, map[string]func(any) bool{
		"name":                 is("worker"),
		"status":               is("healthy"),
		"reasons":              emptyList,
		"latency_ms":           positive,
		"avg_latency_ms":       positive,
		"consecutive_failures": eq(0),
		"checked_at":           recent,
		"pool":                 isObject,
		"server":               isObject,
		"hooks":                isObject,
	})
	pool := object(obj["pool"])
	poolFields := map[string]func(any) bool{
		"max_connections":       eq(9),
		"created_connections":   atLeast(1),
		"available_connections": atLeast(0),
		"in_use_connections":    atLeast(0),
		"hits":                  atLeast(0),
		"misses":                atLeast(1),
		"timeouts":              eq(0),
		"waits":                 atLeast(0),
		"wait_duration_ms":      atLeast(0),
		"stale":                 atLeast(0),
		"unusable":              atLeast(0),
		"pending_requests":      eq(0),
	}
	if _, ok := pool["pipeline"]; ok {
		poolFields["pipeline"] = func(v any) bool { return object(v) != nil }
	}
	fields(t, "pool", pool, poolFields)
	if pool["available_connections"].(float64)+pool["in_use_connections"].(float64) != pool["created_connections"].(float64) {
		t.Errorf("available + in use != created: %v", pool)
	}
	fields(t, "server", object(obj["server"]), map[string]func(any) bool{
		"connected_clients":    atLeast(1),
		"blocked_clients":      eq(0),
		"maxclients":           eq(777),
		"rejected_connections": eq(0),
		"used_memory":          positive,
		"maxmemory":            eq(0),
	})
	hk := object(obj["hooks"])
	fields(t, "hooks", hk, map[string]func(any) bool{
		"limiter":  isObject,
		"breakers": func(v any) bool { return object(v)[s.Addr()] == "closed" && len(object(v)) == 1 },
		"retry":    isObject,
	})
	limiterFields := map[string]func(any) bool{
		"in_flight": eq(1), "in_flight_blocking": eq(1), "waiting": eq(2), "admitted": eq(50), "rejected": eq(3),
		"cancelled": eq(4), "total_wait_ms": eq(250), "max_wait_seen_ms": eq(5), "max_in_flight": eq(40),
		"max_blocking": eq(10), "max_wait_ms": eq(700), "max_waiting": eq(30), "min_in_flight": eq(11),
		"limit": eq(27), "nodes": isObject,
	}
	fields(t, "hooks.limiter", object(hk["limiter"]), limiterFields)
	node := object(object(object(hk["limiter"])["nodes"])[s.Addr()])
	if node["in_flight"] != 1.0 || node["admitted"] != 50.0 {
		t.Errorf("hooks.limiter.nodes[%s] = %v", s.Addr(), node)
	}
	fields(t, "hooks.retry", object(hk["retry"]), map[string]func(any) bool{
		"retries": eq(6), "recovered": eq(5), "gave_up": eq(1), "not_retried": eq(7), "budget_spent": eq(8),
	})

	// Without hooks, "hooks" is an empty object.
	bare := newMonitor(t, rdb, Options{})
	bare.Check(context.Background())
	if _, obj, _ := get(t, bare.Handler(), "GET", "/pool-stats"); len(object(obj["hooks"])) != 0 {
		t.Errorf("hooks without hooks: %v", obj["hooks"])
	}
}

func TestNoPasswordInJSONOrLogs(t *testing.T) {
	// Set the password after the start: the harness's readiness PING has no
	// password, and a server started with --requirepass answers it NOAUTH.
	s := redistest.Start(t)
	if _, err := redistest.Do(s.Addr(), 5*time.Second, "CONFIG", "SET", "requirepass", "secret"); err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, password string, want Status) {
		rdb := s.Client(t, &redis.Options{Password: password, MaxRetries: -1})
		var logs logBuffer
		m := newMonitor(t, rdb, Options{Interval: 20 * time.Millisecond, Logger: logs.logger(),
			Rules: Rules{FailuresUnhealthy: 1}})
		m.Start()
		waitStatus(t, m, want)
		r := m.Check(context.Background())
		m.Stop()
		var out strings.Builder
		for _, path := range []string{"/health", "/pool-stats"} {
			_, _, body := get(t, m.Handler(), "GET", path)
			out.WriteString(body)
		}
		js, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		out.Write(js)
		out.WriteString(logs.String())
		for _, secret := range []string{"secret", password} {
			if strings.Contains(out.String(), secret) {
				t.Fatalf("%q appears in the output:\n%s", secret, out.String())
			}
		}
		if !strings.Contains(logs.String(), "Redis pool health") {
			t.Fatalf("no debug lines were logged, so the check proves nothing:\n%s", logs.String())
		}
	}
	t.Run("right password", func(t *testing.T) { check(t, "secret", StatusHealthy) })
	t.Run("wrong password", func(t *testing.T) { check(t, "hunter2", StatusUnhealthy) })
}

func TestHealthJSONIsStableToDecode(t *testing.T) {
	// Report.MarshalJSON and the handler's JSON agree on the shared fields.
	s := redistest.Start(t)
	m := newMonitor(t, s.Client(t, nil), Options{Name: "x"})
	r := m.Check(context.Background())
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var fromReport map[string]any
	if err := json.Unmarshal(js, &fromReport); err != nil {
		t.Fatal(err)
	}
	_, fromHandler, _ := get(t, m.Handler(), "GET", "/health")
	for k, v := range fromHandler {
		if w, ok := fromReport[k]; !ok || !jsonEqual(v, w) {
			t.Errorf("%s: handler %v, report %v", k, v, w)
		}
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestNewHandlerWithNoMonitorIsUnavailable(t *testing.T) {
	rec := httptest.NewRecorder()
	NewHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("/health with no monitor: %d, want 503", rec.Code)
	}
	rec = httptest.NewRecorder()
	NewHandler(nil).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/health", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /health: %d, want 405", rec.Code)
	}
}
