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
	addr, stop, err := startSentinel(t.TempDir(), name, master, quorum)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(stop)
	return addr
}

// startSentinel runs a Sentinel in dir and returns its address and the
// function that stops it.
func startSentinel(dir, name string, master *Server, quorum int) (string, func(), error) {
	port, err := FreePort()
	if err != nil {
		return "", nil, err
	}
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
		return "", nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "sentinel.log"))
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command("redis-server", conf, "--sentinel")
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, logf, logf
	exited := make(chan struct{})
	if err := startOwned(cmd, func() {
		_ = logf.Close()
		close(exited)
	}); err != nil {
		_ = logf.Close()
		return "", nil, fmt.Errorf("starting sentinel: %w", err)
	}
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if err := poll(readyTimeout, func() (bool, string) {
		r, err := Do(addr, time.Second, "PING")
		return err == nil && r == "PONG", fmt.Sprint(r, err)
	}); err != nil {
		stop()
		return "", nil, fmt.Errorf("sentinel on port %d: %w", port, err)
	}
	return addr, stop, nil
}

// SentinelSet is a master, its replicas and the Sentinels watching them,
// owned by one test (or, from NewSentinelSet, by a program that must Close
// it).
type SentinelSet struct {
	// Name is the master name the Sentinels know the set by.
	Name string
	// Master is the server that was master when the set started.
	Master *Server
	// Replicas replicate Master.
	Replicas []*Server
	// Sentinels are the Sentinels' addresses.
	Sentinels []string

	closers []func()
}

// StartSentinelSet starts a master named SentinelMaster, replicas replicating
// it, and sentinels Sentinels with a majority quorum, and returns once every
// replica's link is up and every Sentinel sees the master and all replicas.
func StartSentinelSet(t testing.TB, replicas, sentinels int) *SentinelSet {
	t.Helper()
	RequireServer(t)
	set, err := startSentinelSet(replicas, sentinels,
		func(args []string) (*Server, error) { return Start(t, args...), nil },
		func(s *Server) (string, error) { return StartSentinel(t, SentinelMaster, s, sentinels/2+1), nil })
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	return set
}

// NewSentinelSet is StartSentinelSet for programs that have no testing.TB
// (the load scenarios): the caller must Close the set.
func NewSentinelSet(replicas, sentinels int) (*SentinelSet, error) {
	set := &SentinelSet{}
	var dirs []string
	s, err := startSentinelSet(replicas, sentinels,
		func(args []string) (*Server, error) {
			srv, err := StartServer(args...)
			if err == nil {
				set.closers = append(set.closers, srv.Close)
			}
			return srv, err
		},
		func(m *Server) (string, error) {
			dir, err := os.MkdirTemp("", "redistest-sentinel-")
			if err != nil {
				return "", err
			}
			dirs = append(dirs, dir)
			addr, stop, err := startSentinel(dir, SentinelMaster, m, sentinels/2+1)
			if err == nil {
				set.closers = append(set.closers, stop)
			}
			return addr, err
		})
	set.closers = append(set.closers, func() {
		for _, d := range dirs {
			_ = os.RemoveAll(d)
		}
	})
	if err != nil {
		set.Close()
		return nil, fmt.Errorf("redistest: %w", err)
	}
	s.closers = set.closers
	return s, nil
}

// Close stops the servers and Sentinels of a set made by NewSentinelSet
// and removes their directories; a set made by StartSentinelSet is stopped
// by t.Cleanup.
func (set *SentinelSet) Close() {
	for _, c := range set.closers {
		c()
	}
	set.closers = nil
}

func startSentinelSet(replicas, sentinels int, start func(args []string) (*Server, error), sentinel func(master *Server) (string, error)) (*SentinelSet, error) {
	if sentinels < 1 {
		return nil, fmt.Errorf("a sentinel set needs at least one sentinel, got %d", sentinels)
	}
	set := &SentinelSet{Name: SentinelMaster}
	var err error
	if set.Master, err = start([]string{"--repl-diskless-sync-delay", "0"}); err != nil {
		return nil, err
	}
	for i := 0; i < replicas; i++ {
		r, err := start([]string{"--replicaof", "127.0.0.1", strconv.Itoa(set.Master.Port())})
		if err != nil {
			return nil, err
		}
		set.Replicas = append(set.Replicas, r)
	}
	for _, r := range set.Replicas {
		if err := poll(30*time.Second, func() (bool, string) {
			info, err := Do(r.Addr(), time.Second, "INFO", "replication")
			return err == nil && strings.Contains(info, "master_link_status:up"), fmt.Sprint(info, err)
		}); err != nil {
			return nil, fmt.Errorf("replica %s: %w", r.Addr(), err)
		}
	}
	for i := 0; i < sentinels; i++ {
		addr, err := sentinel(set.Master)
		if err != nil {
			return nil, err
		}
		set.Sentinels = append(set.Sentinels, addr)
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
			return nil, fmt.Errorf("sentinel %s: %w", s, err)
		}
	}
	return set, nil
}

// MasterAddr asks the Sentinels, the first that answers, for the master's
// address.
func (set *SentinelSet) MasterAddr() (string, error) {
	var err error
	for _, s := range set.Sentinels {
		var r string
		if r, err = Do(s, time.Second, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", set.Name); err == nil {
			host, port, ok := strings.Cut(r, "\n")
			if !ok {
				return "", fmt.Errorf("sentinel %s: reply %q", s, r)
			}
			return net.JoinHostPort(host, port), nil
		}
	}
	return "", err
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
