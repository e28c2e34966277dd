package redistest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// SentinelMaster is the master name the tests' Sentinels monitor.
const SentinelMaster = "mymaster"

// StartSentinel runs one Sentinel monitoring master under name with the
// given quorum, and returns its address once it answers PING. A Sentinel
// needs a config file of its own (it rewrites it), so it cannot be started
// with Start; it is stopped in t.Cleanup.
func StartSentinel(t testing.TB, name string, master *Server, quorum int) string {
	t.Helper()
	RequireServer(t)
	port, err := FreePort()
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	text := fmt.Sprintf(`port %d
bind 127.0.0.1
protected-mode no
daemonize no
dir %s
sentinel monitor %s 127.0.0.1 %d %d
sentinel down-after-milliseconds %s 2000
sentinel failover-timeout %s 10000
`, port, dir, name, master.Port(), quorum, name, name)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatalf("redistest: %v", err)
	}
	logf, err := os.Create(filepath.Join(dir, "sentinel.log"))
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	cmd := exec.Command("redis-server", conf, "--sentinel")
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, logf, logf
	exited := make(chan struct{})
	if err := startOwned(cmd, func() {
		_ = logf.Close()
		close(exited)
	}); err != nil {
		_ = logf.Close()
		t.Fatalf("redistest: starting sentinel: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if err := poll(readyTimeout, func() (bool, string) {
		r, err := Do(addr, time.Second, "PING")
		return err == nil && r == "PONG", fmt.Sprint(r, err)
	}); err != nil {
		t.Fatalf("redistest: sentinel on port %d: %v", port, err)
	}
	return addr
}

// SentinelSet is a master, its replicas and the Sentinels watching them,
// owned by one test.
type SentinelSet struct {
	// Name is the master name the Sentinels know the set by.
	Name string
	// Master is the server that was master when the set started.
	Master *Server
	// Replicas replicate Master.
	Replicas []*Server
	// Sentinels are the Sentinels' addresses.
	Sentinels []string
}

// StartSentinelSet starts a master named SentinelMaster, replicas replicating
// it, and sentinels Sentinels with a majority quorum, and returns once every
// replica's link is up and every Sentinel sees the master and all replicas.
func StartSentinelSet(t testing.TB, replicas, sentinels int) *SentinelSet {
	t.Helper()
	if sentinels < 1 {
		t.Fatalf("redistest: a sentinel set needs at least one sentinel, got %d", sentinels)
	}
	set := &SentinelSet{Name: SentinelMaster}
	set.Master = Start(t, "--repl-diskless-sync-delay", "0")
	for i := 0; i < replicas; i++ {
		set.Replicas = append(set.Replicas, Start(t, "--replicaof", "127.0.0.1", strconv.Itoa(set.Master.Port())))
	}
	for _, r := range set.Replicas {
		if err := poll(30*time.Second, func() (bool, string) {
			info, err := Do(r.Addr(), time.Second, "INFO", "replication")
			return err == nil && strings.Contains(info, "master_link_status:up"), fmt.Sprint(info, err)
		}); err != nil {
			t.Fatalf("redistest: replica %s: %v", r.Addr(), err)
		}
	}
	for i := 0; i < sentinels; i++ {
		set.Sentinels = append(set.Sentinels, StartSentinel(t, set.Name, set.Master, sentinels/2+1))
	}
	for _, s := range set.Sentinels {
		if err := poll(30*time.Second, func() (bool, string) {
			m, err := Do(s, time.Second, "SENTINEL", "MASTER", set.Name)
			if err != nil || !strings.Contains(m, "\nnum-slaves\n"+strconv.Itoa(replicas)+"\n") ||
				!strings.Contains(m, "\nnum-other-sentinels\n"+strconv.Itoa(sentinels-1)+"\n") {
				return false, fmt.Sprint(m, err)
			}
			r, err := Do(s, time.Second, "SENTINEL", "REPLICAS", set.Name)
			return err == nil && !strings.Contains(r, "disconnected") && !strings.Contains(r, "s_down"), fmt.Sprint(r, err)
		}); err != nil {
			t.Fatalf("redistest: sentinel %s: %v", s, err)
		}
	}
	return set
}

// poll calls cond every 50ms until it holds or limit passes, and then
// returns an error with cond's last explanation.
func poll(limit time.Duration, cond func() (bool, string)) error {
	deadline := time.Now().Add(limit)
	for {
		ok, why := cond()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s; last: %s", limit, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
