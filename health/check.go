package health

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redisguard/redisguard/hooks"
)

// refusedByCircuit reports whether the monitor's PING on a cluster was
// refused by the open circuit of the node it went to.
func (m *Monitor) refusedByCircuit(err error) bool {
	return m.cluster && errors.Is(err, hooks.ErrCircuitOpen)
}

// clusterTopology is what the rules need to know of a cluster's nodes, as
// the check listed them. A master's standby replicas are the listed nodes
// that answered their PING and last reported it as their master: a
// replica, or a node the cluster promoted in its place while the master is
// still down (the nodes do not learn of a promotion all at once, and one
// that has not yet may still list the dead master with its slots). Called
// with checkMu held.
func (m *Monitor) clusterTopology(nodes []NodeFigures) *topology {
	t := &topology{listed: make(map[string]bool, len(nodes)), standby: map[string][]string{}}
	answered := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		t.listed[n.Addr] = true
		answered[n.Addr] = n.Error == ""
	}
	prev := m.replicaOf
	m.replicaOf = make(map[string]string, len(nodes))
	for _, n := range nodes {
		switch {
		case n.Role == roleReplica && n.Master != "":
			m.replicaOf[n.Addr] = n.Master
		case n.Role == roleMaster && prev[n.Addr] != "" && !answered[prev[n.Addr]]:
			m.replicaOf[n.Addr] = prev[n.Addr] // promoted; its old master is down
		}
	}
	for _, n := range nodes {
		if master := m.replicaOf[n.Addr]; master != "" && answered[n.Addr] {
			t.standby[master] = append(t.standby[master], n.Addr)
		}
	}
	return t
}

// grown is how much a counter grew; a counter that went down (a node left a
// cluster, a client was replaced) counts as no growth.
func grown(prev, cur uint64) uint64 {
	if cur > prev {
		return cur - prev
	}
	return 0
}

func (m *Monitor) hookFigures(r *Report) {
	if m.opt.Limiter != nil {
		l := limiterFigures(m.opt.Limiter.Stats())
		if ns := m.opt.Limiter.NodeStats(); len(ns) > 0 {
			l.Nodes = make(map[string]LimiterFigures, len(ns))
			for addr, s := range ns {
				l.Nodes[addr] = limiterFigures(s)
			}
		}
		r.Hooks.Limiter = &l
	}
	if m.opt.Breaker != nil {
		states := m.opt.Breaker.States()
		r.Hooks.Breakers = make(map[string]hooks.BreakerState, len(states))
		for addr, s := range states {
			r.Hooks.Breakers[addr] = s
		}
	}
	if m.opt.ReplicaReads != nil {
		s := m.opt.ReplicaReads.Stats()
		r.Hooks.ReplicaReads = &ReplicaReadFigures{Served: s.Served, Failed: s.Failed}
	}
	if m.opt.Retry != nil {
		s := m.opt.Retry.Stats()
		r.Hooks.Retry = &RetryFigures{
			Retries:    s.Retries,
			Recovered:  s.Recovered,
			GaveUp:     s.GaveUp,
			NotRetried: s.NotRetried,

			BudgetSpent: s.BudgetSpent,
		}
	}
}

// serverFigures adds to r what the check's INFO and per-node round found
// (info, nil when not asked), the pool size, and the node errors and
// topology the rules judge (to in).
func (m *Monitor) serverFigures(r *Report, in *inputs, info *infoResult) {
	if info != nil {
		r.Server = info.server
		if info.infoErr != nil {
			r.InfoError = info.infoErr.Error()
		}
		if info.nodeErr != nil && r.InfoError == "" {
			r.InfoError = info.nodeErr.Error()
		}
		if info.nodes != nil {
			r.Nodes = info.nodes
			var sum PoolFigures
			for _, n := range info.nodes {
				sum.add(n.Pool)
				if n.Error != "" {
					in.nodeErrs = append(in.nodeErrs, nodeErr{n.Addr, errors.New(n.Error)})
				}
			}
			if m.cluster {
				in.topology = m.clusterTopology(info.nodes)
			}
			r.Pool = sum
			m.maxConns = sum.MaxConnections
		}
	}
	switch {
	case m.opt.MaxConnections > 0:
		r.Pool.MaxConnections = m.opt.MaxConnections
	case r.Nodes == nil:
		if o, ok := m.c.(optioned); ok {
			m.maxConns = o.Options().PoolSize
		}
		r.Pool.MaxConnections = m.maxConns
	}
}

// probe sends PING, then (if it answered) INFO and the per-node round, on a
// goroutine of its own, and waits for each step at most PingTimeout. A step
// that does not finish in time is reported as timed out; the goroutine goes
// on until the client gives up, and the next check finds it busy (a failed
// ping) rather than piling up more commands on a stuck server. info is nil
// when the ping failed or INFO did not finish in time.
func (m *Monitor) probe(ctx context.Context) (pingResult, *infoResult) {
	pingCh := make(chan pingResult, 1)
	infoCh := make(chan infoResult, 1)

	m.probeMu.Lock()
	if m.probeDone != nil {
		select {
		case <-m.probeDone:
		default:
			m.probeMu.Unlock()
			return pingResult{err: errProbeBusy}, nil
		}
	}
	done := make(chan struct{})
	m.probeDone = done
	m.probeMu.Unlock()

	start := time.Now()
	go func() {
		defer close(done)
		pctx, cancel := context.WithTimeout(ctx, m.opt.PingTimeout)
		err := m.c.Ping(pctx).Err()
		cancel()
		pingCh <- pingResult{latency: time.Since(start), err: err}
		if err != nil && !m.refusedByCircuit(err) {
			return
		}
		ictx, cancel := context.WithTimeout(ctx, m.opt.PingTimeout)
		defer cancel()
		infoCh <- m.readInfo(ictx)
	}()

	timer := time.NewTimer(m.opt.PingTimeout)
	defer timer.Stop()
	var ping pingResult
	select {
	case ping = <-pingCh:
	case <-timer.C:
		return pingResult{latency: time.Since(start), err: fmt.Errorf("health: ping timed out after %s", m.opt.PingTimeout)}, nil
	case <-ctx.Done():
		return pingResult{latency: time.Since(start), err: fmt.Errorf("health: ping: %w", ctx.Err())}, nil
	}
	if ping.err != nil && !m.refusedByCircuit(ping.err) {
		<-done // it returns right after sending
		return ping, nil
	}
	timer.Reset(m.opt.PingTimeout)
	select {
	case info := <-infoCh:
		<-done // so that the next check does not find it busy
		return ping, &info
	case <-timer.C:
		return ping, &infoResult{infoErr: fmt.Errorf("health: INFO timed out after %s", m.opt.PingTimeout)}
	case <-ctx.Done():
		return ping, &infoResult{infoErr: fmt.Errorf("health: INFO: %w", ctx.Err())}
	}
}

// readInfo reads INFO from the client, or from every node of a cluster or
// ring, with the nodes' own PING and pool figures.
func (m *Monitor) readInfo(ctx context.Context) infoResult {
	if sh, ok := m.c.(sharded); ok {
		var mu sync.Mutex
		nodes := []NodeFigures{}
		err := sh.ForEachShard(ctx, func(ctx context.Context, node *redis.Client) error {
			nf := nodeFigures(ctx, node)
			mu.Lock()
			nodes = append(nodes, nf)
			mu.Unlock()
			return nil
		})
		if err == nil {
			sort.Slice(nodes, func(i, j int) bool { return nodes[i].Addr < nodes[j].Addr })
			var sum ServerFigures
			answered := 0
			for _, n := range nodes {
				if n.Server != nil {
					sum.add(*n.Server)
					answered++
				}
			}
			res := infoResult{nodes: nodes}
			if answered > 0 {
				res.server = &sum
			} else {
				res.infoErr = errors.New("health: no node answered INFO")
			}
			return res
		}
		// The node list could not be had; fall back to the client's own
		// INFO (one node) and pool sums.
		res := m.clientInfo(ctx)
		res.nodeErr = fmt.Errorf("health: listing nodes: %w", err)
		return res
	}
	return m.clientInfo(ctx)
}

func (m *Monitor) clientInfo(ctx context.Context) infoResult {
	text, err := m.c.Info(ctx).Result()
	if err != nil {
		return infoResult{infoErr: fmt.Errorf("health: INFO: %w", err)}
	}
	s := parseInfo(text)
	return infoResult{server: &s}
}

func nodeFigures(ctx context.Context, node *redis.Client) NodeFigures {
	opt := node.Options()
	nf := NodeFigures{Addr: opt.Addr, Pool: poolFigures(node.PoolStats())}
	nf.Pool.MaxConnections = opt.PoolSize
	start := time.Now()
	err := node.Ping(ctx).Err()
	nf.Latency = time.Since(start)
	if err != nil {
		nf.Error = err.Error()
		return nf
	}
	text, err := node.Info(ctx).Result()
	if err != nil {
		nf.InfoError = fmt.Sprintf("health: INFO: %v", err)
		return nf
	}
	s := parseInfo(text)
	nf.Server = &s
	nf.Role, nf.Master = parseRole(text)
	return nf
}
