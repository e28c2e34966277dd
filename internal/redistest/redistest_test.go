package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, LeakOptions()...) }

func TestStartAnswersAndStops(t *testing.T) {
	s := Start(t)
	reply, err := Do(s.Addr(), time.Second, "PING")
	if err != nil || reply != "PONG" {
		t.Fatalf("PING: %q, %v", reply, err)
	}
	if got, err := Do(s.Addr(), time.Second, "CONFIG", "GET", "appendonly"); err != nil || got != "appendonly\nno" {
		t.Fatalf("appendonly: %q, %v", got, err)
	}
	if _, err := os.Stat(s.Dir()); err != nil {
		t.Fatalf("dir: %v", err)
	}
}

func TestExtraArgsOverrideDefaults(t *testing.T) {
	s := Start(t, "--appendonly", "yes", "--appendfsync", "always")
	got, err := Do(s.Addr(), time.Second, "CONFIG", "GET", "appendonly")
	if err != nil || got != "appendonly\nyes" {
		t.Fatalf("appendonly: %q, %v", got, err)
	}
}

func TestKillRestartKeepsAddressAndClientReconnects(t *testing.T) {
	s := Start(t, "--appendonly", "yes", "--appendfsync", "always")
	addr := s.Addr()
	rdb := s.Client(t, &redis.Options{MaxRetries: -1})
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Kill()
	if err := rdb.Get(ctx, "k").Err(); err == nil {
		t.Fatal("GET on a killed server succeeded")
	}
	if _, err := Do(addr, 200*time.Millisecond, "PING"); err == nil {
		t.Fatal("killed server still answers PING")
	}
	s.Restart()
	if s.Addr() != addr {
		t.Fatalf("address changed: %s -> %s", addr, s.Addr())
	}
	// The pool may still hold a dead connection; go-redis discards it on
	// the first failure, so allow a bounded number of attempts.
	var got string
	var err error
	for i := 0; i < 5; i++ {
		if got, err = rdb.Get(ctx, "k").Result(); err == nil {
			break
		}
	}
	if err != nil || got != "v" {
		t.Fatalf("after restart GET = %q, %v (AOF should have replayed the SET)", got, err)
	}
}

func TestPausedServerHitsDeadlineAndResumedAnswers(t *testing.T) {
	s := Start(t)
	rdb := s.Client(t, &redis.Options{MaxRetries: -1, ContextTimeoutEnabled: true})
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	s.Pause()
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	err := rdb.Ping(cctx).Err()
	cancel()
	var ne net.Error
	if !errors.Is(err, context.DeadlineExceeded) && (!errors.As(err, &ne) || !ne.Timeout()) {
		t.Fatalf("PING on a paused server: want a deadline error, got %v", err)
	}
	s.Resume()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after resume: %v", err)
	}
}

func TestClusterAcceptsKeysInAllSlots(t *testing.T) {
	c := StartCluster(t, 3, 0)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	defer rdb.Close()
	ctx := context.Background()
	// 2,000 keys land in every master with overwhelming likelihood; check
	// that each master really got some.
	for i := 0; i < 2000; i++ {
		if err := rdb.Set(ctx, fmt.Sprintf("key:%d", i), i, 0).Err(); err != nil {
			t.Fatalf("SET key:%d: %v", i, err)
		}
	}
	var masters atomic.Int32
	err := rdb.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		n, err := m.DBSize(ctx).Result()
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("master %s holds no keys", m.Options().Addr)
		}
		masters.Add(1)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if masters.Load() != 3 {
		t.Fatalf("masters = %d, want 3", masters.Load())
	}
	for i := 0; i < 2000; i += 97 {
		if v, err := rdb.Get(ctx, fmt.Sprintf("key:%d", i)).Int(); err != nil || v != i {
			t.Fatalf("GET key:%d = %d, %v", i, v, err)
		}
	}
}

func TestProxyLatencyIsSeenByClient(t *testing.T) {
	s := Start(t)
	p := NewProxy(t, s.Addr())
	rdb := redis.NewClient(&redis.Options{Addr: p.Addr(), MaxRetries: -1})
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	// A 300 ms reply delay against a 100 ms deadline must time out; with
	// the toxic removed the same deadline is met. The latency is observed
	// through its effect, not by asserting a duration.
	name := p.Latency("downstream", 300*time.Millisecond, 0)
	fast := redis.NewClient(&redis.Options{Addr: p.Addr(), MaxRetries: -1, ContextTimeoutEnabled: true})
	defer fast.Close()
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	err := fast.Ping(cctx).Err()
	cancel()
	if err == nil {
		t.Fatal("PING through a 300 ms latency toxic met a 100 ms deadline")
	}
	p.RemoveToxic(name)
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after removing the toxic: %v", err)
	}
}

func TestProxyBlackholeResetAndDisable(t *testing.T) {
	s := Start(t)
	p := NewProxy(t, s.Addr())
	if r, err := Do(p.Addr(), time.Second, "PING"); err != nil || r != "PONG" {
		t.Fatalf("PING through proxy: %q %v", r, err)
	}
	p.Blackhole("downstream")
	if _, err := Do(p.Addr(), 200*time.Millisecond, "PING"); err == nil {
		t.Fatal("PING through a blackhole answered")
	}
	p.RemoveToxics()
	if r, err := Do(p.Addr(), time.Second, "PING"); err != nil || r != "PONG" {
		t.Fatalf("PING after RemoveToxics: %q %v", r, err)
	}
	p.ResetPeer("upstream", 0)
	if _, err := Do(p.Addr(), time.Second, "PING"); err == nil {
		t.Fatal("PING through reset_peer answered")
	}
	p.RemoveToxics()
	p.Disable()
	if _, err := Do(p.Addr(), 200*time.Millisecond, "PING"); err == nil {
		t.Fatal("PING through a disabled proxy answered")
	}
	p.Enable()
	if r, err := Do(p.Addr(), time.Second, "PING"); err != nil || r != "PONG" {
		t.Fatalf("PING after Enable: %q %v", r, err)
	}
}

func TestDoReportsErrorReplies(t *testing.T) {
	s := Start(t)
	_, err := Do(s.Addr(), time.Second, "NOSUCHCOMMAND")
	if err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Fatalf("want unknown command error, got %v", err)
	}
}

func TestProxyBandwidthSlowsLargeReplies(t *testing.T) {
	s := Start(t)
	p := NewProxy(t, s.Addr())
	if _, err := Do(s.Addr(), time.Second, "SET", "big", strings.Repeat("x", 64<<10)); err != nil {
		t.Fatal(err)
	}
	p.Bandwidth("downstream", 16) // 16 KB/s: a 64 KiB reply needs about 4 s
	if _, err := Do(p.Addr(), 500*time.Millisecond, "GET", "big"); err == nil {
		t.Fatal("64 KiB through a 16 KB/s link arrived within 500 ms")
	}
	p.RemoveToxics()
	if v, err := Do(p.Addr(), 2*time.Second, "GET", "big"); err != nil || len(v) != 64<<10 {
		t.Fatalf("GET after RemoveToxics: %d bytes, %v", len(v), err)
	}
}

func TestStartServerForProgramsCloses(t *testing.T) {
	RequireServer(t)
	s, err := StartServer()
	if err != nil {
		t.Fatal(err)
	}
	if r, err := Do(s.Addr(), time.Second, "PING"); err != nil || r != "PONG" {
		t.Fatalf("PING: %q %v", r, err)
	}
	dir := s.Dir()
	s.Close()
	if _, err := Do(s.Addr(), 200*time.Millisecond, "PING"); err == nil {
		t.Fatal("closed server still answers")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("server dir %s not removed: %v", dir, err)
	}
}

func TestStartWithRequirepass(t *testing.T) {
	s := Start(t, "--requirepass", "secret")
	if _, err := Do(s.Addr(), time.Second, "PING"); err == nil || !strings.HasPrefix(err.Error(), "NOAUTH") {
		t.Fatalf("PING without AUTH: want NOAUTH, got %v", err)
	}
	rdb := s.Client(t, &redis.Options{Password: "secret"})
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("PING with the password: %v", err)
	}
}

func TestSentinelSetAndDialVia(t *testing.T) {
	set := StartSentinelSet(t, 1, 3)
	if len(set.Sentinels) != 3 || len(set.Replicas) != 1 {
		t.Fatalf("set: %d sentinels, %d replicas", len(set.Sentinels), len(set.Replicas))
	}
	r, err := Do(set.Sentinels[0], time.Second, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", set.Name)
	if err != nil || r != "127.0.0.1\n"+fmt.Sprint(set.Master.Port()) {
		t.Fatalf("master by name: %q, %v", r, err)
	}
	// The failover client learns the master's own address from the
	// Sentinels; DialVia sends its connections through the proxy.
	proxies := ProxyEach(t, set.Master.Addr())
	var dialed atomic.Int64
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == proxies[set.Master.Addr()].Addr() {
			dialed.Add(1)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	rdb := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName: set.Name, SentinelAddrs: set.Sentinels, Dialer: DialVia(proxies, dial),
	})
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if dialed.Load() == 0 {
		t.Fatal("the master was not dialed through its proxy")
	}
	proxies[set.Master.Addr()].Disable()
	if err := rdb.Get(ctx, "k").Err(); err == nil {
		t.Fatal("GET succeeded with the master's proxy disabled")
	}
}
