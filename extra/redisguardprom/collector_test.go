package redisguardprom_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/batch"
	"github.com/redisguard/redisguard/extra/redisguardprom"
	"github.com/redisguard/redisguard/profiles"
)

// figures is what one collector should expose after the workload, apart
// from the durations and the wait times.
type figures struct {
	node                    string
	idle, used              uint32
	inFlightBlk, waitingBlk int
	rejections              int
	closed, open            int
	transitions             string
	notSent, rejected       int
	recovered, gaveUp       int
	notRetried              int
	batchStatus             string
	batchItems              int
	withPool, onlyLimiter   bool
}

func (f figures) text() string {
	var b strings.Builder
	if f.withPool {
		fmt.Fprintf(&b, `# HELP db_client_connection_max The maximum number of open connections the node's pool allows.
# TYPE db_client_connection_max gauge
db_client_connection_max{node=%[1]q} 10
# HELP db_client_connection_pending_requests Requests waiting for a connection of the node's pool.
# TYPE db_client_connection_pending_requests gauge
db_client_connection_pending_requests{node=%[1]q} 0
# HELP db_client_connection_timeouts_total Timeouts waiting for a connection of the node's pool.
# TYPE db_client_connection_timeouts_total counter
db_client_connection_timeouts_total{node=%[1]q} 0
# HELP db_client_connections Connections of the node's pool, by state (idle, used).
# TYPE db_client_connections gauge
db_client_connections{node=%[1]q,state="idle"} %[2]d
db_client_connections{node=%[1]q,state="used"} %[3]d
`, f.node, f.idle, f.used)
	}
	fmt.Fprintf(&b, `# HELP redisguard_limiter_in_flight Commands holding a limiter permit, by class (short, blocking).
# TYPE redisguard_limiter_in_flight gauge
redisguard_limiter_in_flight{class="blocking",node=%[1]q} %[2]d
redisguard_limiter_in_flight{class="short",node=%[1]q} 0
# HELP redisguard_limiter_waiting Commands waiting for a limiter permit, by class (short, blocking).
# TYPE redisguard_limiter_waiting gauge
redisguard_limiter_waiting{class="blocking",node=%[1]q} %[3]d
redisguard_limiter_waiting{class="short",node=%[1]q} 0
`, f.node, f.inFlightBlk, f.waitingBlk)
	if f.onlyLimiter {
		return b.String()
	}
	fmt.Fprintf(&b, `# HELP redisguard_limiter_rejections_total Commands the limiter refused (ErrLimited).
# TYPE redisguard_limiter_rejections_total counter
redisguard_limiter_rejections_total{node=%[1]q} %[2]d
# HELP redisguard_breaker_state 1 for the current state of the node's circuit breaker, 0 for the other states.
# TYPE redisguard_breaker_state gauge
redisguard_breaker_state{node=%[1]q,state="closed"} %[3]d
redisguard_breaker_state{node=%[1]q,state="half_open"} 0
redisguard_breaker_state{node=%[1]q,state="open"} %[4]d
%[5]s# HELP redisguard_retry_attempts_total Retries, by the outcome of the attempt that failed before them.
# TYPE redisguard_retry_attempts_total counter
redisguard_retry_attempts_total{outcome="maybe_applied"} 0
redisguard_retry_attempts_total{outcome="not_sent"} %[6]d
redisguard_retry_attempts_total{outcome="rejected"} %[7]d
# HELP redisguard_retry_calls_total Failed calls, by how they ended (recovered, gave_up, not_retried, budget_spent).
# TYPE redisguard_retry_calls_total counter
redisguard_retry_calls_total{outcome="budget_spent"} 0
redisguard_retry_calls_total{outcome="gave_up"} %[8]d
redisguard_retry_calls_total{outcome="not_retried"} %[12]d
redisguard_retry_calls_total{outcome="recovered"} %[9]d
# HELP redisguard_batch_items_total Items of batches, by what became of them (written, not_written, unknown).
# TYPE redisguard_batch_items_total counter
redisguard_batch_items_total{status=%[10]q} %[11]d
`, f.node, f.rejections, f.closed, f.open, f.transitions, f.notSent, f.rejected, f.gaveUp, f.recovered,
		f.batchStatus, f.batchItems, f.notRetried)
	return b.String()
}

var compared = []string{
	"db_client_connection_max", "db_client_connection_pending_requests", "db_client_connection_timeouts_total",
	"db_client_connections", "redisguard_limiter_in_flight", "redisguard_limiter_waiting",
	"redisguard_limiter_rejections_total", "redisguard_breaker_state", "redisguard_breaker_transitions_total",
	"redisguard_retry_attempts_total", "redisguard_retry_calls_total", "redisguard_batch_items_total",
}

// histogramCounts returns the sample count of each
// db_client_operation_duration_seconds series, keyed by its labels.
func histogramCounts(t *testing.T, c prometheus.Collector) map[string]uint64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]uint64)
	for _, mf := range mfs {
		if mf.GetName() != "db_client_operation_duration_seconds" {
			continue
		}
		if mf.GetType() != dto.MetricType_HISTOGRAM {
			t.Errorf("%s is a %v, want a histogram", mf.GetName(), mf.GetType())
		}
		for _, m := range mf.GetMetric() {
			var kv []string
			for _, l := range m.GetLabel() {
				kv = append(kv, l.GetName()+"="+l.GetValue())
			}
			out[strings.Join(kv, ",")] = m.GetHistogram().GetSampleCount()
			if n := len(m.GetHistogram().GetBucket()); n != 9 {
				t.Errorf("%v: %d buckets, want 9", kv, n)
			}
		}
	}
	return out
}

// After the same workload as the OpenTelemetry adapter's test, each
// collector passes the linter and exposes the expected figures.
func TestCollectorPassesLintAndCompareAfterAKnownWorkload(t *testing.T) {
	a, b, plain := clientsForWorkload(t)
	colA, err := redisguardprom.NewCollector(a.rdb, redisguardprom.Options{Hooks: a.h})
	if err != nil {
		t.Fatal(err)
	}
	defer colA.Close()
	colB, err := redisguardprom.NewCollector(b.rdb, redisguardprom.Options{Hooks: b.h})
	if err != nil {
		t.Fatal(err)
	}
	defer colB.Close()
	addrA, addrB := a.rdb.Options().Addr, b.rdb.Options().Addr

	during := func() {
		want := figures{node: addrA, inFlightBlk: 2, waitingBlk: 1, onlyLimiter: true}
		if err := testutil.CollectAndCompare(colA, strings.NewReader(want.text()),
			"redisguard_limiter_in_flight", "redisguard_limiter_waiting"); err != nil {
			t.Errorf("while two BLPOPs run and one waits: %v", err)
		}
	}
	workload(t, a, b, plain, during, func(g guarded, r batch.Result) {
		if g.rdb == a.rdb {
			colA.RecordBatch(r)
		} else {
			colB.RecordBatch(r)
		}
	}, context.Background())

	for name, c := range map[string]prometheus.Collector{"a": colA, "b": colB} {
		problems, err := testutil.CollectAndLint(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("collector %s: lint: %s: %s", name, p.Metric, p.Text)
		}
	}

	st := a.rdb.PoolStats()
	// The BLPOP shed by the full queue is refused once and not retried.
	wantA := figures{node: addrA, idle: st.IdleConns, used: st.TotalConns - st.IdleConns, rejections: 1, closed: 1,
		rejected: 1, recovered: 1, notRetried: 1, batchStatus: "written", batchItems: 10, withPool: true}
	if err := testutil.CollectAndCompare(colA, strings.NewReader(wantA.text()), compared...); err != nil {
		t.Errorf("collector a: %v", err)
	}
	wantB := figures{node: addrB, open: 1, notSent: 1, gaveUp: 1, batchStatus: "not_written", batchItems: 10,
		withPool: true, transitions: fmt.Sprintf(`# HELP redisguard_breaker_transitions_total State changes of the node's circuit breaker.
# TYPE redisguard_breaker_transitions_total counter
redisguard_breaker_transitions_total{from="closed",node=%q,to="open"} 1
`, addrB)}
	if err := testutil.CollectAndCompare(colB, strings.NewReader(wantB.text()), compared...); err != nil {
		t.Errorf("collector b: %v", err)
	}

	series := func(addr, op, errType string) string {
		return "error_type=" + errType + ",node=" + addr + ",operation=" + op
	}
	gotA := histogramCounts(t, colA)
	for k, want := range map[string]uint64{
		series(addrA, "SET", ""): 3, series(addrA, "GET", ""): 2, series(addrA, "GET", "BUSY"): 1,
		series(addrA, "BLPOP", ""): 2, series(addrA, "PIPELINE", ""): 2,
	} {
		if gotA[k] != want {
			t.Errorf("a: duration count {%s} = %d, want %d (have %v)", k, gotA[k], want, gotA)
		}
	}
	gotB := histogramCounts(t, colB)
	if k := series(addrB, "GET", "connection_refused"); gotB[k] != 1 || len(gotB) != 1 {
		t.Errorf("b: duration counts %v, want only {%s} 1", gotB, k)
	}
}

// A *profiles.Client brings its own hooks; two clients' collectors live in
// one registry told apart by a wrapping label.
func TestCollectorReadsProfilesClientHooks(t *testing.T) {
	addr := startRedis(t)
	cfg := profiles.API()
	cfg.Addr = addr
	pc, err := profiles.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	col, err := redisguardprom.NewCollector(pc, redisguardprom.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer col.Close()
	plain := redis.NewClient(&redis.Options{Addr: addr})
	defer plain.Close()
	plainCol, err := redisguardprom.NewCollector(plain, redisguardprom.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer plainCol.Close()
	reg := prometheus.NewPedanticRegistry()
	prometheus.WrapRegistererWith(prometheus.Labels{"client": "api"}, reg).MustRegister(col)
	prometheus.WrapRegistererWith(prometheus.Labels{"client": "plain"}, reg).MustRegister(plainCol)
	if err := pc.Set(context.Background(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`# HELP redisguard_breaker_state 1 for the current state of the node's circuit breaker, 0 for the other states.
# TYPE redisguard_breaker_state gauge
redisguard_breaker_state{client="api",node=%[1]q,state="closed"} 1
redisguard_breaker_state{client="api",node=%[1]q,state="half_open"} 0
redisguard_breaker_state{client="api",node=%[1]q,state="open"} 0
# HELP redisguard_retry_calls_total Failed calls, by how they ended (recovered, gave_up, not_retried, budget_spent).
# TYPE redisguard_retry_calls_total counter
redisguard_retry_calls_total{client="api",outcome="budget_spent"} 0
redisguard_retry_calls_total{client="api",outcome="gave_up"} 0
redisguard_retry_calls_total{client="api",outcome="not_retried"} 0
redisguard_retry_calls_total{client="api",outcome="recovered"} 0
`, addr)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "redisguard_breaker_state",
		"redisguard_retry_calls_total"); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) != 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}
