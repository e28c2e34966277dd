package redisguardotel

import (
	"context"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/redisguard/redisguard/internal/observe"
)

// Command names are not a fixed set (Do sends any): past observe.MaxOperationNames
// new ones are reported as _OTHER, so the series stay bounded.
func TestDurationHookBoundsOperationNames(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	in, err := newInstruments(mp.Meter(ScopeName))
	if err != nil {
		t.Fatal(err)
	}
	h := newDurationHook(in.duration, nil, &redis.Options{Addr: "127.0.0.1:6379"}, nil)
	hook := h.ProcessHook(func(context.Context, redis.Cmder) error { return nil })
	ctx := context.Background()
	for i := range observe.MaxOperationNames + 100 {
		_ = hook(ctx, redis.NewCmd(ctx, "cmd"+strconv.Itoa(i)))
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	d := rm.ScopeMetrics[0].Metrics[0].Data.(metricdata.Histogram[float64])
	if len(d.DataPoints) != observe.MaxOperationNames+1 {
		t.Errorf("%d series, want %d", len(d.DataPoints), observe.MaxOperationNames+1)
	}
	for _, p := range d.DataPoints {
		if v, _ := p.Attributes.Value("db.operation.name"); v.AsString() == "_OTHER" && p.Count != 100 {
			t.Errorf("_OTHER counted %d, want 100", p.Count)
		}
	}
}
