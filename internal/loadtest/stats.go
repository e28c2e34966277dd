package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
)

// Row is one figure measured bare and guarded in the same run.
type Row struct {
	Scenario string         `json:"scenario"`
	Metric   string         `json:"metric"`
	Unit     string         `json:"unit"`
	Bare     float64        `json:"bare"`
	Guarded  float64        `json:"guarded"`
	Ratio    float64        `json:"ratio"`
	Notes    string         `json:"notes,omitempty"`
	Extra    map[string]any `json:"extra,omitempty"`
}

func row(scenario, metric, unit string, bare, guarded float64, notes string) Row {
	r := Row{Scenario: scenario, Metric: metric, Unit: unit, Bare: bare, Guarded: guarded, Notes: notes}
	if bare != 0 {
		r.Ratio = guarded / bare
	}
	return r
}

// sample collects latencies and errors from many goroutines.
type sample struct {
	mu      sync.Mutex
	lat     []time.Duration
	failLat []time.Duration // how long failed calls took
	errs    map[string]int
	ops     int
}

func newSample() *sample { return &sample{errs: map[string]int{}} }

// recorder is one goroutine's private buffer, merged once at the end so the
// measured loop takes no shared lock.
type recorder struct {
	lat     []time.Duration
	failLat []time.Duration
	errs    map[string]int
}

func (s *sample) recorder() *recorder {
	return &recorder{lat: make([]time.Duration, 0, 1<<14), errs: map[string]int{}}
}

func (r *recorder) done(start time.Time, err error) {
	d := time.Since(start)
	if err != nil {
		r.errs[errKind(err)]++
		r.failLat = append(r.failLat, d)
		return
	}
	r.lat = append(r.lat, d)
}

func (s *sample) merge(r *recorder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lat = append(s.lat, r.lat...)
	s.failLat = append(s.failLat, r.failLat...)
	s.ops += len(r.lat)
	for k, v := range r.errs {
		s.errs[k] += v
	}
}

func (s *sample) errors() int {
	n := 0
	for _, v := range s.errs {
		n += v
	}
	return n
}

func (s *sample) pct(p float64) time.Duration {
	if len(s.lat) == 0 {
		return 0
	}
	slices.Sort(s.lat)
	i := int(float64(len(s.lat)-1) * p)
	return s.lat[i]
}

func (s *sample) errString() string { return countString(s.errs) }

// countString lists counts by name, sorted: "a=1 b=2", or "none".
func countString(counts map[string]int) string {
	if len(counts) == 0 {
		return "none"
	}
	keys := slices.Sorted(maps.Keys(counts))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, counts[k])
	}
	return strings.Join(parts, " ")
}

// perSec is s's calls per second over secs seconds.
func perSec(s *sample, secs float64) float64 { return float64(s.ops) / secs }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// errKind names an error's class for the tables.
func errKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, hooks.ErrLimited):
		return "limited"
	case errors.Is(err, hooks.ErrCircuitOpen):
		return "circuit_open"
	case errors.Is(err, redis.ErrPoolTimeout):
		return "pool_timeout"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &ne) && ne.Timeout():
		return "io_timeout"
	case strings.Contains(err.Error(), "connection refused"):
		return "refused"
	case strings.Contains(err.Error(), "EOF"), strings.Contains(err.Error(), "reset"):
		return "conn_lost"
	default:
		return "other"
	}
}

// runFor runs n goroutines calling op until d has passed and returns what
// they saw. op gets the goroutine's index.
func runFor(ctx context.Context, n int, d time.Duration, op func(ctx context.Context, g, i int) error) *sample {
	return runPaced(ctx, n, d, op, 0)
}

// runPaced is runFor whose goroutines, after a call the Limiter refused
// (ErrLimited), pause for backOff on average before the next one, as the
// client of an API that answers such a call with 503 would: a pause drawn
// evenly from [backOff/2, 3*backOff/2), so that callers refused together do
// not all come back together. The pause is not part of the call's latency.
// 0 means no pause.
func runPaced(ctx context.Context, n int, d time.Duration, op func(ctx context.Context, g, i int) error, backOff time.Duration) *sample {
	return runWarm(ctx, n, 0, d, op, backOff)
}

// runWarm is runPaced that records only the calls begun after warm: the
// start of n goroutines at once (thousands, in overload) is not counted.
// The calls run for warm+d in all.
func runWarm(ctx context.Context, n int, warm, d time.Duration, op func(ctx context.Context, g, i int) error, backOff time.Duration) *sample {
	s := newSample()
	from := time.Now().Add(warm)
	stop := from.Add(d)
	var wg sync.WaitGroup
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r := s.recorder()
			for i := 0; time.Now().Before(stop) && ctx.Err() == nil; i++ {
				t0 := time.Now()
				err := op(ctx, g, i)
				if !t0.Before(from) {
					r.done(t0, err)
				}
				if backOff > 0 && errors.Is(err, hooks.ErrLimited) {
					time.Sleep(backOff/2 + rand.N(backOff))
				}
			}
			s.merge(r)
		}(g)
	}
	wg.Wait()
	return s
}
