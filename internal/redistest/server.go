// Package redistest starts real redis-server processes for tests: single
// servers on free loopback ports, clusters (with replicas and a short
// cluster-node-timeout for failover tests), Sentinel sets, and an
// in-process toxiproxy in front of a server for latency, blackholes, resets
// and bandwidth limits.
//
// Every server lives in its own temporary directory and is stopped and
// reaped in t.Cleanup (or by Close); on Linux the kernel also kills it when
// the process that started it ends without either (an interrupted benchmark,
// a test binary's -timeout panic). When redis-server is not on PATH, tests
// that need it are skipped with an install hint, or fail with it when the CI
// environment variable is set.
package redistest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// InstallHint says how to get the binaries the harness needs.
const InstallHint = "redis-server and redis-cli are needed: run `make deps` " +
	"(as root it runs `apt-get update && apt-get install -y redis-server`), " +
	"or install Debian's redis-server package yourself"

// readyTimeout bounds how long a started server may take to answer PING.
const readyTimeout = 15 * time.Second

// RequireServer skips t (or fails it when CI is set) when redis-server or
// redis-cli is not on PATH.
func RequireServer(t testing.TB) {
	t.Helper()
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			msg := fmt.Sprintf("redistest: %s not found on PATH; %s", bin, InstallHint)
			if os.Getenv("CI") != "" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
}

// Server is one redis-server process owned by a test.
type Server struct {
	fail func(format string, args ...any) // t.Fatalf in tests; returns an error elsewhere
	help func()
	port int
	dir  string
	args []string

	ownDir bool

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{} // closed when cmd has been waited for
	paused bool
}

// Start runs redis-server on a free 127.0.0.1 port in a temporary directory
// with persistence off (`--save "" --appendonly no`); args are appended and
// may override those. It returns once the server answers PING, and stops the
// server in t.Cleanup.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	RequireServer(t)
	s, err := startIn(t.TempDir(), args)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	s.fail, s.help = t.Fatalf, t.Helper
	t.Cleanup(s.kill)
	return s
}

// StartServer is Start for programs (benchmarks, load scenarios) that have
// no testing.TB: the server runs in a new temporary directory and the
// caller must Close it. Methods that fail panic with the reason.
func StartServer(args ...string) (*Server, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, fmt.Errorf("redistest: redis-server not found on PATH; %s", InstallHint)
	}
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return nil, err
	}
	s, err := startIn(dir, args)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	s.ownDir = true
	return s, nil
}

// Close stops a server made by StartServer and removes its directory. On a
// server made by Start it only stops the server (t.Cleanup does the rest).
func (s *Server) Close() {
	s.kill()
	if s.ownDir {
		_ = os.RemoveAll(s.dir)
	}
}

func startIn(dir string, args []string) (*Server, error) {
	s := &Server{dir: dir, args: append([]string(nil), args...)}
	s.fail = func(format string, a ...any) { panic(fmt.Sprintf(format, a...)) }
	s.help = func() {}
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		s.port, err = FreePort()
		if err != nil {
			return nil, err
		}
		if err = s.start(); err == nil {
			return s, nil
		}
	}
	return nil, err
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close() // frees the port for the caller
	return port, nil
}

// Addr is the server's "127.0.0.1:PORT".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Port is the server's TCP port.
func (s *Server) Port() int { return s.port }

// Dir is the server's working directory (its AOF, RDB and log live there).
func (s *Server) Dir() string { return s.dir }

// LogPath is the file the server's output goes to.
func (s *Server) LogPath() string { return filepath.Join(s.dir, "redis.log") }

func (s *Server) commandLine() []string {
	a := []string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--dir", s.dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--protected-mode", "no",
		"--logfile", "",
	}
	return append(a, s.args...)
}

func (s *Server) start() error {
	logf, err := os.OpenFile(s.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command("redis-server", s.commandLine()...)
	cmd.Dir = s.dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	done := make(chan struct{})
	if err := startOwned(cmd, func() {
		_ = logf.Close()
		close(done)
	}); err != nil {
		_ = logf.Close()
		return fmt.Errorf("starting redis-server: %w", err)
	}
	s.mu.Lock()
	s.cmd, s.done, s.paused = cmd, done, false
	s.mu.Unlock()

	deadline := time.Now().Add(readyTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("redis-server on port %d exited at start: %s", s.port, s.logTail())
		default:
		}
		reply, err := Do(s.Addr(), time.Second, "PING")
		if err == nil && reply == "PONG" {
			return nil
		}
		if err != nil && strings.HasPrefix(err.Error(), "NOAUTH") {
			return nil // up, and asking for the password it was started with
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.kill()
	return fmt.Errorf("redis-server on port %d did not answer PING within %s: %s", s.port, readyTimeout, s.logTail())
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.LogPath())
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// kill sends SIGKILL and waits for the process to be reaped.
func (s *Server) kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// running reports whether the server's process has been started and not
// yet reaped.
func (s *Server) running() bool {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// Kill stops the server with SIGKILL (no shutdown, no final save) and waits
// for it to be reaped. Connections to it see resets or EOF.
func (s *Server) Kill() {
	s.help()
	s.kill()
}

// Restart starts the server again on the same port with the same arguments
// and working directory (so an AOF written before a Kill is replayed), and
// returns once it answers PING. A running server is killed first.
func (s *Server) Restart() {
	s.help()
	if err := s.restart(); err != nil {
		s.fail("redistest: %v", err)
	}
}

func (s *Server) restart() error {
	s.kill()
	var err error
	for attempt := 0; attempt < 50; attempt++ {
		if err = s.start(); err == nil {
			return nil
		}
		// The port may still be held for a moment by the old process' socket.
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("restart: %w", err)
}

// Pause stops the server process with SIGSTOP: connections stay open and
// nothing is answered until Resume.
func (s *Server) Pause() {
	s.help()
	s.signal(syscall.SIGSTOP)
	s.mu.Lock()
	s.paused = true
	s.mu.Unlock()
}

// Resume continues a paused server with SIGCONT.
func (s *Server) Resume() {
	s.help()
	s.signal(syscall.SIGCONT)
	s.mu.Lock()
	s.paused = false
	s.mu.Unlock()
}

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd == nil {
		s.fail("redistest: signal %v: server not running", sig)
	}
	if err := cmd.Process.Signal(sig); err != nil {
		s.fail("redistest: signal %v: %v", sig, err)
	}
}

// Client returns a go-redis client for the server, closed in t.Cleanup. opt
// may be nil; its Addr is filled in.
func (s *Server) Client(t testing.TB, opt *redis.Options) *redis.Client {
	t.Helper()
	var o redis.Options
	if opt != nil {
		o = *opt
	}
	o.Addr = s.Addr()
	c := redis.NewClient(&o)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Do sends one command to addr on a fresh connection and returns the reply
// flattened to a string (arrays joined by newlines). A Redis error reply is
// returned as an error. It is the harness' own tiny client, so readiness
// checks start no go-redis goroutines.
func Do(addr string, timeout time.Duration, args ...string) (string, error) {
	v, err := doValue(addr, timeout, args...)
	if err != nil {
		return "", err
	}
	return flatten(v), nil
}

// doValue is Do with the reply as read: a string, nil (a null), or an
// []any of those.
func doValue(addr string, timeout time.Duration, args ...string) (any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write(b.Bytes()); err != nil {
		_ = conn.Close()
		return nil, err
	}
	reply, err := readValue(bufio.NewReader(conn))
	_ = conn.Close()
	return reply, err
}

func flatten(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []any:
		parts := make([]string, len(v))
		for i, p := range v {
			parts[i] = flatten(p)
		}
		return strings.Join(parts, "\n")
	default:
		return ""
	}
}

func readValue(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return nil, errors.New("redistest: empty reply line")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return nil, errors.New(line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, nil
		}
		parts := make([]any, 0, n)
		for i := 0; i < n; i++ {
			p, err := readValue(r)
			if err != nil {
				return nil, err
			}
			parts = append(parts, p)
		}
		return parts, nil
	default:
		return nil, fmt.Errorf("redistest: unexpected reply %q", line)
	}
}

// CommandCalls returns how many times the server at addr received each of
// the named commands (lower case, as INFO commandstats spells them: "get",
// "set"), summed: the calls that ran plus those rejected before running
// (Redis 7's calls and rejected_calls). INFO itself is not among them
// unless named.
func CommandCalls(addr string, names ...string) (int64, error) {
	info, err := Do(addr, 5*time.Second, "INFO", "commandstats")
	if err != nil {
		return 0, err
	}
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
	}
	var total int64
	for _, line := range strings.Split(info, "\n") {
		name, fields, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !want[strings.TrimPrefix(name, "cmdstat_")] {
			continue
		}
		for _, f := range strings.Split(fields, ",") {
			k, v, _ := strings.Cut(f, "=")
			if k != "calls" && k != "rejected_calls" {
				continue
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("redistest: INFO commandstats %q: %v", line, err)
			}
			total += n
		}
	}
	return total, nil
}
