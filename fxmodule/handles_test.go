package fxmodule_test

import (
	"context"
	"slices"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/redisguard/redisguard/batch"
	"github.com/redisguard/redisguard/fxmodule"
	"github.com/redisguard/redisguard/internal/redistest"
	"github.com/redisguard/redisguard/profiles"
)

// The module hands out the *profiles.Client (also as the named
// redis.UniversalClient): its monitors and the helpers an application
// calls with that handle must see the cluster the go-redis client inside
// sees.
func TestModuleOnClusterSameAnswersAsTheClientInside(t *testing.T) {
	c := redistest.StartCluster(t, 3, 0)
	api, worker := profiles.API(), profiles.Worker()
	api.ClusterAddrs, worker.ClusterAddrs = c.Addrs(), c.Addrs()
	var s sides
	app := fxtest.New(t, fx.NopLogger, fx.Supply(fxmodule.Configs{API: api, Worker: worker}), fxmodule.Module, populate(&s))
	app.RequireStart()
	defer app.RequireStop()
	ctx := context.Background()

	for name, want := range map[string]int{"api": 3 * 50, "worker": 3 * 200} {
		m := s.APIMonitor
		if name == "worker" {
			m = s.WorkerMon
		}
		r := m.Check(ctx)
		if len(r.Nodes) != 3 || r.Pool.MaxConnections != want {
			t.Errorf("%s monitor: %d nodes, max_connections %d; want 3 nodes, %d", name, len(r.Nodes), r.Pool.MaxConnections, want)
		}
	}

	vals := []string{"a", "b", "c", "d", "e"}
	viaHandle, err1 := batch.RPush(ctx, s.API, "fx:handle", vals, batch.Options{})
	viaInner, err2 := batch.RPush(ctx, s.APIClient.Unwrap(), "fx:inner", vals, batch.Options{})
	if err1 != nil || err2 != nil || !slices.Equal(viaHandle.Written, viaInner.Written) || len(viaHandle.Written) != 5 {
		t.Fatalf("RPush through the module's client: %+v (%v); through the client inside: %+v (%v)", viaHandle, err1, viaInner, err2)
	}
}
