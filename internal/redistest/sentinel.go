package redistest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// SentinelMaster is the master name StartSentinel monitors.
const SentinelMaster = "mymaster"

// StartSentinel runs one Sentinel (redis-server --sentinel, quorum 1)
// monitoring master as SentinelMaster, and returns its address once it
// answers PING and knows the master. It is stopped in t.Cleanup.
func StartSentinel(t testing.TB, master *Server) string {
	t.Helper()
	RequireServer(t)
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	text := fmt.Sprintf(`port %d
bind 127.0.0.1
protected-mode no
daemonize no
dir %s
sentinel monitor %s 127.0.0.1 %d 1
sentinel down-after-milliseconds %s 2000
sentinel failover-timeout %s 10000
`, port, dir, SentinelMaster, master.Port(), SentinelMaster, SentinelMaster)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "sentinel.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("redis-server", conf, "--sentinel")
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(readyTimeout)
	for {
		r, err := Do(addr, time.Second, "SENTINEL", "get-master-addr-by-name", SentinelMaster)
		if err == nil && r != "" {
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: sentinel at %s not ready after %s: %q %v", addr, readyTimeout, r, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
