package health_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/redisguard/redisguard/health"
	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
	"github.com/redisguard/redisguard/profiles"
)

// getHealth serves one GET /health and returns its code and status.
func getHealth(t *testing.T, h http.Handler) (int, health.Status) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
	var body struct{ Status health.Status }
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("/health body %q: %v", rec.Body.String(), err)
	}
	return rec.Code, body.Status
}

// waitHealth polls /health until it answers code with status, for at most
// 15 s.
func waitHealth(t *testing.T, h http.Handler, code int, status health.Status, what string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		gotCode, gotStatus := getHealth(t, h)
		if gotCode == code && gotStatus == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: /health still answers %d (%s), want %d (%s)", what, gotCode, gotStatus, code, status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHealthLaggedBreaker: the Worker preset's monitor (60 s interval)
// reported healthy during an outage while every command failed fast on the
// open circuit, until its next check. The status now follows the breaker:
// /health turns 503 when the circuit opens and 200 when it closes, with no
// check in between.
func TestHealthLaggedBreaker(t *testing.T) {
	s := redistest.Start(t)
	c := profiles.Worker()
	c.Addr = s.Addr()
	pc, err := profiles.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	brk := pc.Hooks.Breaker

	var mu sync.Mutex
	var changes []health.Status
	m, err := health.NewMonitor(pc, health.Options{
		Name:     "worker",
		Interval: profiles.Worker().HealthCheckInterval,
		Breaker:  brk,
		OnStatusChange: func(_, to health.Status, _ []string) {
			mu.Lock()
			changes = append(changes, to)
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	m.Start()
	defer m.Stop()
	h := m.Handler()
	for m.Report().Status == "" { // the first check, made by Start
		time.Sleep(10 * time.Millisecond)
	}
	waitHealth(t, h, http.StatusOK, health.StatusHealthy, "first check")

	ctx := context.Background()
	s.Kill()
	for i := 0; brk.States()[s.Addr()] != hooks.BreakerOpen; i++ {
		if i == 20 {
			t.Fatalf("the breaker did not open after 20 GETs to a dead server: %v", brk.States()[s.Addr()])
		}
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_ = pc.Get(cctx, "k").Err()
		cancel()
	}
	waitHealth(t, h, http.StatusServiceUnavailable, health.StatusUnhealthy, "circuit open")

	s.Restart()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pc.Set(cctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET after the restart (Worker waits out the circuit): %v", err)
	}
	if st := brk.States()[s.Addr()]; st != hooks.BreakerClosed {
		t.Fatalf("breaker %v after a successful SET, want closed", st)
	}
	// 200 at once; healthy once the check the closing asks for has PINGed
	// (the PING of a check during the outage had failed).
	waitHealth(t, h, http.StatusOK, health.StatusHealthy, "circuit closed")
	mu.Lock()
	defer mu.Unlock()
	if len(changes) < 3 || changes[0] != health.StatusHealthy {
		t.Fatalf("OnStatusChange saw %v, want healthy, unhealthy, ..., healthy", changes)
	}
}
