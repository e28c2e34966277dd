package redisguardprom

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/redisguard/redisguard/profiles"
)

// Module registers a Collector for each client of the redisguard fx module
// (fxmodule.Module, APIModule or WorkerModule) in the prometheus.Registerer
// the application supplies, labelled client="api" or client="worker". With
// no Registerer supplied it registers nothing. The core fx module cannot do
// this itself: it would make the core depend on Prometheus.
//
//	fx.New(fxmodule.Module, redisguardprom.Module,
//		fx.Provide(func() prometheus.Registerer { return reg }))
var Module = fx.Module("redisguardprom", fx.Invoke(Register))

// RegisterParams are Register's inputs.
type RegisterParams struct {
	fx.In

	Lifecycle  fx.Lifecycle
	Registerer prometheus.Registerer `optional:"true"`
	API        *profiles.Client      `name:"redis_api_client" optional:"true"`
	Worker     *profiles.Client      `name:"redis_worker_client" optional:"true"`
}

// Register registers a Collector for each client in p, and unregisters and
// closes them when the application stops.
func Register(p RegisterParams) error {
	if p.Registerer == nil {
		return nil
	}
	for _, side := range []struct {
		name string
		c    *profiles.Client
	}{{"api", p.API}, {"worker", p.Worker}} {
		if side.c == nil {
			continue
		}
		col, err := NewCollector(side.c, Options{})
		if err != nil {
			return err
		}
		reg := prometheus.WrapRegistererWith(prometheus.Labels{"client": side.name}, p.Registerer)
		if err := reg.Register(col); err != nil {
			col.Close()
			return err
		}
		p.Lifecycle.Append(fx.StopHook(func(context.Context) error {
			reg.Unregister(col)
			col.Close()
			return nil
		}))
	}
	return nil
}
