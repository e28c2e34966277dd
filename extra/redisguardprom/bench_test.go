package redisguardprom_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/redisguard/redisguard/extra/redisguardprom"
	"github.com/redisguard/redisguard/profiles"
)

// BenchmarkGuardedSet runs SETs from many goroutines on a client built by
// profiles.NewClient (the API preset's hooks) against a spawned
// redis-server, without and with the instrumentation, in one run:
//
//	for i in 1 2 3 4 5; do go test -run '^$' -bench GuardedSet -benchmem ./; done
//
// Compare the two lines of each run; run several (not -count, which runs
// one variant's rounds back to back), since a shared machine moves both by
// more than the difference.
func BenchmarkGuardedSet(b *testing.B) {
	addr := startRedis(b)
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.DiscardHandler))
	for _, on := range []bool{false, true} {
		name := "metrics=off"
		if on {
			name = "metrics=on"
		}
		b.Run(name, func(b *testing.B) {
			cfg := profiles.API()
			cfg.Addr = addr
			pc, err := profiles.NewClient(cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer pc.Close()
			if on {
				col, err := redisguardprom.NewCollector(pc, redisguardprom.Options{})
				if err != nil {
					b.Fatal(err)
				}
				defer col.Close()
				prometheus.NewRegistry().MustRegister(col)
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := pc.Set(ctx, "k", "v", 0).Err(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
