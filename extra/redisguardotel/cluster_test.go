package redisguardotel_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/redisguard/redisguard/extra/redisguardotel"
	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/profiles"
)

// On a ClusterClient every node is reported on its own: its pool, its
// limiter budget and breaker, and the commands it served.
func TestInstrumentReportsEachClusterNode(t *testing.T) {
	addrs := startCluster(t)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, MaxRetries: -1})
	defer rdb.Close()
	lim, err := hooks.NewLimiter(hooks.LimiterOptions{MaxInFlight: 8})
	if err != nil {
		t.Fatal(err)
	}
	br, err := hooks.NewBreaker(hooks.BreakerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = br.Close() })
	if err := hooks.Attach(rdb, lim, br); err != nil {
		t.Fatal(err)
	}
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	inst, err := redisguardotel.Instrument(rdb, redisguardotel.Options{MeterProvider: mp,
		Hooks: profiles.Hooks{Limiter: lim, Breaker: br}})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	const n = 60
	for i := range n {
		if err := rdb.Set(context.Background(), "key:"+strconv.Itoa(i), "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	ms := collect(t, reader)
	total := 0.0
	for _, a := range addrs {
		node := hostPort(t, a)
		p, ok := get(t, ms, "db.client.operation.duration", with(node, str("db.system.name", "redis"),
			str("db.namespace", "0"), str("db.operation.name", "SET"))...)
		if !ok || p.v == 0 {
			t.Errorf("node %s: no SET timed", a)
		}
		total += p.v
		expect(t, ms, "redisguard.breaker.state", 1, with(node, str("redisguard.breaker.state", "closed"))...)
		expect(t, ms, "redisguard.limiter.rejections", 0, node...)
		if _, ok := get(t, ms, "db.client.connection.max", str("db.client.connection.pool.name", a)); !ok {
			t.Errorf("node %s: no pool figures", a)
		}
	}
	if total != n {
		t.Errorf("%v SETs timed over the nodes, want %d", total, n)
	}
}
