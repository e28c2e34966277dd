package health

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// Handler serves the monitor's figures over HTTP:
//
//   - GET /health: 200 when the status is healthy or degraded, 503 when it
//     is unhealthy, with the JSON object {name, status, reasons, latency_ms,
//     avg_latency_ms, consecutive_failures, last_error, checked_at}.
//   - GET /pool-stats: 200 with the whole Report as JSON: the above plus
//     pool, server, info_error, nodes and hooks.
//
// Both serve the last report and send no command to Redis, so a probe
// cannot add load; only before the first check do they run one, bounded by
// the request's context. Neither carries a password or any client option.
// Mount it under a prefix with http.StripPrefix.
func (m *Monitor) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /health", m.healthHandler())
	mux.Handle("GET /pool-stats", m.poolStatsHandler())
	return mux
}

// healthHandler serves /health's answer (see Handler) on any path and method.
func (m *Monitor) healthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rep := m.current(r)
		code := http.StatusOK
		if rep.Status == StatusUnhealthy {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, rep.summary())
	})
}

// poolStatsHandler serves /pool-stats's answer (see Handler) on any path and
// method.
func (m *Monitor) poolStatsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, m.current(r))
	})
}

// current is the last report, or a fresh one when no check has run yet.
func (m *Monitor) current(r *http.Request) Report {
	rep := m.Report()
	if rep.Status == "" {
		rep = m.Check(r.Context())
	}
	if rep.Reasons == nil {
		rep.Reasons = []string{}
	}
	return rep
}

// summary is the body /health serves (see Handler): the Report's status
// and ping figures, without the pool, server, node and hook figures.
type summary struct {
	Name                string    `json:"name,omitempty"`
	Status              Status    `json:"status"`
	Reasons             []string  `json:"reasons"`
	LatencyMs           float64   `json:"latency_ms"`
	AvgLatencyMs        float64   `json:"avg_latency_ms"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	LastError           string    `json:"last_error,omitempty"`
	CheckedAt           time.Time `json:"checked_at"`
}

// summary returns r as /health serves it.
func (r Report) summary() summary {
	return summary{
		Name:                r.Name,
		Status:              r.Status,
		Reasons:             r.Reasons,
		LatencyMs:           ms(r.Latency),
		AvgLatencyMs:        ms(r.AvgLatency),
		ConsecutiveFailures: r.ConsecutiveFailures,
		LastError:           r.LastError,
		CheckedAt:           r.CheckedAt,
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "health: encoding JSON: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(append(body, '\n'))
}

// MarshalJSON writes the report as /pool-stats serves it: durations in
// milliseconds (latency_ms, avg_latency_ms, the pool's wait_duration_ms, a
// node's latency_ms, the limiter's total_wait_ms, max_wait_seen_ms and
// max_wait_ms) and breaker states by name ("closed", "half-open", "open")
// under hooks.breakers.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report
	out := struct {
		plain
		LatencyMs    float64    `json:"latency_ms"`
		AvgLatencyMs float64    `json:"avg_latency_ms"`
		Pool         poolJSON   `json:"pool"`
		Nodes        []nodeJSON `json:"nodes,omitempty"`
		Hooks        hooksJSON  `json:"hooks"`
	}{plain: plain(r), LatencyMs: ms(r.Latency), AvgLatencyMs: ms(r.AvgLatency), Pool: encodePool(r.Pool), Hooks: encodeHooks(r.Hooks)}
	if r.Nodes != nil {
		out.Nodes = make([]nodeJSON, len(r.Nodes))
		for i, n := range r.Nodes {
			out.Nodes[i] = nodeJSON{plainNode: plainNode(n), LatencyMs: ms(n.Latency), Pool: encodePool(n.Pool)}
		}
	}
	return json.Marshal(out)
}

// The JSON forms of the figures: each figure type without its methods, and
// the fields written in another form alongside (a field of the outer struct
// wins over the embedded one of the same JSON name).
type (
	plainPool    PoolFigures
	plainNode    NodeFigures
	plainLimiter LimiterFigures
	plainHooks   HookFigures

	poolJSON struct {
		plainPool
		WaitDurationMs float64   `json:"wait_duration_ms"`
		Pipeline       *poolJSON `json:"pipeline,omitempty"`
	}
	nodeJSON struct {
		plainNode
		LatencyMs float64  `json:"latency_ms"`
		Pool      poolJSON `json:"pool"`
	}
	limiterJSON struct {
		plainLimiter
		TotalWaitMs   float64                `json:"total_wait_ms"`
		MaxWaitSeenMs float64                `json:"max_wait_seen_ms"`
		MaxWaitMs     float64                `json:"max_wait_ms"`
		Nodes         map[string]limiterJSON `json:"nodes,omitempty"`
	}
	hooksJSON struct {
		plainHooks
		Limiter  *limiterJSON      `json:"limiter,omitempty"`
		Breakers map[string]string `json:"breakers,omitempty"`
	}
)

func encodePool(p PoolFigures) poolJSON {
	j := poolJSON{plainPool: plainPool(p), WaitDurationMs: ms(p.WaitDuration)}
	if p.Pipeline != nil {
		pp := encodePool(*p.Pipeline)
		j.Pipeline = &pp
	}
	return j
}

func encodeLimiter(l LimiterFigures) limiterJSON {
	j := limiterJSON{plainLimiter: plainLimiter(l), TotalWaitMs: ms(l.TotalWait), MaxWaitSeenMs: ms(l.MaxWaitSeen), MaxWaitMs: ms(l.MaxWait)}
	if l.Nodes != nil {
		j.Nodes = make(map[string]limiterJSON, len(l.Nodes))
		for addr, n := range l.Nodes {
			j.Nodes[addr] = encodeLimiter(n)
		}
	}
	return j
}

func encodeHooks(h HookFigures) hooksJSON {
	j := hooksJSON{plainHooks: plainHooks(h)}
	if h.Limiter != nil {
		l := encodeLimiter(*h.Limiter)
		j.Limiter = &l
	}
	if h.Breakers != nil {
		j.Breakers = make(map[string]string, len(h.Breakers))
		for addr, st := range h.Breakers {
			j.Breakers[addr] = string(st)
		}
	}
	return j
}

// NewHandler serves several monitors under one HTTP handler; nil ones are
// skipped:
//
//   - GET /health: the worst status of all monitors, 200 when it is healthy
//     or degraded and 503 when it is unhealthy (or when there is no
//     monitor), with the JSON object {status, monitors: {NAME: summary}},
//     each summary as a monitor's own /health serves it (see Handler).
//   - GET /pool-stats: 200 with {NAME: report}, each report as a monitor's
//     own /pool-stats serves it.
//
// NAME is each monitor's Options.Name ("monitorN", N its place in the
// arguments, when it has none). Like a monitor's own Handler it serves the
// last reports and sends no command to Redis, except that a monitor that
// has not checked yet runs one check, bounded by the request's context.
func NewHandler(monitors ...*Monitor) http.Handler {
	g := &group{}
	for _, m := range monitors {
		if m != nil {
			g.monitors = append(g.monitors, m)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", g.serveHealth)
	mux.HandleFunc("GET /pool-stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, g.reports(r))
	})
	return mux
}

// group is what NewHandler serves.
type group struct{ monitors []*Monitor }

// reports returns each monitor's current report by name.
func (g *group) reports(r *http.Request) map[string]Report {
	out := make(map[string]Report, len(g.monitors))
	for i, m := range g.monitors {
		rep := m.current(r)
		name := rep.Name
		if name == "" {
			name = "monitor" + strconv.Itoa(i)
		}
		out[name] = rep
	}
	return out
}

func (g *group) serveHealth(w http.ResponseWriter, r *http.Request) {
	reps := g.reports(r)
	body := struct {
		Status   Status             `json:"status"`
		Monitors map[string]summary `json:"monitors"`
	}{Monitors: make(map[string]summary, len(reps))}
	rank := map[Status]int{StatusHealthy: 1, StatusDegraded: 2, StatusUnhealthy: 3}
	// No monitor, or a check abandoned because the request ended, leaves
	// the status empty: nothing says Redis is usable.
	unknown, worst := len(reps) == 0, StatusHealthy
	for name, rep := range reps {
		body.Monitors[name] = rep.summary()
		if rep.Status == "" {
			unknown = true
		} else if rank[rep.Status] > rank[worst] {
			worst = rep.Status
		}
	}
	if !unknown {
		body.Status = worst
	}
	code := http.StatusOK
	if body.Status == StatusUnhealthy || body.Status == "" {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, body)
}
