package redisguardprom

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// BenchmarkDurationHook is the duration hook's cost per command, with a
// no-op next:
//
//	go test -run '^$' -bench DurationHook -benchmem ./
func BenchmarkDurationHook(b *testing.B) {
	hist := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "d", Help: "d", Buckets: durationBuckets},
		[]string{"node", "operation", "error_type"})
	hook := newDurationHook(hist, "127.0.0.1:6379").ProcessHook(func(context.Context, redis.Cmder) error { return nil })
	ctx := context.Background()
	cmd := redis.NewStatusCmd(ctx, "set", "k", "v")
	b.ReportAllocs()
	for b.Loop() {
		_ = hook(ctx, cmd)
	}
}
