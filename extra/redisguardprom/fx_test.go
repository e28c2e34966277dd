package redisguardprom_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/redisguard/redisguard/extra/redisguardprom"
	"github.com/redisguard/redisguard/fxmodule"
	"github.com/redisguard/redisguard/profiles"
)

// With a Registerer supplied, Module registers a collector for both clients
// of the redisguard fx module, labelled by client, and unregisters them on
// stop.
func TestModuleRegistersTheFxClients(t *testing.T) {
	addr := startRedis(t)
	at := func(c profiles.Config) profiles.Config { c.Addr = addr; return c }
	reg := prometheus.NewPedanticRegistry()
	app := fxtest.New(t, fx.NopLogger,
		fx.Supply(fxmodule.Configs{API: at(profiles.API()), Worker: at(profiles.Worker())}),
		fx.Provide(func() prometheus.Registerer { return reg }),
		fxmodule.Module, redisguardprom.Module)
	app.RequireStart()
	want := fmt.Sprintf(`# HELP redisguard_breaker_state 1 for the current state of the node's circuit breaker, 0 for the other states.
# TYPE redisguard_breaker_state gauge
redisguard_breaker_state{client="api",node=%[1]q,state="closed"} 1
redisguard_breaker_state{client="api",node=%[1]q,state="half_open"} 0
redisguard_breaker_state{client="api",node=%[1]q,state="open"} 0
redisguard_breaker_state{client="worker",node=%[1]q,state="closed"} 1
redisguard_breaker_state{client="worker",node=%[1]q,state="half_open"} 0
redisguard_breaker_state{client="worker",node=%[1]q,state="open"} 0
`, addr)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "redisguard_breaker_state"); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) != 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
	app.RequireStop()
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 0 {
		t.Errorf("after stop: %d series gathered (%v), want none", n, err)
	}
}
