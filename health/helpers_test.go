package health

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/redisguard/redisguard/hooks"
)

// waitBound bounds every poll: generous, because the tests assert states,
// never how fast they are reached.
const waitBound = 20 * time.Second

// waitFor polls cond until it holds or waitBound passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s", waitBound, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitStatus polls the monitor's last report until it has status want.
func waitStatus(t *testing.T, m *Monitor, want Status) Report {
	t.Helper()
	var r Report
	waitFor(t, "status "+string(want), func() bool {
		r = m.Report()
		return r.Status == want
	})
	return r
}

// newMonitor builds a monitor stopped in t.Cleanup. Register it after the
// client, so that the monitor stops before the client closes.
func newMonitor(t *testing.T, c Client, opt Options) *Monitor {
	t.Helper()
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := NewMonitor(c, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	return m
}

// logBuffer collects slog JSON lines; safe for the monitor's goroutine and
// the test to use at once.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// statusChanges records OnStatusChange calls.
type statusChanges struct {
	mu   sync.Mutex
	list [][2]Status
}

func (s *statusChanges) record(old, new Status, reasons []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = append(s.list, [2]Status{old, new})
}

func (s *statusChanges) get() [][2]Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][2]Status(nil), s.list...)
}

// Fakes standing in for the hooks: the monitor reads only these methods.

type fakeLimiter struct {
	mu    sync.Mutex
	stats hooks.LimiterStats
	nodes map[string]hooks.LimiterStats
}

func (f *fakeLimiter) Stats() hooks.LimiterStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

func (f *fakeLimiter) NodeStats() map[string]hooks.LimiterStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]hooks.LimiterStats, len(f.nodes))
	for k, v := range f.nodes {
		out[k] = v
	}
	return out
}

func (f *fakeLimiter) reject(n uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stats.Rejected += n
}

type fakeBreaker struct {
	mu     sync.Mutex
	states map[string]hooks.BreakerState
}

func (f *fakeBreaker) States() map[string]hooks.BreakerState {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]hooks.BreakerState, len(f.states))
	for k, v := range f.states {
		out[k] = v
	}
	return out
}

func (f *fakeBreaker) set(addr string, s hooks.BreakerState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.states == nil {
		f.states = map[string]hooks.BreakerState{}
	}
	f.states[addr] = s
}

type fakeRetry struct{ stats hooks.RetryStats }

func (f *fakeRetry) Stats() hooks.RetryStats { return f.stats }

var (
	_ limiterSource = (*fakeLimiter)(nil)
	_ breakerSource = (*fakeBreaker)(nil)
	_ retrySource   = (*fakeRetry)(nil)
)
