package health

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
)

func TestNewMonitorRejectsBadOptions(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	if _, err := NewMonitor(nil, Options{}); err == nil || !strings.HasPrefix(err.Error(), "health: ") {
		t.Errorf("nil client: err = %v", err)
	}
	for name, opt := range map[string]Options{
		"negative Interval":          {Interval: -time.Second},
		"negative PingTimeout":       {PingTimeout: -time.Second},
		"negative MaxConnections":    {MaxConnections: -1},
		"negative FailuresUnhealthy": {Rules: Rules{FailuresUnhealthy: -2}},
	} {
		if _, err := NewMonitor(rdb, opt); err == nil || !strings.HasPrefix(err.Error(), "health: ") {
			t.Errorf("%s: err = %v, want a health: error", name, err)
		}
	}
	m, err := NewMonitor(rdb, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m.opt.Interval != defaultInterval || m.opt.PingTimeout != defaultPingTimeout || m.opt.Rules != defaultRules {
		t.Fatalf("defaults not applied: %+v %+v", m.opt, m.opt.Rules)
	}
	if r := m.Report(); r.Status != "" || !r.CheckedAt.IsZero() {
		t.Fatalf("report before any check = %+v", r)
	}
}

func TestCheckReportsFiguresOfARealServer(t *testing.T) {
	s := redistest.Start(t, "--maxclients", "1234", "--maxmemory", "100mb")
	rdb := s.Client(t, &redis.Options{PoolSize: 7})
	m := newMonitor(t, rdb, Options{Name: "api", PingTimeout: 5 * time.Second})
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		if err := rdb.Set(ctx, "k", i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}

	r := m.Check(ctx)
	if r.Status != StatusHealthy || len(r.Reasons) != 0 || r.LastError != "" || r.ConsecutiveFailures != 0 {
		t.Fatalf("status %q, reasons %q, error %q, failures %d", r.Status, r.Reasons, r.LastError, r.ConsecutiveFailures)
	}
	if r.Name != "api" || r.CheckedAt.IsZero() || r.Latency <= 0 || r.AvgLatency <= 0 {
		t.Fatalf("name %q, checked at %v, latency %v, avg %v", r.Name, r.CheckedAt, r.Latency, r.AvgLatency)
	}
	p := r.Pool
	if p.MaxConnections != 7 {
		t.Errorf("max_connections = %d, want the client's PoolSize 7", p.MaxConnections)
	}
	if p.CreatedConnections < 1 || p.AvailableConnections+p.InUseConnections != p.CreatedConnections {
		t.Errorf("created %d, available %d, in use %d", p.CreatedConnections, p.AvailableConnections, p.InUseConnections)
	}
	if p.Misses < 1 || p.Hits < 20 {
		t.Errorf("misses %d (the first get dials), hits %d (21 commands on one idle connection)", p.Misses, p.Hits)
	}
	if p.Timeouts != 0 {
		t.Errorf("timeouts = %d", p.Timeouts)
	}
	sv := r.Server
	if sv == nil {
		t.Fatalf("no server figures; info error %q", r.InfoError)
	}
	if sv.MaxClients != 1234 || sv.MaxMemory != 100<<20 || sv.ConnectedClients < 1 || sv.UsedMemory <= 0 ||
		sv.RejectedConnections != 0 || sv.BlockedClients != 0 || len(sv.Missing) != 0 {
		t.Errorf("server figures = %+v", *sv)
	}
	if r.Nodes != nil || r.Hooks.Limiter != nil || r.Hooks.Breakers != nil || r.Hooks.Retry != nil {
		t.Errorf("nodes %v, hooks %+v: want none on a plain client without hooks", r.Nodes, r.Hooks)
	}

	// A client blocked in BLPOP shows in blocked_clients.
	other := s.Client(t, nil)
	done := make(chan error, 1)
	go func() { done <- other.BLPop(ctx, 10*time.Second, "queue").Err() }()
	waitFor(t, "blocked_clients 1", func() bool {
		r := m.Check(ctx)
		return r.Server != nil && r.Server.BlockedClients == 1
	})
	if err := rdb.LPush(ctx, "queue", "x").Err(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("BLPOP: %v", err)
	}

	// The returned report is a copy.
	r = m.Report()
	r.Reasons = append(r.Reasons, "mine")
	r.Server.ConnectedClients = -1
	if again := m.Report(); len(again.Reasons) != 0 || again.Server.ConnectedClients == -1 {
		t.Fatalf("changing a returned report changed the monitor's: %+v", again)
	}
}

func TestKilledServerIsUnhealthyAfterFailuresUnhealthyChecks(t *testing.T) {
	s := redistest.Start(t)
	rdb := s.Client(t, nil)
	m := newMonitor(t, rdb, Options{PingTimeout: time.Second, Rules: Rules{FailuresUnhealthy: 2}})
	ctx := context.Background()
	if r := m.Check(ctx); r.Status != StatusHealthy {
		t.Fatalf("before kill: %q %q", r.Status, r.Reasons)
	}
	s.Kill()
	r := m.Check(ctx)
	if r.Status != StatusDegraded || r.ConsecutiveFailures != 1 || r.LastError == "" {
		t.Fatalf("first check after kill: status %q, failures %d, error %q", r.Status, r.ConsecutiveFailures, r.LastError)
	}
	r = m.Check(ctx)
	if r.Status != StatusUnhealthy || r.ConsecutiveFailures != 2 || !strings.Contains(r.Reasons[0], "2 times in a row") {
		t.Fatalf("second check after kill: status %q, failures %d, reasons %q", r.Status, r.ConsecutiveFailures, r.Reasons)
	}
	if r.Server != nil {
		t.Fatalf("server figures after a failed ping: %+v", r.Server)
	}
	s.Restart()
	waitFor(t, "healthy after restart", func() bool { return m.Check(ctx).Status == StatusHealthy })
	r = m.Report()
	if r.ConsecutiveFailures != 0 || r.LastError != "" || r.Server == nil {
		t.Fatalf("after restart: failures %d, error %q, server %v", r.ConsecutiveFailures, r.LastError, r.Server)
	}
}

func TestRunningMonitorFollowsKillAndRestart(t *testing.T) {
	s := redistest.Start(t)
	rdb := s.Client(t, nil)
	var logs logBuffer
	var changes statusChanges
	m := newMonitor(t, rdb, Options{
		Name:           "worker",
		Interval:       50 * time.Millisecond,
		PingTimeout:    time.Second,
		Logger:         logs.logger(),
		OnStatusChange: changes.record,
	})
	m.Start()
	waitStatus(t, m, StatusHealthy)
	s.Kill()
	r := waitStatus(t, m, StatusUnhealthy)
	if r.ConsecutiveFailures < defaultRules.FailuresUnhealthy {
		t.Fatalf("unhealthy with %d failures, want at least %d", r.ConsecutiveFailures, defaultRules.FailuresUnhealthy)
	}
	s.Restart()
	waitStatus(t, m, StatusHealthy)
	m.Stop()

	got := changes.get()
	if len(got) < 3 || got[0] != [2]Status{"", StatusHealthy} || got[len(got)-1][1] != StatusHealthy {
		t.Fatalf("status changes = %v", got)
	}
	sawUnhealthy := false
	for i, c := range got {
		if i > 0 && c[0] != got[i-1][1] {
			t.Fatalf("changes do not chain: %v", got)
		}
		sawUnhealthy = sawUnhealthy || c[1] == StatusUnhealthy
	}
	if !sawUnhealthy {
		t.Fatalf("no change to unhealthy in %v", got)
	}

	out := logs.String()
	for _, want := range []string{
		`"msg":"Redis connection pool initialized"`, `"health_check_interval":`, `"max_connections":`,
		`"level":"DEBUG","msg":"Redis pool health"`, `"available":`, `"total":`, `"in_use":`,
		`"level":"WARN","msg":"Redis health status changed","name":"worker","from":"degraded","to":"unhealthy"`,
		`"level":"INFO","msg":"Redis health status changed","name":"worker","from":"","to":"healthy"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %s", want)
		}
	}
	if !strings.Contains(out, `"to":"healthy","reasons":[]`) {
		t.Errorf("no status change back to healthy logged")
	}
}

func TestPausedServerFailsThePingDeadline(t *testing.T) {
	s := redistest.Start(t)
	// ContextTimeoutEnabled is off and ReadTimeout is go-redis's 3 s: the
	// client alone would wait for the reply; the monitor must not.
	rdb := s.Client(t, nil)
	m := newMonitor(t, rdb, Options{PingTimeout: 200 * time.Millisecond, Rules: Rules{FailuresUnhealthy: 2}})
	t.Cleanup(s.Resume) // runs before the monitor's Stop, which waits for the PING
	ctx := context.Background()
	if r := m.Check(ctx); r.Status != StatusHealthy {
		t.Fatalf("before pause: %q %q", r.Status, r.Reasons)
	}
	s.Pause()
	r := m.Check(ctx)
	if r.Status != StatusDegraded || !strings.Contains(r.LastError, "ping timed out after 200ms") {
		t.Fatalf("paused: status %q, error %q", r.Status, r.LastError)
	}
	// The first PING is still waiting for its reply: the second check must
	// fail without sending another.
	r = m.Check(ctx)
	if r.Status != StatusUnhealthy || r.ConsecutiveFailures != 2 {
		t.Fatalf("still paused: status %q, failures %d, error %q", r.Status, r.ConsecutiveFailures, r.LastError)
	}
	if st := rdb.PoolStats(); st.TotalConns-st.IdleConns > 1 {
		t.Fatalf("%d connections in use: checks piled up PINGs on a stuck server", st.TotalConns-st.IdleConns)
	}
	s.Resume()
	waitFor(t, "healthy after resume", func() bool { return m.Check(ctx).Status == StatusHealthy })
}

func TestCheckAbandonedWhenContextEnds(t *testing.T) {
	s := redistest.Start(t)
	rdb := s.Client(t, &redis.Options{ContextTimeoutEnabled: true})
	m := newMonitor(t, rdb, Options{PingTimeout: 10 * time.Second})
	t.Cleanup(s.Resume)
	if r := m.Check(context.Background()); r.Status != StatusHealthy {
		t.Fatalf("first check: %q", r.Status)
	}
	before := m.Report()
	s.Pause()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	r := m.Check(ctx)
	cancel()
	if r.Status != StatusHealthy || r.ConsecutiveFailures != 0 || !r.CheckedAt.Equal(before.CheckedAt) {
		t.Fatalf("abandoned check changed the report: %+v", r)
	}
	s.Resume()
	waitFor(t, "a check after resume", func() bool { return m.Check(context.Background()).Status == StatusHealthy })
}

func TestPoolTimeoutsGrowingDegrades(t *testing.T) {
	s := redistest.Start(t)
	rdb := s.Client(t, &redis.Options{PoolSize: 1, PoolTimeout: 100 * time.Millisecond, MaxRetries: -1})
	m := newMonitor(t, rdb, Options{PingTimeout: 5 * time.Second})
	ctx := context.Background()
	if r := m.Check(ctx); r.Status != StatusHealthy {
		t.Fatalf("baseline: %q %q", r.Status, r.Reasons)
	}
	// Hold the only connection in BLPOP, so a GET times out on the pool.
	done := make(chan error, 1)
	go func() { done <- rdb.BLPop(ctx, 10*time.Second, "queue").Err() }()
	waitFor(t, "BLPOP holding the connection", func() bool {
		st := rdb.PoolStats()
		return st.TotalConns == 1 && st.IdleConns == 0
	})
	if err := rdb.Get(ctx, "k").Err(); !errors.Is(err, redis.ErrPoolTimeout) {
		t.Fatalf("GET with the pool taken: %v, want a pool timeout", err)
	}
	other := s.Client(t, nil)
	if err := other.LPush(ctx, "queue", "x").Err(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	r := m.Check(ctx)
	if r.Status != StatusDegraded || r.Pool.Timeouts < 1 || len(r.Reasons) != 1 ||
		!strings.Contains(r.Reasons[0], "pool timeouts grew by") {
		t.Fatalf("after a pool timeout: status %q, timeouts %d, reasons %q", r.Status, r.Pool.Timeouts, r.Reasons)
	}
	if r := m.Check(ctx); r.Status != StatusHealthy {
		t.Fatalf("no new timeout since: %q %q", r.Status, r.Reasons)
	}
}

func TestHookFiguresDriveStatus(t *testing.T) {
	s := redistest.Start(t)
	rdb := s.Client(t, nil)
	lim := &fakeLimiter{
		stats: hooks.LimiterStats{InFlight: 2, InFlightBlocking: 1, Waiting: 3, Admitted: 100, Rejected: 4, Cancelled: 1,
			TotalWait: 1500 * time.Millisecond, MaxWaitSeen: 20 * time.Millisecond,
			LimiterLimits: hooks.LimiterLimits{MaxInFlight: 40, MaxBlocking: 10, MaxWait: time.Second, MaxWaiting: 20}},
		nodes: map[string]hooks.LimiterStats{s.Addr(): {InFlight: 2, Admitted: 100, Rejected: 4}},
	}
	brk := &fakeBreaker{}
	brk.set(s.Addr(), hooks.BreakerClosed)
	rty := &fakeRetry{stats: hooks.RetryStats{Retries: 5, Recovered: 3, GaveUp: 1, NotRetried: 2}}
	var changes statusChanges
	m := newMonitor(t, rdb, Options{Limiter: lim, Breaker: brk, Retry: rty, OnStatusChange: changes.record})
	ctx := context.Background()

	r := m.Check(ctx)
	if r.Status != StatusHealthy {
		t.Fatalf("first check (rejections before it do not count): %q %q", r.Status, r.Reasons)
	}
	l := r.Hooks.Limiter
	if l == nil || l.InFlight != 2 || l.InFlightBlocking != 1 || l.Waiting != 3 || l.Admitted != 100 || l.Rejected != 4 ||
		l.Cancelled != 1 || l.TotalWait != 1500*time.Millisecond || l.MaxWaitSeen != 20*time.Millisecond ||
		l.MaxInFlight != 40 || l.MaxBlocking != 10 || l.MaxWait != time.Second || l.MaxWaiting != 20 ||
		l.Nodes[s.Addr()].Rejected != 4 {
		t.Fatalf("limiter figures = %+v", l)
	}
	if r.Hooks.Breakers[s.Addr()] != hooks.BreakerClosed || len(r.Hooks.Breakers) != 1 {
		t.Fatalf("breakers = %v", r.Hooks.Breakers)
	}
	if *r.Hooks.Retry != (RetryFigures{Retries: 5, Recovered: 3, GaveUp: 1, NotRetried: 2}) {
		t.Fatalf("retry = %+v", *r.Hooks.Retry)
	}

	steps := []struct {
		do     func()
		want   Status
		reason string
	}{
		{func() { lim.reject(5) }, StatusDegraded, "limiter rejected 5 commands since the last check"},
		{func() {}, StatusHealthy, ""},
		{func() { brk.set(s.Addr(), hooks.BreakerHalfOpen) }, StatusDegraded, "breaker half-open for " + s.Addr()},
		{func() { brk.set(s.Addr(), hooks.BreakerOpen) }, StatusUnhealthy, "breaker open for " + s.Addr()},
		{func() { brk.set(s.Addr(), hooks.BreakerClosed) }, StatusHealthy, ""},
	}
	for i, st := range steps {
		st.do()
		r := m.Check(ctx)
		if r.Status != st.want {
			t.Fatalf("step %d: status %q, want %q (reasons %q)", i, r.Status, st.want, r.Reasons)
		}
		if st.reason == "" && len(r.Reasons) != 0 || st.reason != "" && (len(r.Reasons) != 1 || r.Reasons[0] != st.reason) {
			t.Fatalf("step %d: reasons %q, want %q", i, r.Reasons, st.reason)
		}
	}
	want := [][2]Status{
		{"", StatusHealthy}, {StatusHealthy, StatusDegraded}, {StatusDegraded, StatusHealthy},
		{StatusHealthy, StatusDegraded}, {StatusDegraded, StatusUnhealthy}, {StatusUnhealthy, StatusHealthy},
	}
	if got := changes.get(); len(got) != len(want) {
		t.Fatalf("status changes = %v, want %v", got, want)
	} else {
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("status changes = %v, want %v", got, want)
			}
		}
	}
}

func TestStartStopAreIdempotentAndRestartable(t *testing.T) {
	s := redistest.Start(t)
	rdb := s.Client(t, nil)
	m := newMonitor(t, rdb, Options{Interval: 20 * time.Millisecond})
	m.Stop() // not started: nothing to do
	m.Start()
	m.Start()
	first := waitStatus(t, m, StatusHealthy)
	waitFor(t, "a second check", func() bool { return m.Report().CheckedAt.After(first.CheckedAt) })
	m.Stop()
	m.Stop()
	stopped := m.Report()
	m.Start()
	waitFor(t, "a check after restart", func() bool { return m.Report().CheckedAt.After(stopped.CheckedAt) })
	m.Stop()
}

func TestConcurrentChecksAndReads(t *testing.T) {
	s := redistest.Start(t)
	rdb := s.Client(t, nil)
	// A long PingTimeout: the test is about checks running one at a time,
	// each finding the previous one's PING finished, not about speed.
	m := newMonitor(t, rdb, Options{Interval: 5 * time.Millisecond, PingTimeout: 30 * time.Second})
	m.Start()
	var wg sync.WaitGroup
	errs := make(chan string, 80)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				if r := m.Check(context.Background()); r.Status != StatusHealthy {
					errs <- fmt.Sprintf("%s: %q", r.Status, r.Reasons)
				}
				_ = m.Report()
			}
		}()
	}
	wg.Wait()
	m.Stop()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
