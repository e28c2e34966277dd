package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/batch"
)

// maxBody bounds a request body.
const maxBody = 1 << 20

// API is the HTTP side of taskflow: it enqueues tasks and reports them.
//
//	POST /api/v1/summarize          {"content": "...", "max_sentences": 3} -> 202 {"task_id", "status"}
//	POST /api/v1/summarize/batch    {"tasks": [{"content": ...}, ...]} -> 202, or 503 with what was queued
//	GET  /api/v1/tasks/{id}         status, summary, progress events
//	GET  /health                    both Redis clients' health (503 when unhealthy)
//	GET  /api/v1/redis/pool-stats   pool, server and hook figures of both clients
type API struct {
	rdb    redis.UniversalClient
	keys   keys
	log    *slog.Logger
	srv    *http.Server
	addr   string // requested listen address
	bound  string // actual address once started
	health http.Handler
}

func newAPI(rdb redis.UniversalClient, healthHandler http.Handler, k keys, addr string, log *slog.Logger) *API {
	a := &API{rdb: rdb, keys: k, log: log, addr: addr, health: healthHandler}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/summarize", a.submit)
	mux.HandleFunc("POST /api/v1/summarize/batch", a.submitBatch)
	mux.HandleFunc("GET /api/v1/tasks/{id}", a.task)
	mux.Handle("GET /health", healthHandler)
	mux.Handle("GET /api/v1/redis/pool-stats", http.StripPrefix("/api/v1/redis", healthHandler))
	a.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	return a
}

// Start listens and serves on a goroutine of its own; it returns once the
// listener is open, so Addr is known.
func (a *API) Start(context.Context) error {
	ln, err := net.Listen("tcp", a.addr)
	if err != nil {
		return fmt.Errorf("taskflow: listen on %s: %w", a.addr, err)
	}
	a.bound = ln.Addr().String()
	go func() {
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("HTTP server stopped", slog.String("error", err.Error()))
		}
	}()
	a.log.Info("taskflow API listening", slog.String("addr", a.bound))
	return nil
}

// Stop stops accepting requests and waits for the ones in progress (bounded
// by ctx), then closes whatever is left.
func (a *API) Stop(ctx context.Context) error {
	err := a.srv.Shutdown(ctx)
	if err != nil {
		_ = a.srv.Close()
	}
	return err
}

// Addr is the address the API listens on, once started.
func (a *API) Addr() string { return a.bound }

type submitRequest struct {
	Content      string `json:"content"`
	MaxSentences int    `json:"max_sentences,omitempty"`
}

type submitResponse struct {
	TaskID string `json:"task_id"`
	Status string `json:"status"`
}

// check validates req and fills in the default; it returns what is wrong.
func (req *submitRequest) check() string {
	if strings.TrimSpace(req.Content) == "" {
		return "content is empty"
	}
	if req.MaxSentences == 0 {
		req.MaxSentences = 3
	}
	if req.MaxSentences < 1 || req.MaxSentences > 50 {
		return "max_sentences must be between 1 and 50"
	}
	return ""
}

func (a *API) submit(w http.ResponseWriter, r *http.Request) {
	var req submitRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(&req); err != nil {
		httpError(w, http.StatusBadRequest, "body must be JSON {\"content\": \"...\"}: "+err.Error())
		return
	}
	if msg := req.check(); msg != "" {
		httpError(w, http.StatusBadRequest, msg)
		return
	}
	id := newID(8)
	ctx := r.Context()
	// The task hash and the queue entry go in one MULTI/EXEC: a worker
	// never sees an id without its task, and a failure leaves neither.
	_, err := a.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, a.keys.task(id),
			"status", statusQueued,
			"content", req.Content,
			"max_sentences", req.MaxSentences,
			"created_at", time.Now().UTC().Format(time.RFC3339Nano),
			"attempts", 0,
			"completions", 0)
		p.RPush(ctx, a.keys.queue(), id)
		return nil
	})
	if err != nil {
		a.log.Warn("enqueue failed", slog.String("error", err.Error()))
		httpError(w, http.StatusServiceUnavailable, "could not enqueue the task: "+err.Error())
		return
	}
	writeJSON(w, http.StatusAccepted, submitResponse{TaskID: id, Status: statusQueued})
}

// maxBatch bounds the tasks of one batch request.
const maxBatch = 1000

type batchRequest struct {
	Tasks []submitRequest `json:"tasks"`
}

// batchReport is what one batch helper call did, as batch.Result counts it.
type batchReport struct {
	Written    int    `json:"written"`
	NotWritten []int  `json:"not_written"`
	Unknown    []int  `json:"unknown"`
	Error      string `json:"error,omitempty"`
}

func report(res batch.Result, err error) batchReport {
	r := batchReport{Written: len(res.Written), NotWritten: res.NotWritten, Unknown: res.Unknown}
	if r.NotWritten == nil {
		r.NotWritten = []int{}
	}
	if r.Unknown == nil {
		r.Unknown = []int{}
	}
	if err != nil {
		r.Error = err.Error()
	}
	return r
}

// batchResponse is what POST /api/v1/summarize/batch returns. TaskIDs and
// Status follow the request's order; Status is "queued", "not_queued"
// (certainly not: send it again) or "unknown" (it may be queued: look it up
// before sending it again). Hashes and Queue are the batch helpers' reports.
type batchResponse struct {
	TaskIDs []string    `json:"task_ids"`
	Status  []string    `json:"status"`
	Queued  int         `json:"queued"`
	Hashes  batchReport `json:"hashes"` // batch.Run: one task hash per item
	Queue   batchReport `json:"queue"`  // batch.RPush: the queued ids, one RPUSH per chunk
}

// submitBatch queues many tasks in two round trips per chunk of 50 rather
// than one MULTI/EXEC per task: the task hashes first (batch.Run, HSET),
// then the ids of the hashes written (batch.RPush onto the queue), so a
// worker never takes an id without its task. The answer says exactly which
// tasks are queued, which certainly are not, and which may be.
func (a *API) submitBatch(w http.ResponseWriter, r *http.Request) {
	var req batchRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16*maxBody))
	if err := dec.Decode(&req); err != nil {
		httpError(w, http.StatusBadRequest, "body must be JSON {\"tasks\": [{\"content\": \"...\"}, ...]}: "+err.Error())
		return
	}
	if len(req.Tasks) == 0 || len(req.Tasks) > maxBatch {
		httpError(w, http.StatusBadRequest, fmt.Sprintf("tasks must hold 1 to %d tasks, not %d", maxBatch, len(req.Tasks)))
		return
	}
	for i := range req.Tasks {
		if msg := req.Tasks[i].check(); msg != "" {
			httpError(w, http.StatusBadRequest, fmt.Sprintf("tasks[%d]: %s", i, msg))
			return
		}
	}
	ctx := r.Context()
	resp := batchResponse{TaskIDs: make([]string, len(req.Tasks)), Status: make([]string, len(req.Tasks))}
	created := time.Now().UTC().Format(time.RFC3339Nano)
	for i := range resp.TaskIDs {
		resp.TaskIDs[i] = newID(8)
		resp.Status[i] = "not_queued"
	}
	idx := make([]int, len(req.Tasks))
	for i := range idx {
		idx[i] = i
	}
	hres, herr := batch.Run(ctx, a.rdb, idx, func(p redis.Pipeliner, i int) error {
		p.HSet(ctx, a.keys.task(resp.TaskIDs[i]),
			"status", statusQueued,
			"content", req.Tasks[i].Content,
			"max_sentences", req.Tasks[i].MaxSentences,
			"created_at", created,
			"attempts", 0,
			"completions", 0)
		return nil
	}, batch.Options{})
	resp.Hashes = report(hres, herr)
	// Only tasks whose hash is certainly written are queued; the others'
	// hashes (unknown) hold no queue entry and are harmless.
	written := batch.Pick(idx, hres.Written)
	qres, qerr := batch.RPush(ctx, a.rdb, a.keys.queue(), batch.Pick(resp.TaskIDs, written), batch.Options{})
	resp.Queue = report(qres, qerr)
	for _, j := range qres.Written {
		resp.Status[written[j]] = statusQueued
		resp.Queued++
	}
	for _, j := range qres.Unknown {
		resp.Status[written[j]] = "unknown"
	}
	code := http.StatusAccepted
	if herr != nil || qerr != nil {
		code = http.StatusServiceUnavailable
		a.log.Warn("batch enqueue incomplete", slog.Int("tasks", len(req.Tasks)), slog.Int("queued", resp.Queued))
	}
	writeJSON(w, code, resp)
}

// taskResponse is what GET /api/v1/tasks/{id} returns.
type taskResponse struct {
	TaskID      string            `json:"task_id"`
	Status      string            `json:"status"`
	Summary     string            `json:"summary,omitempty"`
	Sentences   int               `json:"sentences,omitempty"`
	Worker      string            `json:"worker,omitempty"`
	Attempts    int               `json:"attempts"`
	Completions int               `json:"completions"`
	Error       string            `json:"error,omitempty"`
	CreatedAt   string            `json:"created_at,omitempty"`
	StartedAt   string            `json:"started_at,omitempty"`
	FinishedAt  string            `json:"finished_at,omitempty"`
	Events      []json.RawMessage `json:"events"`
}

func (a *API) task(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ctx := r.Context()
	var (
		h   *redis.MapStringStringCmd
		evs *redis.StringSliceCmd
	)
	_, err := a.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		h = p.HGetAll(ctx, a.keys.task(id))
		evs = p.LRange(ctx, a.keys.events(id), 0, -1)
		return nil
	})
	if err != nil {
		httpError(w, http.StatusServiceUnavailable, "could not read the task: "+err.Error())
		return
	}
	f := h.Val()
	if len(f) == 0 {
		httpError(w, http.StatusNotFound, "no task "+id)
		return
	}
	resp := taskResponse{
		TaskID:      id,
		Status:      f["status"],
		Summary:     f["summary"],
		Sentences:   atoi(f["sentences"]),
		Worker:      f["worker"],
		Attempts:    atoi(f["attempts"]),
		Completions: atoi(f["completions"]),
		Error:       f["error"],
		CreatedAt:   f["created_at"],
		StartedAt:   f["started_at"],
		FinishedAt:  f["finished_at"],
		Events:      []json.RawMessage{},
	}
	for _, e := range evs.Val() {
		if json.Valid([]byte(e)) {
			resp.Events = append(resp.Events, json.RawMessage(e))
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(body, '\n'))
}

func httpError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
