package redisguardotel_test

import (
	"context"
	"errors"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/redisguard/redisguard/batch"
	"github.com/redisguard/redisguard/extra/redisguardotel"
	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/profiles"
)

// guarded is a client with its redisguard hooks.
type guarded struct {
	rdb *redis.Client
	h   profiles.Hooks
}

func newGuarded(t *testing.T, addr string, ro hooks.RetryOptions, bo hooks.BreakerOptions, lo hooks.LimiterOptions) guarded {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 10, MaxRetries: -1, ContextTimeoutEnabled: true,
		DialerRetries: 1})
	t.Cleanup(func() { rdb.Close() })
	var g guarded
	var err error
	g.rdb = rdb
	if g.h.Timeouts, err = hooks.NewTimeouts(hooks.TimeoutOptions{}); err != nil {
		t.Fatal(err)
	}
	if g.h.Retry, err = hooks.NewRetry(ro); err != nil {
		t.Fatal(err)
	}
	if g.h.Breaker, err = hooks.NewBreaker(bo); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.h.Breaker.Close() })
	if g.h.Limiter, err = hooks.NewLimiter(lo); err != nil {
		t.Fatal(err)
	}
	if err := hooks.Attach(rdb, g.h.List()...); err != nil {
		t.Fatal(err)
	}
	return g
}

// workload runs the known workload on a (a healthy server) and b (a port
// that refuses connections). In the middle, while two BLPOPs hold the
// blocking budget of a and a third one waits, it calls during. After it,
// on a: 3 SET, 2 GET of a missing key (one first refused with BUSY, then
// retried and recovered), 4 BLPOP (two served, one cancelled while
// waiting, one shed by the limiter's full queue, which Retry does not
// retry), a batch of 10 items written; on b: one GET whose dial is refused (the breaker opens; the
// retry finds the circuit open and gives up), a batch of 10 items not
// written.
func workload(t *testing.T, a, b guarded, plain *redis.Client, during func(), recordBatch func(guarded, batch.Result), spanCtx context.Context) {
	t.Helper()
	ctx := context.Background()
	for i := range 3 {
		if err := a.rdb.Set(ctx, "k"+strconv.Itoa(i), "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}

	// A forced retry: a script keeps the server BUSY; the first retry kills
	// it, and the second attempt gets the answer.
	if err := plain.ConfigSet(ctx, "busy-reply-threshold", "1").Err(); err != nil {
		t.Fatal(err)
	}
	scriptDone := make(chan error, 1)
	scripter := redis.NewClient(&redis.Options{Addr: plain.Options().Addr, ReadTimeout: -1})
	defer scripter.Close()
	go func() { scriptDone <- scripter.Eval(ctx, "while true do end", nil).Err() }()
	for {
		err := plain.Ping(ctx).Err()
		if err != nil && strings.HasPrefix(err.Error(), "BUSY") {
			break
		}
		time.Sleep(time.Millisecond)
	}
	var once sync.Once
	unsub := a.h.Retry.Subscribe(func(context.Context, hooks.RetryEvent) {
		once.Do(func() {
			if err := plain.ScriptKill(ctx).Err(); err != nil {
				t.Errorf("SCRIPT KILL: %v", err)
			}
		})
	})
	if err := a.rdb.Get(spanCtx, "missing").Err(); err != redis.Nil {
		t.Fatalf("GET during BUSY: %v, want redis.Nil after a retry", err)
	}
	unsub()
	if err := <-scriptDone; err == nil {
		t.Fatal("the killed script returned no error")
	}
	if err := a.rdb.Get(ctx, "missing").Err(); err != redis.Nil {
		t.Fatal(err)
	}

	// The limiter: two BLPOPs take the blocking budget, a third waits, a
	// fourth finds the queue full (MaxWaiting 1) and is refused.
	served := make(chan error, 2)
	for range 2 {
		go func() { served <- a.rdb.BLPop(ctx, 0, "q").Err() }()
	}
	for a.h.Limiter.Stats().InFlightBlocking != 2 {
		time.Sleep(time.Millisecond)
	}
	waitCtx, cancelWait := context.WithCancel(ctx)
	waited := make(chan error, 1)
	go func() { waited <- a.rdb.BLPop(waitCtx, 0, "q").Err() }()
	for a.h.Limiter.Stats().Waiting != 1 {
		time.Sleep(time.Millisecond)
	}
	if err := a.rdb.BLPop(ctx, 0, "q").Err(); !errors.Is(err, hooks.ErrLimited) {
		t.Fatalf("BLPOP past MaxWaiting: %v, want ErrLimited", err)
	}
	during()
	cancelWait()
	if err := <-waited; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled BLPOP: %v", err)
	}
	if err := plain.RPush(ctx, "q", "x", "y").Err(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-served; err != nil {
			t.Fatal(err)
		}
	}

	// The open circuit: b's first dial is refused, which opens its breaker
	// (ConsecutiveFailures 1); the retry then finds the circuit open.
	if err := b.rdb.Get(ctx, "k").Err(); !errors.Is(err, hooks.ErrCircuitOpen) {
		t.Fatalf("GET on a refusing port: %v, want ErrCircuitOpen after one retry", err)
	}

	items := []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
	for _, g := range []guarded{a, b} {
		res, _ := batch.RPush(ctx, g.rdb, "list", items, batch.Options{ChunkSize: 5})
		recordBatch(g, res)
	}
}

func clientsForWorkload(t *testing.T) (a, b guarded, plain *redis.Client) {
	addr := startRedis(t)
	plain = redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { plain.Close() })
	fast := hooks.RetryOptions{MaxAttempts: 5, InitialInterval: time.Millisecond, MaxInterval: time.Millisecond,
		RandomizationFactor: -1}
	a = newGuarded(t, addr, fast, hooks.BreakerOptions{},
		hooks.LimiterOptions{MaxInFlight: 3, MaxBlocking: 2, MaxWaiting: 1})
	fast.MaxAttempts = 3
	b = newGuarded(t, "127.0.0.1:"+strconv.Itoa(freePort(t)), fast, hooks.BreakerOptions{ConsecutiveFailures: 1},
		hooks.LimiterOptions{MaxInFlight: 3})
	return a, b, plain
}

// checkHistogram checks a db.client.operation.duration point: the
// convention's buckets, counts that add up to the count, and a sum, a
// minimum and a maximum that agree with each other.
func checkHistogram(t *testing.T, pt point) {
	t.Helper()
	h := pt.hist
	name := pt.attrs.Encoded(attribute.DefaultEncoder())
	if want := []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10}; !slices.Equal(h.Bounds, want) {
		t.Errorf("%s: duration buckets %v, want %v", name, h.Bounds, want)
	}
	n := uint64(0)
	for _, c := range h.BucketCounts {
		n += c
	}
	if len(h.BucketCounts) != len(h.Bounds)+1 || n != h.Count {
		t.Errorf("%s: bucket counts %v for a count of %d", name, h.BucketCounts, h.Count)
	}
	mn, okMin := h.Min.Value()
	mx, okMax := h.Max.Value()
	if !okMin || !okMax || mn <= 0 || mn > mx || h.Sum < mx || h.Sum > mx*float64(h.Count) {
		t.Errorf("%s: count %d, sum %v, min %v (%v), max %v (%v): inconsistent", name, h.Count, h.Sum, mn, okMin, mx, okMax)
	}
	// The minimum and the maximum are counted in their buckets, and
	// nothing is counted outside the buckets between them.
	bucket := func(v float64) int {
		i, _ := slices.BinarySearch(h.Bounds, v)
		return i
	}
	if lo, hi := bucket(mn), bucket(mx); okMin && okMax && n == h.Count &&
		(h.BucketCounts[lo] == 0 || h.BucketCounts[hi] == 0 || slices.ContainsFunc(h.BucketCounts[:lo], nonZero) ||
			slices.ContainsFunc(h.BucketCounts[hi+1:], nonZero)) {
		t.Errorf("%s: bucket counts %v for a minimum of %v and a maximum of %v", name, h.BucketCounts, mn, mx)
	}
	if h.StartTime.IsZero() || h.Time.Before(h.StartTime) {
		t.Errorf("%s: start %v, time %v", name, h.StartTime, h.Time)
	}
}

func nonZero(c uint64) bool { return c != 0 }

// points are the data points of one metric, with its unit.
type metricPoints struct {
	unit   string
	points []point
}

type point struct {
	attrs attribute.Set
	v     float64 // the value of a sum or gauge, the count of a histogram
	hist  *metricdata.HistogramDataPoint[float64]
}

func collect(t *testing.T, r *sdkmetric.ManualReader) map[string]metricPoints {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := make(map[string]metricPoints)
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != redisguardotel.ScopeName {
			t.Errorf("scope %q, want %q", sm.Scope.Name, redisguardotel.ScopeName)
		}
		for _, m := range sm.Metrics {
			mp := metricPoints{unit: m.Unit}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					mp.points = append(mp.points, point{attrs: p.Attributes, v: float64(p.Value)})
				}
			case metricdata.Sum[float64]:
				for _, p := range d.DataPoints {
					mp.points = append(mp.points, point{attrs: p.Attributes, v: p.Value})
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					mp.points = append(mp.points, point{attrs: p.Attributes, v: float64(p.Value)})
				}
			case metricdata.Histogram[float64]:
				if d.Temporality != metricdata.CumulativeTemporality {
					t.Errorf("%s: temporality %v, want cumulative", m.Name, d.Temporality)
				}
				for i := range d.DataPoints {
					p := &d.DataPoints[i]
					mp.points = append(mp.points, point{attrs: p.Attributes, v: float64(p.Count), hist: p})
				}
			default:
				t.Errorf("%s: unexpected data %T", m.Name, m.Data)
			}
			if _, dup := out[m.Name]; dup {
				t.Errorf("%s reported twice", m.Name)
			}
			out[m.Name] = mp
		}
	}
	return out
}

// get returns the point of name whose attributes are exactly kv.
func get(t *testing.T, ms map[string]metricPoints, name string, kv ...attribute.KeyValue) (point, bool) {
	t.Helper()
	want := attribute.NewSet(kv...)
	for _, p := range ms[name].points {
		if p.attrs.Equals(&want) {
			return p, true
		}
	}
	return point{}, false
}

func expect(t *testing.T, ms map[string]metricPoints, name string, v float64, kv ...attribute.KeyValue) {
	t.Helper()
	p, ok := get(t, ms, name, kv...)
	if !ok {
		var have []string
		for _, p := range ms[name].points {
			have = append(have, p.attrs.Encoded(attribute.DefaultEncoder()))
		}
		want := attribute.NewSet(kv...)
		t.Errorf("%s{%s}: no such point; have %v", name, want.Encoded(attribute.DefaultEncoder()), have)
		return
	}
	if p.v != v {
		t.Errorf("%s{%s} = %v, want %v", name, p.attrs.Encoded(attribute.DefaultEncoder()), p.v, v)
	}
}

func str(k, v string) attribute.KeyValue { return attribute.String(k, v) }

func hostPort(t *testing.T, addr string) []attribute.KeyValue {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return []attribute.KeyValue{str("server.address", h), attribute.Int("server.port", n)}
}

func with(base []attribute.KeyValue, kv ...attribute.KeyValue) []attribute.KeyValue {
	return append(append([]attribute.KeyValue(nil), base...), kv...)
}

// The manual reader sees every instrument with its name, unit, attributes
// and values after a known workload: a retry forced by a BUSY server, a
// command refused by the limiter, an open circuit, and batches. The retry
// is also an event on the command's span. The durations are the same
// through the meter provider (route=meter) and through a Producer the
// reader is given, shared by both instrumentations (route=producer).
func TestInstrumentReportsEveryFigureAfterAKnownWorkload(t *testing.T) {
	for _, route := range []string{"meter", "producer"} {
		t.Run("route="+route, func(t *testing.T) { testEveryFigure(t, route == "producer") })
	}
}

func testEveryFigure(t *testing.T, withProducer bool) {
	a, b, plain := clientsForWorkload(t)
	var p *redisguardotel.Producer
	var ropts []sdkmetric.ManualReaderOption
	if withProducer {
		p = redisguardotel.NewProducer()
		ropts = append(ropts, sdkmetric.WithProducer(p))
	}
	reader := sdkmetric.NewManualReader(ropts...)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	clientA, clientB := str("redisguard.client", "a"), str("redisguard.client", "b")
	instA, err := redisguardotel.Instrument(a.rdb, redisguardotel.Options{MeterProvider: mp, Hooks: a.h,
		Attributes: []attribute.KeyValue{clientA}, Producer: p})
	if err != nil {
		t.Fatal(err)
	}
	defer instA.Close()
	instB, err := redisguardotel.Instrument(b.rdb, redisguardotel.Options{MeterProvider: mp, Hooks: b.h,
		Attributes: []attribute.KeyValue{clientB}, Producer: p})
	if err != nil {
		t.Fatal(err)
	}
	defer instB.Close()

	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	spanCtx, span := tp.Tracer("test").Start(context.Background(), "get-during-busy")

	nodeA := with(hostPort(t, a.rdb.Options().Addr), clientA)
	nodeB := with(hostPort(t, b.rdb.Options().Addr), clientB)
	during := func() {
		ms := collect(t, reader)
		expect(t, ms, "redisguard.limiter.in_flight", 2, with(nodeA, str("redisguard.limiter.class", "blocking"))...)
		expect(t, ms, "redisguard.limiter.in_flight", 0, with(nodeA, str("redisguard.limiter.class", "short"))...)
		expect(t, ms, "redisguard.limiter.waiting", 1, with(nodeA, str("redisguard.limiter.class", "blocking"))...)
		expect(t, ms, "redisguard.limiter.waiting", 0, with(nodeA, str("redisguard.limiter.class", "short"))...)
	}
	workload(t, a, b, plain, during, func(g guarded, r batch.Result) {
		if g.rdb == a.rdb {
			instA.RecordBatch(context.Background(), r)
		} else {
			instB.RecordBatch(context.Background(), r)
		}
	}, spanCtx)
	span.End()

	ms := collect(t, reader)
	units := map[string]string{
		"db.client.operation.duration":          "s",
		"db.client.connection.count":            "{connection}",
		"db.client.connection.max":              "{connection}",
		"db.client.connection.pending_requests": "{request}",
		"db.client.connection.timeouts":         "{timeout}",
		"db.client.connection.wait_time":        "s",
		"redisguard.limiter.in_flight":          "{command}",
		"redisguard.limiter.waiting":            "{command}",
		"redisguard.limiter.rejections":         "{command}",
		"redisguard.limiter.wait_time":          "s",
		"redisguard.breaker.state":              "1",
		"redisguard.breaker.transitions":        "{transition}",
		"redisguard.retry.attempts":             "{attempt}",
		"redisguard.retry.calls":                "{call}",
		"redisguard.batch.items":                "{item}",
	}
	for name, unit := range units {
		m, ok := ms[name]
		if !ok {
			t.Errorf("instrument %s not reported", name)
			continue
		}
		if m.unit != unit {
			t.Errorf("%s: unit %q, want %q", name, m.unit, unit)
		}
	}
	for name := range ms {
		if _, ok := units[name]; !ok {
			t.Errorf("unexpected instrument %s", name)
		}
	}

	// Operation durations, per attempt sent to a node.
	op := func(node []attribute.KeyValue, name string, kv ...attribute.KeyValue) []attribute.KeyValue {
		return with(with(node, str("db.system.name", "redis"), str("db.namespace", "0"),
			str("db.operation.name", name)), kv...)
	}
	expect(t, ms, "db.client.operation.duration", 3, op(nodeA, "SET")...)
	expect(t, ms, "db.client.operation.duration", 2, op(nodeA, "GET")...)
	expect(t, ms, "db.client.operation.duration", 1, op(nodeA, "GET", str("error.type", "BUSY"))...)
	expect(t, ms, "db.client.operation.duration", 2, op(nodeA, "BLPOP")...)
	expect(t, ms, "db.client.operation.duration", 2, op(nodeA, "PIPELINE")...)
	expect(t, ms, "db.client.operation.duration", 1, op(nodeB, "GET", str("error.type", "connection_refused"))...)
	for _, pt := range ms["db.client.operation.duration"].points {
		checkHistogram(t, pt)
	}

	// Pool figures, per node pool.
	poolA := []attribute.KeyValue{clientA, str("db.client.connection.pool.name", a.rdb.Options().Addr)}
	st := a.rdb.PoolStats()
	expect(t, ms, "db.client.connection.count", float64(st.IdleConns), with(poolA, str("db.client.connection.state", "idle"))...)
	expect(t, ms, "db.client.connection.count", float64(st.TotalConns-st.IdleConns), with(poolA, str("db.client.connection.state", "used"))...)
	expect(t, ms, "db.client.connection.max", 10, poolA...)
	expect(t, ms, "db.client.connection.pending_requests", 0, poolA...)
	expect(t, ms, "db.client.connection.timeouts", 0, poolA...)
	expect(t, ms, "db.client.connection.wait_time", time.Duration(st.WaitDurationNs).Seconds(), poolA...)
	if st.TotalConns < 2 {
		t.Errorf("pool of a has %d connections, want at least 2 (two BLPOPs at once)", st.TotalConns)
	}

	// The limiter: the BLPOP shed by the full queue was refused once (a shed
	// command is not retried).
	expect(t, ms, "redisguard.limiter.in_flight", 0, with(nodeA, str("redisguard.limiter.class", "blocking"))...)
	expect(t, ms, "redisguard.limiter.waiting", 0, with(nodeA, str("redisguard.limiter.class", "blocking"))...)
	expect(t, ms, "redisguard.limiter.rejections", 1, nodeA...)
	expect(t, ms, "redisguard.limiter.wait_time", a.h.Limiter.NodeStats()[a.rdb.Options().Addr].TotalWait.Seconds(), nodeA...)
	if a.h.Limiter.Stats().TotalWait <= 0 {
		t.Error("the cancelled BLPOP waited no time")
	}

	// The breakers: a's closed, b's open since its refused dial.
	expect(t, ms, "redisguard.breaker.state", 1, with(nodeA, str("redisguard.breaker.state", "closed"))...)
	expect(t, ms, "redisguard.breaker.state", 0, with(nodeA, str("redisguard.breaker.state", "open"))...)
	expect(t, ms, "redisguard.breaker.state", 0, with(nodeA, str("redisguard.breaker.state", "half_open"))...)
	expect(t, ms, "redisguard.breaker.state", 1, with(nodeB, str("redisguard.breaker.state", "open"))...)
	expect(t, ms, "redisguard.breaker.state", 0, with(nodeB, str("redisguard.breaker.state", "closed"))...)
	expect(t, ms, "redisguard.breaker.transitions", 1,
		with(nodeB, str("redisguard.breaker.from", "closed"), str("redisguard.breaker.to", "open"))...)
	if n := len(ms["redisguard.breaker.transitions"].points); n != 1 {
		t.Errorf("%d transition series, want 1", n)
	}

	// Retries: a retried the GET once after BUSY (recovered) and not the
	// shed BLPOP (not retried); b retried its GET once after the
	// refused dial and gave up on the open circuit.
	outcome := func(c attribute.KeyValue, o string) []attribute.KeyValue {
		return []attribute.KeyValue{c, str("redisguard.retry.outcome", o)}
	}
	expect(t, ms, "redisguard.retry.attempts", 0, outcome(clientA, "maybe_applied")...)
	expect(t, ms, "redisguard.retry.attempts", 1, outcome(clientA, "rejected")...)
	expect(t, ms, "redisguard.retry.attempts", 0, outcome(clientA, "not_sent")...)
	expect(t, ms, "redisguard.retry.calls", 1, outcome(clientA, "recovered")...)
	expect(t, ms, "redisguard.retry.calls", 0, outcome(clientA, "gave_up")...)
	expect(t, ms, "redisguard.retry.calls", 1, outcome(clientA, "not_retried")...)
	expect(t, ms, "redisguard.retry.calls", 0, outcome(clientA, "budget_spent")...)
	expect(t, ms, "redisguard.retry.attempts", 1, outcome(clientB, "not_sent")...)
	expect(t, ms, "redisguard.retry.calls", 1, outcome(clientB, "gave_up")...)

	// Batches.
	expect(t, ms, "redisguard.batch.items", 10, clientA, str("redisguard.batch.status", "written"))
	expect(t, ms, "redisguard.batch.items", 10, clientB, str("redisguard.batch.status", "not_written"))

	// The retry on the span.
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans ended, want 1", len(spans))
	}
	evs := spans[0].Events()
	if len(evs) != 1 || evs[0].Name != redisguardotel.RetryEventName {
		t.Fatalf("span events %+v, want one %s", evs, redisguardotel.RetryEventName)
	}
	got := attribute.NewSet(evs[0].Attributes...)
	for _, kv := range []attribute.KeyValue{
		str("db.operation.name", "GET"), attribute.Int("redisguard.retry.attempt", 1),
		str("redisguard.retry.outcome", "rejected"), attribute.Bool("redisguard.retry.maybe_applied", false),
		str("error.type", "BUSY"),
	} {
		if v, ok := got.Value(kv.Key); !ok || v != kv.Value {
			t.Errorf("retry event %s = %v, want %v", kv.Key, v.String(), kv.Value.String())
		}
	}
	if v, ok := got.Value("redisguard.retry.delay"); !ok || v.AsFloat64() <= 0 {
		t.Errorf("retry event delay %v, want a positive number of seconds", v.String())
	}
}

// A *profiles.Client brings its own hooks, and a Ring reports per node: each
// shard's pool and the durations of the commands it served.
func TestInstrumentReadsProfilesClientHooksAndRingNodes(t *testing.T) {
	addr := startRedis(t)
	cfg := profiles.API()
	cfg.Addr = addr
	pc, err := profiles.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	inst, err := redisguardotel.Instrument(pc, redisguardotel.Options{MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	if err := pc.Set(context.Background(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	ms := collect(t, reader)
	node := hostPort(t, addr)
	expect(t, ms, "db.client.operation.duration", 1, with(node, str("db.system.name", "redis"),
		str("db.namespace", "0"), str("db.operation.name", "SET"))...)
	expect(t, ms, "redisguard.breaker.state", 1, with(node, str("redisguard.breaker.state", "closed"))...)
	expect(t, ms, "redisguard.limiter.rejections", 0, node...)
	expect(t, ms, "redisguard.retry.calls", 0, str("redisguard.retry.outcome", "gave_up"))

	addr2 := startRedis(t)
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"s1": addr, "s2": addr2}})
	defer ring.Close()
	reader2 := sdkmetric.NewManualReader()
	mp2 := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader2))
	defer mp2.Shutdown(context.Background())
	rinst, err := redisguardotel.Instrument(ring, redisguardotel.Options{MeterProvider: mp2})
	if err != nil {
		t.Fatal(err)
	}
	defer rinst.Close()
	for i := range 20 {
		if err := ring.Set(context.Background(), "key"+strconv.Itoa(i), "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	ms = collect(t, reader2)
	total := 0.0
	for _, a := range []string{addr, addr2} {
		p, ok := get(t, ms, "db.client.operation.duration", with(hostPort(t, a), str("db.system.name", "redis"),
			str("db.namespace", "0"), str("db.operation.name", "SET"))...)
		if !ok || p.v == 0 {
			t.Errorf("shard %s: no SET timed", a)
		}
		total += p.v
		expect(t, ms, "db.client.connection.max", float64(10*runtimeProcs()),
			str("db.client.connection.pool.name", a))
	}
	if total != 20 {
		t.Errorf("%v SETs timed over the shards, want 20", total)
	}
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }
