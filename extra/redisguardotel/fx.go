package redisguardotel

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/fx"

	"github.com/redisguard/redisguard/profiles"
)

// Module instruments each client of the redisguard fx module
// (fxmodule.Module, APIModule or WorkerModule) with the metric.MeterProvider
// the application supplies, with the attribute redisguard.client = "api" or
// "worker". With no MeterProvider supplied it instruments nothing. When the
// application also supplies a *Producer (the one its readers were given
// with sdkmetric.WithProducer), both clients record their durations into it
// (Options.Producer). The core fx module cannot do this itself: it would
// make the core depend on OpenTelemetry.
//
//	fx.New(fxmodule.Module, redisguardotel.Module,
//		fx.Provide(func() metric.MeterProvider { return mp }),
//		fx.Supply(producer)) // optional
var Module = fx.Module("redisguardotel", fx.Invoke(Register))

// RegisterParams are Register's inputs.
type RegisterParams struct {
	fx.In

	Lifecycle     fx.Lifecycle
	MeterProvider metric.MeterProvider `optional:"true"`
	Producer      *Producer            `optional:"true"`
	API           *profiles.Client     `name:"redis_api_client" optional:"true"`
	Worker        *profiles.Client     `name:"redis_worker_client" optional:"true"`
}

// Register instruments each client in p, and closes the instrumentation
// when the application stops.
func Register(p RegisterParams) error {
	if p.MeterProvider == nil {
		return nil
	}
	for _, side := range []struct {
		name string
		c    *profiles.Client
	}{{"api", p.API}, {"worker", p.Worker}} {
		if side.c == nil {
			continue
		}
		inst, err := Instrument(side.c, Options{MeterProvider: p.MeterProvider, Producer: p.Producer,
			Attributes: []attribute.KeyValue{attribute.String("redisguard.client", side.name)}})
		if err != nil {
			return err
		}
		p.Lifecycle.Append(fx.StopHook(inst.Close))
	}
	return nil
}
