package batch_test

import (
	"context"
	"testing"

	"github.com/redisguard/redisguard/batch"
	"github.com/redisguard/redisguard/internal/redistest"
)

// BenchmarkRPush100k appends 100,000 values to a list on one local
// redis-server, four ways, in the same run:
//
//	loop      one RPUSH per value, each waiting for its reply
//	pipeline  a hand-written go-redis pipeline loop, 50 RPUSH per Exec
//	helper    batch.RPush with the default options (chunks of 50)
//	variadic  for reference: one RPUSH carrying 50 values per round trip
//
// Run it with: go test -run '^$' -bench RPush100k -benchmem -benchtime 3x ./batch/
func BenchmarkRPush100k(b *testing.B) {
	s := redistest.Start(b)
	rdb := s.Client(b, nil)
	ctx := context.Background()
	vals := values("bench", 100_000)
	const chunk = 50

	each := func(b *testing.B, push func()) {
		b.ReportAllocs()
		for range b.N {
			b.StopTimer()
			if err := rdb.Del(ctx, "list").Err(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			push()
		}
		b.StopTimer()
		if n, err := rdb.LLen(ctx, "list").Result(); err != nil || n != int64(len(vals)) {
			b.Fatalf("list holds %d values (%v), want %d", n, err, len(vals))
		}
		b.ReportMetric(float64(len(vals)*b.N)/b.Elapsed().Seconds(), "values/s")
	}

	b.Run("loop", func(b *testing.B) {
		each(b, func() {
			for _, v := range vals {
				if err := rdb.RPush(ctx, "list", v).Err(); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("pipeline", func(b *testing.B) {
		each(b, func() {
			pipe := rdb.Pipeline()
			for lo := 0; lo < len(vals); lo += chunk {
				for _, v := range vals[lo:min(lo+chunk, len(vals))] {
					pipe.RPush(ctx, "list", v)
				}
				if _, err := pipe.Exec(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("helper", func(b *testing.B) {
		each(b, func() {
			if _, err := batch.RPush(ctx, rdb, "list", vals, batch.Options{}); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("variadic", func(b *testing.B) {
		args := make([]any, len(vals))
		for i, v := range vals {
			args[i] = v
		}
		each(b, func() {
			for lo := 0; lo < len(args); lo += chunk {
				if err := rdb.RPush(ctx, "list", args[lo:min(lo+chunk, len(args))]...).Err(); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}
