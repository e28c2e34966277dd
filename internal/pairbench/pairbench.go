// Package pairbench measures two variants of one operation side by side in
// one benchmark: rounds of each run in turn, the order swapped every pair,
// so that drift on a busy machine (other processes, a warming server, the
// garbage collector) falls on both alike. The metrics adapters' benchmarks
// use it to compare a guarded client with and without metrics.
package pairbench

import (
	"context"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redisguard/redisguard/profiles"
)

// RoundOps is the number of operations in one round of one variant.
const RoundOps = 512

// Run runs b.N operations of each variant, base and other, from par
// goroutines, in alternating rounds of RoundOps. It reports ns/op, B/op and
// allocs/op of other (the built-in figures would add both variants up),
// "base-ns/op" and "base-allocs/op", and "other/base": the median of the
// rounds' ratios of other's time to base's. A failed operation stops the
// benchmark.
func Run(b *testing.B, par int, base, other func() error) {
	var t, allocs, bytes [2]float64
	var ratios []float64
	b.ResetTimer()
	for done, pair := 0, 0; done < b.N; pair++ {
		n := min(RoundOps, b.N-done)
		order := [2]int{0, 1}
		if pair%2 == 1 {
			order = [2]int{1, 0}
		}
		var d [2]float64
		for _, v := range order {
			op := base
			if v == 1 {
				op = other
			}
			r := round(b, par, n, op)
			d[v] = r.ns
			t[v] += r.ns
			allocs[v] += r.allocs
			bytes[v] += r.bytes
		}
		ratios = append(ratios, d[1]/d[0])
		done += n
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(t[1]/n, "ns/op")
	b.ReportMetric(bytes[1]/n, "B/op")
	b.ReportMetric(allocs[1]/n, "allocs/op")
	b.ReportMetric(t[0]/n, "base-ns/op")
	b.ReportMetric(allocs[0]/n, "base-allocs/op")
	slices.Sort(ratios)
	b.ReportMetric(ratios[len(ratios)/2], "other/base")
}

// result is one round's wall time in nanoseconds, and the heap allocations
// (count and bytes) made meanwhile.
type result struct{ ns, allocs, bytes float64 }

// round runs n operations of op from par goroutines.
func round(b *testing.B, par, n int, op func() error) result {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m0, b0 := ms.Mallocs, ms.TotalAlloc
	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	start := time.Now()
	for range par {
		wg.Go(func() {
			for next.Add(1) <= int64(n) && !failed.Load() {
				if err := op(); err != nil {
					if failed.CompareAndSwap(false, true) {
						b.Error(err)
					}
					return
				}
			}
		})
	}
	wg.Wait()
	ns := float64(time.Since(start).Nanoseconds())
	runtime.ReadMemStats(&ms)
	if failed.Load() {
		b.FailNow()
	}
	return result{ns, float64(ms.Mallocs - m0), float64(ms.TotalAlloc - b0)}
}

// GuardedSet runs SETs from 32 goroutines on two clients built by
// profiles.NewClient (the API preset's hooks) against the server at addr,
// in alternating rounds (Run). The second client is first given to with,
// which adds what is measured and returns what undoes it: other/base is
// the cost of what with adds.
func GuardedSet(b *testing.B, addr string, with func(*profiles.Client) (undo func())) {
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.DiscardHandler))
	var clients [2]*profiles.Client
	for i := range clients {
		cfg := profiles.API()
		cfg.Addr = addr
		pc, err := profiles.NewClient(cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = pc.Close() })
		clients[i] = pc
	}
	defer with(clients[1])()
	ctx := context.Background()
	Run(b, 32,
		func() error { return clients[0].Set(ctx, "k", "v", 0).Err() },
		func() error { return clients[1].Set(ctx, "k", "v", 0).Err() })
}
