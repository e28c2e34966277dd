package fxmodule

import (
	"encoding/json"
	"fmt"
	"net/http"

	"go.uber.org/fx"

	"github.com/redisguard/redisguard/health"
)

// Health serves several monitors under one HTTP handler:
//
//   - GET /health: the worst status of all monitors, 200 when it is healthy
//     or degraded and 503 when it is unhealthy, with a JSON object
//     {status, monitors: {NAME: summary}}, each summary (health.Summary)
//     as health's /health serves it: {name, status, reasons, latency_ms,
//     avg_latency_ms, consecutive_failures, last_error, checked_at}.
//   - GET /pool-stats: 200 with {NAME: report}, each report as health's
//     /pool-stats serves it (pool, server, hook figures).
//
// NAME is each monitor's report name ("api", "worker"). Like the monitors'
// own handlers it serves the last reports and sends no command to Redis,
// except that a monitor that has not checked yet runs one check, bounded by
// the request's context. Mount it under a prefix with http.StripPrefix.
type Health struct {
	monitors []*health.Monitor
	mux      *http.ServeMux
}

// NewHealth returns a handler serving the given monitors; nil ones are
// skipped.
func NewHealth(monitors ...*health.Monitor) *Health {
	h := &Health{}
	for _, m := range monitors {
		if m != nil {
			h.monitors = append(h.monitors, m)
		}
	}
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("GET /health", h.serveHealth)
	h.mux.HandleFunc("GET /pool-stats", h.servePoolStats)
	return h
}

// ServeHTTP serves /health and /pool-stats.
func (h *Health) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// reports returns each monitor's last report by name, running a check for
// a monitor that has none yet (bounded by r's context).
func (h *Health) reports(r *http.Request) map[string]health.Report {
	out := make(map[string]health.Report, len(h.monitors))
	for i, m := range h.monitors {
		rep := m.Report()
		if rep.Status == "" {
			rep = m.Check(r.Context())
		}
		if rep.Reasons == nil {
			rep.Reasons = []string{}
		}
		name := rep.Name
		if name == "" {
			name = fmt.Sprintf("monitor%d", i)
		}
		out[name] = rep
	}
	return out
}

// Status returns the worst of the monitors' last statuses: unhealthy, then
// degraded, then healthy; "" when a monitor has not checked yet or there is
// no monitor.
func (h *Health) Status() health.Status {
	reps := make([]health.Report, 0, len(h.monitors))
	for _, m := range h.monitors {
		reps = append(reps, m.Report())
	}
	return worst(reps)
}

func worst(reps []health.Report) health.Status {
	if len(reps) == 0 {
		return ""
	}
	rank := map[health.Status]int{health.StatusHealthy: 1, health.StatusDegraded: 2, health.StatusUnhealthy: 3}
	w := health.StatusHealthy
	for _, r := range reps {
		if r.Status == "" {
			return ""
		}
		if rank[r.Status] > rank[w] {
			w = r.Status
		}
	}
	return w
}

func (h *Health) serveHealth(w http.ResponseWriter, r *http.Request) {
	reps := h.reports(r)
	body := struct {
		Status   health.Status             `json:"status"`
		Monitors map[string]health.Summary `json:"monitors"`
	}{Monitors: make(map[string]health.Summary, len(reps))}
	list := make([]health.Report, 0, len(reps))
	for name, rep := range reps {
		list = append(list, rep)
		body.Monitors[name] = rep.Summary()
	}
	body.Status = worst(list)
	code := http.StatusOK
	if body.Status == health.StatusUnhealthy || body.Status == "" {
		// "" here means no monitor, or a check abandoned because the
		// request ended: nothing says Redis is usable.
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, body)
}

func (h *Health) servePoolStats(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, h.reports(r))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "fxmodule: encoding JSON: "+err.Error(), http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(append(body, '\n'))
}

// NewHealthHandlerParams are NewHealthHandler's inputs: the monitors the
// module provides, each optional, so the handler serves whichever side is
// present.
type NewHealthHandlerParams struct {
	fx.In

	API    *health.Monitor `name:"redis_api" optional:"true"`
	Worker *health.Monitor `name:"redis_worker" optional:"true"`
}

// NewHealthHandlerResult is NewHealthHandler's output.
type NewHealthHandlerResult struct {
	fx.Out

	// Handler is a *Health serving the API and Worker monitors.
	Handler http.Handler `name:"redis_health"`
}

// NewHealthHandler returns the health handler (see Health) for the
// monitors in the graph.
func NewHealthHandler(p NewHealthHandlerParams) NewHealthHandlerResult {
	return NewHealthHandlerResult{Handler: NewHealth(p.API, p.Worker)}
}
