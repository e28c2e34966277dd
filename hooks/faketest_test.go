package hooks

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// fakeServer is a tiny RESP server for the replies a real redis-server
// cannot be made to give on demand (LOADING, BUSY, TRYAGAIN, MASTERDOWN,
// CLUSTERDOWN, max clients). It answers HELLO with an error (go-redis then
// speaks RESP2), CLIENT with +OK, and everything else through reply.
type fakeServer struct {
	ln    net.Listener
	reply func(args []string) string // raw RESP reply, "\r\n" included

	mu     sync.Mutex
	counts map[string]int // lower-case command name -> commands received
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

func startFake(t *testing.T, reply func(args []string) string) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{ln: ln, reply: reply, counts: make(map[string]int), conns: make(map[net.Conn]struct{})}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.close)
	return s
}

func (s *fakeServer) Addr() string { return s.ln.Addr().String() }

func (s *fakeServer) count(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[name]
}

func (s *fakeServer) close() {
	_ = s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *fakeServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(c)
	}
}

func (s *fakeServer) serve(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		_ = c.Close()
	}()
	rd := bufio.NewReader(c)
	for {
		args, err := readCommand(rd)
		if err != nil {
			return
		}
		name := strings.ToLower(args[0])
		var out string
		switch name {
		case "hello":
			out = "-ERR unknown command 'HELLO'\r\n"
		case "client":
			out = "+OK\r\n"
		default:
			s.mu.Lock()
			s.counts[name]++
			s.mu.Unlock()
			out = s.reply(args)
		}
		if _, err := io.WriteString(c, out); err != nil {
			return
		}
	}
}

// readCommand reads one RESP array of bulk strings.
func readCommand(rd *bufio.Reader) ([]string, error) {
	line, err := rd.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimRight(line, "\r\n")
	if len(line) < 2 || line[0] != '*' {
		return nil, errors.New("fake: expected an array, got " + strconv.Quote(line))
	}
	n, err := strconv.Atoi(line[1:])
	if err != nil || n < 1 {
		return nil, errors.New("fake: bad array length " + strconv.Quote(line))
	}
	args := make([]string, 0, n)
	for i := 0; i < n; i++ {
		h, err := rd.ReadString('\n')
		if err != nil {
			return nil, err
		}
		h = strings.TrimRight(h, "\r\n")
		if len(h) < 2 || h[0] != '$' {
			return nil, errors.New("fake: expected a bulk string, got " + strconv.Quote(h))
		}
		l, err := strconv.Atoi(h[1:])
		if err != nil || l < 0 {
			return nil, errors.New("fake: bad bulk length " + strconv.Quote(h))
		}
		buf := make([]byte, l+2)
		if _, err := io.ReadFull(rd, buf); err != nil {
			return nil, err
		}
		args = append(args, string(buf[:l]))
	}
	return args, nil
}

// fakeClient returns a go-redis client for the fake server with go-redis's
// own retries off.
func fakeClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:            addr,
		Protocol:        2,
		DisableIdentity: true,
		MaxRetries:      -1,
		DialTimeout:     time.Second,
		ReadTimeout:     time.Second,
		PoolSize:        4,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// fakeClock is a Clock whose Sleep returns at once, advancing Now by the
// delay and recording it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.sleeps = append(c.sleeps, d)
	c.mu.Unlock()
	return nil
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// replyErr is an error reply as go-redis hands it out (it has the
// RedisError marker method).
type replyErr string

func (e replyErr) Error() string { return string(e) }
func (replyErr) RedisError()     {}

var _ redis.Error = replyErr("")

// quietLogger drops the retry log lines tests provoke on purpose.
var quietLogger = slog.New(slog.DiscardHandler)

// dialCounter is a hook that counts the dials a client makes.
type dialCounter struct {
	mu sync.Mutex
	n  int
}

func (d *dialCounter) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		d.mu.Lock()
		d.n++
		d.mu.Unlock()
		return next(ctx, network, addr)
	}
}
func (d *dialCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (d *dialCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (d *dialCounter) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}
