package redisguardprom_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/redisguard/redisguard/extra/redisguardprom"
	"github.com/redisguard/redisguard/internal/pairbench"
	"github.com/redisguard/redisguard/profiles"
)

// BenchmarkGuardedSet runs SETs from 32 goroutines on two clients built by
// profiles.NewClient (the API preset's hooks) against one spawned
// redis-server, the second one with a registered collector, in alternating
// rounds (pairbench.Run): other/base is the cost of the metrics, measured
// side by side in one run.
//
//	go test -run '^$' -bench GuardedSet ./
func BenchmarkGuardedSet(b *testing.B) {
	addr := startRedis(b)
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.DiscardHandler))
	client := func() *profiles.Client {
		cfg := profiles.API()
		cfg.Addr = addr
		pc, err := profiles.NewClient(cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = pc.Close() })
		return pc
	}
	bare, measured := client(), client()
	col, err := redisguardprom.NewCollector(measured, redisguardprom.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer col.Close()
	prometheus.NewRegistry().MustRegister(col)
	ctx := context.Background()
	pairbench.Run(b, 32,
		func() error { return bare.Set(ctx, "k", "v", 0).Err() },
		func() error { return measured.Set(ctx, "k", "v", 0).Err() })
}
