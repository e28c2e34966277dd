package redisguardprom_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/redisguard/redisguard/extra/redisguardprom"
	"github.com/redisguard/redisguard/internal/pairbench"
	"github.com/redisguard/redisguard/profiles"
)

// BenchmarkGuardedSet is pairbench.GuardedSet with a collector of the
// second client registered: other/base is the cost of the metrics,
// measured side by side in one run.
//
//	go test -run '^$' -bench GuardedSet ./
func BenchmarkGuardedSet(b *testing.B) {
	pairbench.GuardedSet(b, startRedis(b), func(pc *profiles.Client) func() {
		col, err := redisguardprom.NewCollector(pc, redisguardprom.Options{})
		if err != nil {
			b.Fatal(err)
		}
		prometheus.NewRegistry().MustRegister(col)
		return col.Close
	})
}
