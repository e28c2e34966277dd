package main

import (
	"strings"
	"sync/atomic"
	"time"

	"github.com/redisguard/redisguard/internal/redistest"
)

// foWatchEvery is how often watchPromotion asks the candidates their role.
const foWatchEvery = 5 * time.Millisecond

// watchPromotion asks each of candidates (the failed master's replicas) for
// its ROLE every foWatchEvery from t0 on, stores in at the ns from t0 to the
// first reply that says master, and returns a function that stops the
// watch and waits for it. A replica says master from the moment it takes
// over: a cluster replica once it has won the election, a Sentinel's once
// the Sentinels' leader has sent it REPLICAOF NO ONE. The other servers,
// the Sentinels and the clients learn of it after.
func watchPromotion(t0 time.Time, candidates []string, at *atomic.Int64) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(foWatchEvery)
		defer tick.Stop()
		for {
			for _, a := range candidates {
				if r, err := redistest.Do(a, 100*time.Millisecond, "ROLE"); err == nil && strings.HasPrefix(r, "master\n") {
					at.Store(int64(time.Since(t0)))
					return
				}
			}
			select {
			case <-quit:
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}

// replicasOf lists the cluster nodes that replicate master, as each node
// reports it.
func replicasOf(cl *redistest.Cluster, master string) []string {
	var rs []string
	for _, a := range cl.Addrs() {
		if m, err := redistest.MasterOf(a); err == nil && m == master {
			rs = append(rs, a)
		}
	}
	return rs
}

// sincePromo is the ms from the promotion to first (both ns from the
// event), or -1 when either is unknown.
func sincePromo(promo, first int64) float64 {
	if promo < 0 || first < 0 {
		return -1
	}
	return ms(time.Duration(first - promo))
}
