package redisguardotel_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/redisguard/redisguard/extra/redisguardotel"
)

// handled collects what is reported through otel.Handle while the test
// runs.
func handled(t *testing.T) func() []error {
	t.Helper()
	var mu sync.Mutex
	var errs []error
	old := otel.GetErrorHandler()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, err)
	}))
	t.Cleanup(func() { otel.SetErrorHandler(old) })
	return func() []error {
		mu.Lock()
		defer mu.Unlock()
		return append([]error(nil), errs...)
	}
}

// notCollected counts the ErrProducerNotCollected among errs.
func notCollected(errs []error) int {
	n := 0
	for _, err := range errs {
		if errors.Is(err, redisguardotel.ErrProducerNotCollected) {
			n++
		}
	}
	return n
}

// A Producer given to Instrument but to no reader is reported through
// otel.Handle, once, from the second collection of the meter provider on:
// the durations it keeps reach no exporter, and the user hears of it.
func TestProducerNotGivenToTheReaderIsReported(t *testing.T) {
	errs := handled(t)
	rdb := redis.NewClient(&redis.Options{Addr: startRedis(t)})
	defer rdb.Close()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	inst, err := redisguardotel.Instrument(rdb, redisguardotel.Options{MeterProvider: mp,
		Producer: redisguardotel.NewProducer()})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	if err := rdb.Set(context.Background(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{0, 1, 1} {
		ms := collect(t, reader)
		if _, ok := ms["db.client.operation.duration"]; ok {
			t.Errorf("collection %d: the durations reached a reader the Producer was not given to", i+1)
		}
		if _, ok := ms["db.client.connection.max"]; !ok {
			t.Errorf("collection %d: no db.client.connection.max", i+1)
		}
		if got := notCollected(errs()); got != want {
			t.Errorf("after collection %d: %d ErrProducerNotCollected reported, want %d", i+1, got, want)
		}
	}
}

// A Producer given to the reader and shared by two instrumentations of one
// meter provider is never reported, and keeps each client's durations
// apart by its attributes.
func TestProducerGivenToTheReaderServesEachClient(t *testing.T) {
	errs := handled(t)
	addr := startRedis(t)
	p := redisguardotel.NewProducer()
	reader := sdkmetric.NewManualReader(sdkmetric.WithProducer(p))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	ctx := context.Background()
	for i, name := range []string{"one", "two"} {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		defer rdb.Close()
		inst, err := redisguardotel.Instrument(rdb, redisguardotel.Options{MeterProvider: mp, Producer: p,
			Attributes: []attribute.KeyValue{str("redisguard.client", name)}})
		if err != nil {
			t.Fatal(err)
		}
		defer inst.Close()
		for range i + 1 {
			if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range 3 {
		ms := collect(t, reader)
		for n, name := range []string{"one", "two"} {
			expect(t, ms, "db.client.operation.duration", float64(n+1), with(hostPort(t, addr),
				str("redisguard.client", name), str("db.system.name", "redis"), str("db.namespace", "0"),
				str("db.operation.name", "SET"))...)
		}
		for _, pt := range ms["db.client.operation.duration"].points {
			checkHistogram(t, pt)
		}
		if got := notCollected(errs()); got != 0 {
			t.Errorf("after collection %d: %d ErrProducerNotCollected reported, want 0", i+1, got)
		}
	}
}
