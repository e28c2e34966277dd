package pairbench_test

import (
	"errors"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"

	"github.com/redisguard/redisguard/internal/pairbench"
	"github.com/redisguard/redisguard/internal/redistest"
	"github.com/redisguard/redisguard/profiles"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Each variant runs b.N operations, and the figures are reported.
func TestRunRunsBothVariantsBN(t *testing.T) {
	var base, other atomic.Int64
	r := testing.Benchmark(func(b *testing.B) {
		base.Store(0)
		other.Store(0)
		pairbench.Run(b, 4,
			func() error { base.Add(1); return nil },
			func() error { other.Add(1); return nil })
	})
	if r.N == 0 || base.Load() != int64(r.N) || other.Load() != int64(r.N) {
		t.Errorf("N %d: base ran %d operations, other %d; want N each", r.N, base.Load(), other.Load())
	}
	for _, k := range []string{"ns/op", "allocs/op", "base-ns/op", "base-allocs/op", "other/base"} {
		if _, ok := r.Extra[k]; !ok {
			t.Errorf("no %s in %v", k, r.Extra)
		}
	}
}

// A failed operation fails the benchmark.
func TestRunStopsOnAnError(t *testing.T) {
	r := testing.Benchmark(func(b *testing.B) {
		pairbench.Run(b, 4,
			func() error { return nil },
			func() error { return errors.New("refused") })
	})
	if r.N != 0 {
		t.Errorf("the benchmark ran to N %d despite the error", r.N)
	}
}

// BenchmarkGuardedSetAlike is GuardedSet with nothing added to the second
// client: its other/base is the noise floor of the metrics adapters'
// BenchmarkGuardedSet on this machine, in the same make bench run.
//
//	go test -run '^$' -bench GuardedSetAlike ./internal/pairbench
func BenchmarkGuardedSetAlike(b *testing.B) {
	srv := redistest.Start(b)
	pairbench.GuardedSet(b, srv.Addr(), func(*profiles.Client) func() { return func() {} })
}
