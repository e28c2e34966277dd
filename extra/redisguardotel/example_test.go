package redisguardotel_test

import (
	"context"
	"log"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/redisguard/redisguard/extra/redisguardotel"
	"github.com/redisguard/redisguard/profiles"
)

// A client built from a profile, instrumented with a meter provider. It
// prints nothing (the figures go to the provider's reader or exporter), so
// it has no Output section.
func ExampleInstrument() {
	rdb, err := profiles.NewClient(profiles.API())
	if err != nil {
		log.Fatal(err)
	}
	defer rdb.Close()
	mp := sdkmetric.NewMeterProvider() // add a reader or an exporter
	defer mp.Shutdown(context.Background())
	inst, err := redisguardotel.Instrument(rdb, redisguardotel.Options{MeterProvider: mp})
	if err != nil {
		log.Fatal(err)
	}
	defer inst.Close()
	// Commands on rdb now report db.client.operation.duration; the pool,
	// limiter, breaker and retry figures are read at each collection.
}
