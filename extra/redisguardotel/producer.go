package redisguardotel

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// ErrProducerNotCollected is reported through otel.Handle, once per
// Producer, when the meter provider of an instrumentation given that
// Producer has been collected twice and the Producer never: no reader was
// given sdkmetric.WithProducer(producer), or none has collected it yet, and
// db.client.operation.duration reaches no exporter meanwhile.
var ErrProducerNotCollected = errors.New("redisguardotel: the meter provider was collected twice and the Options.Producer never: " +
	"db.client.operation.duration reaches only the readers given sdkmetric.WithProducer(producer)")

// Producer keeps db.client.operation.duration inside the adapter and hands
// it to the readers it is registered with, as an sdkmetric.Producer (the
// way OpenTelemetry's own Prometheus and OpenCensus bridges feed the SDK).
// Recording a command into it is a few atomic additions.
//
// Give it to each reader that should carry the histogram, and to Instrument:
//
//	p := redisguardotel.NewProducer()
//	reader := sdkmetric.NewPeriodicReader(exporter, sdkmetric.WithProducer(p))
//	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
//	inst, err := redisguardotel.Instrument(rdb, redisguardotel.Options{MeterProvider: mp, Producer: p})
//
// One Producer may serve several Instrument calls (tell them apart with
// Options.Attributes) and several readers. What this route gives up next to
// the meter provider's histogram is in the package doc.
type Producer struct {
	mu     sync.Mutex
	series map[attribute.Distinct]*series
	order  []*series

	collected atomic.Bool
	warned    atomic.Bool
}

var _ sdkmetric.Producer = (*Producer)(nil)

// NewProducer returns an empty Producer.
func NewProducer() *Producer {
	return &Producer{series: make(map[attribute.Distinct]*series)}
}

// Produce returns db.client.operation.duration: one cumulative histogram
// data point per attribute set recorded so far, under the scope ScopeName.
// It is safe to call concurrently, from several readers.
func (p *Producer) Produce(context.Context) ([]metricdata.ScopeMetrics, error) {
	p.collected.Store(true)
	p.mu.Lock()
	ss := p.order[:len(p.order):len(p.order)]
	p.mu.Unlock()
	now := time.Now()
	bounds := append([]float64(nil), durationBuckets[:]...)
	pts := make([]metricdata.HistogramDataPoint[float64], 0, len(ss))
	for _, s := range ss {
		if pt, ok := s.point(now, bounds); ok {
			pts = append(pts, pt)
		}
	}
	if len(pts) == 0 {
		return nil, nil
	}
	return []metricdata.ScopeMetrics{{
		Scope: instrumentation.Scope{Name: ScopeName},
		Metrics: []metricdata.Metrics{{
			Name: durationName, Description: durationDescription, Unit: durationUnit,
			Data: metricdata.Histogram[float64]{Temporality: metricdata.CumulativeTemporality, DataPoints: pts},
		}},
	}}, nil
}

// lookup returns the series of attrs, made on first use.
func (p *Producer) lookup(attrs attribute.Set) *series {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := attrs.Equivalent()
	if s, ok := p.series[k]; ok {
		return s
	}
	s := &series{attrs: attrs, start: time.Now()}
	s.minNs.Store(math.MaxInt64)
	s.maxNs.Store(math.MinInt64)
	p.series[k] = s
	p.order = append(p.order, s)
	return s
}

// sdkCollected is called by an instrumentation's observer at each
// collection of its meter provider, the n-th for that instrumentation. A
// collection runs the callbacks before it calls the external producers, so
// the first one may precede the Producer's first Produce; from the second
// one on, a Producer never collected is reported.
func (p *Producer) sdkCollected(n int64) {
	if n < 2 || p.collected.Load() || !p.warned.CompareAndSwap(false, true) {
		return
	}
	otel.Handle(ErrProducerNotCollected)
}

// series is one attribute set's histogram, in nanoseconds. The count is
// the sum of the buckets, so a point read while commands are recorded is
// consistent in itself; its sum may lead or trail by those commands.
type series struct {
	attrs        attribute.Set
	start        time.Time
	buckets      [len(durationBuckets) + 1]atomic.Uint64
	sumNs        atomic.Int64
	minNs, maxNs atomic.Int64
}

// record adds one duration: the extremes and the sum first, the bucket
// last, so that a point counting the duration sees them too.
func (s *series) record(d time.Duration) {
	ns := int64(d)
	lower(&s.minNs, ns)
	raise(&s.maxNs, ns)
	s.sumNs.Add(ns)
	sec := d.Seconds()
	i := 0
	for i < len(durationBuckets) && sec > durationBuckets[i] {
		i++
	}
	s.buckets[i].Add(1)
}

// lower stores v in a if v is below its value.
func lower(a *atomic.Int64, v int64) {
	for old := a.Load(); v < old; old = a.Load() {
		if a.CompareAndSwap(old, v) {
			return
		}
	}
}

// raise stores v in a if v is above its value.
func raise(a *atomic.Int64, v int64) {
	for old := a.Load(); v > old; old = a.Load() {
		if a.CompareAndSwap(old, v) {
			return
		}
	}
}

// point is the series as a data point; ok is false before its first
// duration is counted.
func (s *series) point(now time.Time, bounds []float64) (metricdata.HistogramDataPoint[float64], bool) {
	counts := make([]uint64, len(s.buckets))
	var n uint64
	for i := range s.buckets {
		counts[i] = s.buckets[i].Load()
		n += counts[i]
	}
	if n == 0 {
		return metricdata.HistogramDataPoint[float64]{}, false
	}
	return metricdata.HistogramDataPoint[float64]{
		Attributes: s.attrs, StartTime: s.start, Time: now,
		Count: n, Bounds: bounds, BucketCounts: counts,
		Min: metricdata.NewExtrema(time.Duration(s.minNs.Load()).Seconds()),
		Max: metricdata.NewExtrema(time.Duration(s.maxNs.Load()).Seconds()),
		Sum: time.Duration(s.sumNs.Load()).Seconds(),
	}, true
}
