package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The ports go-redis's suite expects (its main_test.go and the servers of
// its docker-compose.yml): the standalone server and a second one for
// MIGRATE, three ring shards, a Sentinel master with two replicas and three
// sentinels, and six empty cluster nodes the suite's BeforeSuite joins into
// three masters with a replica each.
var (
	standalonePorts = []int{6379, 6381}
	ringPorts       = []int{6390, 6391, 6392}
	sentinelData    = []int{9121, 9122, 9123}
	sentinelPorts   = []int{26379, 26380, 26381}
	clusterPorts    = []int{16600, 16601, 16602, 16603, 16604, 16605}
)

// server is one redis-server process.
type server struct {
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

// fleet is every server of one run.
type fleet struct {
	servers []*server
}

// allPorts lists every port the fleet listens on, cluster bus ports
// included.
func allPorts() []int {
	var ps []int
	for _, group := range [][]int{standalonePorts, ringPorts, sentinelData, sentinelPorts, clusterPorts} {
		ps = append(ps, group...)
	}
	for _, p := range clusterPorts {
		ps = append(ps, p+10000)
	}
	return ps
}

// checkPortsFree fails naming the first port already in use: the suite's
// ports are fixed, so a server left by someone else would make the results
// meaningless.
func checkPortsFree() error {
	for _, p := range allPorts() {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			return fmt.Errorf("port %d is in use (another redis-server or another compat run?): %w", p, err)
		}
		_ = l.Close()
	}
	return nil
}

// startFleet starts every server under dir. On error it stops what it
// started.
func startFleet(ctx context.Context, dir string) (*fleet, error) {
	if err := checkPortsFree(); err != nil {
		return nil, err
	}
	f := &fleet{}
	common := []string{
		"--bind", "127.0.0.1", "-::1",
		"--save", "", "--appendonly", "no",
		"--enable-debug-command", "yes", "--enable-module-command", "yes",
	}
	start := func(port int, conf string, extra ...string) error {
		d := filepath.Join(dir, strconv.Itoa(port))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		var args []string
		if conf != "" {
			p := filepath.Join(d, "redis.conf")
			if err := os.WriteFile(p, []byte(conf), 0o644); err != nil {
				return err
			}
			args = append(args, p)
		}
		args = append(args, "--port", strconv.Itoa(port), "--dir", d, "--logfile", filepath.Join(d, "log"))
		args = append(args, extra...)
		s, err := startServer(port, args)
		if err != nil {
			return err
		}
		f.servers = append(f.servers, s)
		return nil
	}
	err := func() error {
		for _, p := range append(append(append([]int{}, standalonePorts...), ringPorts...), sentinelData...) {
			if err := start(p, "", common...); err != nil {
				return err
			}
		}
		for _, p := range clusterPorts {
			if err := start(p, "", append(common, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")...); err != nil {
				return err
			}
		}
		for _, p := range sentinelPorts {
			// As go-redis's dockers/sentinel.conf; the file must be
			// writable (a sentinel rewrites it).
			conf := fmt.Sprintf("sentinel resolve-hostnames yes\n"+
				"sentinel monitor go-redis-test 127.0.0.1 %d 2\n"+
				"sentinel down-after-milliseconds go-redis-test 5000\n"+
				"sentinel failover-timeout go-redis-test 60000\n"+
				"sentinel parallel-syncs go-redis-test 1\n", sentinelData[0])
			if err := start(p, conf, "--bind", "127.0.0.1", "-::1", "--sentinel"); err != nil {
				return err
			}
		}
		for _, s := range f.servers {
			if err := s.waitReady(ctx, 20*time.Second); err != nil {
				return err
			}
		}
		return nil
	}()
	if err != nil {
		f.stop()
		return nil, err
	}
	return f, nil
}

func startServer(port int, args []string) (*server, error) {
	cmd := exec.Command("redis-server", args...)
	// Own process group (a Ctrl-C reaches the harness, which stops the
	// servers), and killed with the harness whatever ends it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis-server on %d: %w", port, err)
	}
	s := &server{port: port, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(s.done)
	}()
	return s, nil
}

// waitReady waits until the server answers PING.
func (s *server) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("redis-server on %d exited at start (see its log)", s.port)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if last = ping(s.port); last == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("redis-server on %d not ready after %s: %w", s.port, timeout, last)
}

func ping(port int) error {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return errors.New("PING answered " + strings.TrimSpace(line))
	}
	return nil
}

// stop ends every server: SIGTERM, then SIGKILL after five seconds.
func (f *fleet) stop() {
	if f == nil {
		return
	}
	for _, s := range f.servers {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, s := range f.servers {
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	}
	f.servers = nil
}
