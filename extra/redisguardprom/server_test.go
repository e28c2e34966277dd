package redisguardprom_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// startRedis runs a redis-server on a free port for the test and returns
// its address. The core's test harness is internal to the core module, so
// this module keeps this small copy.
func startRedis(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		msg := "redis-server not found: install it (apt-get install redis-server, or make deps)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	port := freePort(t)
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := "127.0.0.1:" + strconv.Itoa(port)
	// Wait for the port with plain dials first: go-redis logs every dial
	// it fails, and those lines would split a benchmark's result line.
	for i := 0; ; i++ {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = conn.Close()
			break
		}
		if i == 200 {
			t.Fatalf("redis-server on %s did not listen: %v", addr, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
	c := redis.NewClient(&redis.Options{Addr: addr, DialerRetries: 1})
	defer c.Close()
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return addr
		}
		if i == 200 {
			t.Fatalf("redis-server on %s did not answer: %v", addr, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// freePort returns a TCP port nothing listens on (a dial to it is refused).
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
