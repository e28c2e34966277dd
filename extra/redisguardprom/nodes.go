package redisguardprom

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/redisguard/redisguard/internal/observe"
)

// newDurationHook records db_client_operation_duration_seconds on one node
// client; each operation and error type gets its observer looked up once.
func newDurationHook(hist *prometheus.HistogramVec, node string) *observe.Timer[prometheus.Observer] {
	return &observe.Timer[prometheus.Observer]{
		Series: func(op, errType string) prometheus.Observer {
			return hist.WithLabelValues(node, op, errType)
		},
		Record: func(_ context.Context, o prometheus.Observer, d time.Duration) { o.Observe(d.Seconds()) },
	}
}
