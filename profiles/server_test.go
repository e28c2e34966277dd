package profiles

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sys/unix"

	"github.com/redisguard/redisguard/internal/redistest"
)

// hostPort returns REDIS_HOST/REDIS_PORT pairs for a harness server.
func hostPort(s *redistest.Server) []string {
	return []string{"REDIS_HOST", "127.0.0.1", "REDIS_PORT", strconv.Itoa(s.Port())}
}

// newClient builds a client of the Config's mode straight from the options
// builders and closes it in Cleanup.
func newClient(t *testing.T, c Config) redis.UniversalClient {
	t.Helper()
	var rdb redis.UniversalClient
	switch c.Mode() {
	case ModeSingle:
		o, err := c.ClientOptions()
		if err != nil {
			t.Fatal(err)
		}
		rdb = redis.NewClient(o)
	case ModeCluster:
		o, err := c.ClusterOptions()
		if err != nil {
			t.Fatal(err)
		}
		rdb = redis.NewClusterClient(o)
	case ModeSentinel:
		o, err := c.FailoverOptions()
		if err != nil {
			t.Fatal(err)
		}
		rdb = redis.NewFailoverClient(o)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

func mustEnv(t *testing.T, preset Config, kv ...string) Config {
	t.Helper()
	c, err := fromEnvLookup(preset, env(kv...))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestClientFromEnvTalksToServer(t *testing.T) {
	s := redistest.Start(t)
	for _, preset := range []Config{API(), Worker()} {
		c := mustEnv(t, preset, hostPort(s)...)
		rdb := newClient(t, c)
		ctx := ctxT(t, 5*time.Second)
		if err := rdb.Set(ctx, "k-"+c.Name, c.Name, 0).Err(); err != nil {
			t.Fatal(err)
		}
		if got, err := rdb.Get(ctx, "k-"+c.Name).Result(); err != nil || got != c.Name {
			t.Fatalf("GET = %q, %v", got, err)
		}
	}
	// The same through REDIS_URL with a database number.
	c := mustEnv(t, API(), "REDIS_URL", fmt.Sprintf("redis://127.0.0.1:%d/3", s.Port()))
	rdb := newClient(t, c)
	ctx := ctxT(t, 5*time.Second)
	if err := rdb.Set(ctx, "in-db-3", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := redistest.Do(s.Addr(), time.Second, "SELECT", "3"); err != nil || got != "OK" {
		t.Fatalf("SELECT: %q %v", got, err)
	}
	n, err := rdb.Do(ctx, "CLIENT", "INFO").Text()
	if err != nil || !strings.Contains(n, " db=3 ") {
		t.Fatalf("CLIENT INFO: %q %v", n, err)
	}
}

// keepalive reads SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT
// from a connection's socket.
func keepalive(t *testing.T, conn net.Conn) (on, idle, intvl, cnt int) {
	t.Helper()
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	tcp, ok := conn.(*net.TCPConn)
	if !ok {
		t.Fatalf("%T is not a *net.TCPConn", conn)
	}
	raw, err := tcp.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	err = raw.Control(func(fd uintptr) {
		get := func(level, opt int) int {
			v, err := unix.GetsockoptInt(int(fd), level, opt)
			if err != nil && serr == nil {
				serr = err
			}
			return v
		}
		on = get(unix.SOL_SOCKET, unix.SO_KEEPALIVE)
		idle = get(unix.IPPROTO_TCP, unix.TCP_KEEPIDLE)
		intvl = get(unix.IPPROTO_TCP, unix.TCP_KEEPINTVL)
		cnt = get(unix.IPPROTO_TCP, unix.TCP_KEEPCNT)
	})
	if err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	return on, idle, intvl, cnt
}

func TestDialerSetsKeepAliveOnTheSocket(t *testing.T) {
	s := redistest.Start(t)
	for _, tc := range []struct {
		name               string
		kv                 []string
		idle, intvl, count int
	}{
		{"preset", nil, 600, 60, 3},
		{"env", []string{"REDIS_TCP_KEEPIDLE", "123", "REDIS_TCP_KEEPINTVL", "7s", "REDIS_TCP_KEEPCNT", "4"}, 123, 7, 4},
		{"fractional seconds round up", []string{"REDIS_TCP_KEEPIDLE", "0.5", "REDIS_TCP_KEEPINTVL", "1.2"}, 1, 2, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustEnv(t, Worker(), append(hostPort(s), tc.kv...)...)

			// Straight from the dialer.
			conn, err := dialerOf(t, c)(ctxT(t, 5*time.Second), "tcp", s.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if on, idle, intvl, cnt := keepalive(t, conn); on != 1 || idle != tc.idle || intvl != tc.intvl || cnt != tc.count {
				t.Fatalf("Dialer socket: keepalive=%d idle=%d intvl=%d cnt=%d, want 1 %d %d %d", on, idle, intvl, cnt, tc.idle, tc.intvl, tc.count)
			}

			// And on the connections of a client built from ClientOptions.
			o, err := c.ClientOptions()
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var conns []net.Conn
			dial := o.Dialer
			o.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
				cn, err := dial(ctx, network, addr)
				if err == nil {
					mu.Lock()
					conns = append(conns, cn)
					mu.Unlock()
				}
				return cn, err
			}
			rdb := redis.NewClient(o)
			defer rdb.Close()
			if err := rdb.Ping(ctxT(t, 5*time.Second)).Err(); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(conns) == 0 {
				t.Fatal("the client did not dial through the profile's Dialer")
			}
			for _, cn := range conns {
				if on, idle, intvl, cnt := keepalive(t, cn); on != 1 || idle != tc.idle || intvl != tc.intvl || cnt != tc.count {
					t.Fatalf("client socket: keepalive=%d idle=%d intvl=%d cnt=%d", on, idle, intvl, cnt)
				}
			}
		})
	}
}

// testPKI writes a CA and a server certificate for 127.0.0.1 and localhost
// into dir and returns the CA pool and the file paths.
func testPKI(t *testing.T, dir, name string) (pool *x509.CertPool, caFile, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name + " test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(file, typ string, der []byte) string {
		p := filepath.Join(dir, file)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pool = x509.NewCertPool()
	pool.AddCert(caCert)
	return pool, write(name+"-ca.crt", "CERTIFICATE", caDER), write(name+"-server.crt", "CERTIFICATE", srvDER), write(name+"-server.key", "PRIVATE KEY", keyDER)
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	pool, caFile, certFile, keyFile := testPKI(t, dir, "good")
	otherPool, _, _, _ := testPKI(t, dir, "other")
	tlsPort, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	// The harness checks readiness with PING on its plain port, so that port
	// stays open; the test talks only to the TLS port.
	redistest.Start(t,
		"--tls-port", strconv.Itoa(tlsPort),
		"--tls-cert-file", certFile,
		"--tls-key-file", keyFile,
		"--tls-ca-cert-file", caFile,
		"--tls-auth-clients", "no")
	tlsAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(tlsPort))

	ping := func(t *testing.T, c Config) error {
		o, err := c.ClientOptions()
		if err != nil {
			t.Fatal(err)
		}
		o.DialTimeout = 2 * time.Second
		rdb := redis.NewClient(o)
		defer rdb.Close()
		return rdb.Ping(ctxT(t, 5*time.Second)).Err()
	}

	t.Run("the port really needs TLS", func(t *testing.T) {
		c := mustEnv(t, API(), "REDIS_HOST", "127.0.0.1", "REDIS_PORT", strconv.Itoa(tlsPort))
		c.SocketTimeout = time.Second
		if err := ping(t, c); err == nil {
			t.Fatal("plain PING to the TLS port succeeded")
		}
	})
	t.Run("rediss URL with the CA", func(t *testing.T) {
		c := mustEnv(t, API(), "REDIS_URL", "rediss://"+tlsAddr+"/0")
		c.TLSConfig = &tls.Config{RootCAs: pool}
		if err := ping(t, c); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("REDIS_TLS with a host name", func(t *testing.T) {
		c := mustEnv(t, Worker(), "REDIS_HOST", "localhost", "REDIS_PORT", strconv.Itoa(tlsPort), "REDIS_TLS", "true")
		c.TLSConfig = &tls.Config{RootCAs: pool} // ServerName comes from "localhost"
		if err := ping(t, c); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("skip_verify from the URL reaches the dialer", func(t *testing.T) {
		c := mustEnv(t, API(), "REDIS_URL", "rediss://"+tlsAddr+"?skip_verify=true")
		if err := ping(t, c); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("wrong CA fails clearly", func(t *testing.T) {
		c := mustEnv(t, API(), "REDIS_URL", "rediss://"+tlsAddr)
		c.TLSConfig = &tls.Config{RootCAs: otherPool}
		err := ping(t, c)
		if err == nil || !strings.Contains(err.Error(), "profiles: TLS handshake with "+tlsAddr) ||
			!strings.Contains(err.Error(), "certificate signed by unknown authority") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("system roots do not trust the test CA", func(t *testing.T) {
		c := mustEnv(t, API(), "REDIS_URL", "rediss://"+tlsAddr)
		if err := ping(t, c); err == nil || !strings.Contains(err.Error(), "x509") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("keepalive also on TLS connections", func(t *testing.T) {
		c := mustEnv(t, API(), "REDIS_URL", "rediss://"+tlsAddr, "REDIS_TCP_KEEPIDLE", "77")
		c.TLSConfig = &tls.Config{RootCAs: pool}
		conn, err := dialerOf(t, c)(ctxT(t, 5*time.Second), "tcp", tlsAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, ok := conn.(*tls.Conn); !ok {
			t.Fatalf("%T is not TLS", conn)
		}
		if on, idle, _, _ := keepalive(t, conn); on != 1 || idle != 77 {
			t.Fatalf("keepalive %d idle %d", on, idle)
		}
	})
}

func TestACLUser(t *testing.T) {
	s := redistest.Start(t)
	const pw = "acl-Pass-9431"
	if _, err := redistest.Do(s.Addr(), time.Second, "ACL", "SETUSER", "app", "on", ">"+pw, "~*", "&*", "+@all"); err != nil {
		t.Fatal(err)
	}
	if _, err := redistest.Do(s.Addr(), time.Second, "ACL", "SETUSER", "default", "off"); err != nil {
		t.Fatal(err)
	}
	whoami := func(t *testing.T, c Config) (string, error) {
		rdb := newClient(t, c)
		return rdb.Do(ctxT(t, 5*time.Second), "ACL", "WHOAMI").Text()
	}
	t.Run("env user and password", func(t *testing.T) {
		c := mustEnv(t, API(), append(hostPort(s), "REDIS_USERNAME", "app", "REDIS_PASSWORD", pw)...)
		if got, err := whoami(t, c); err != nil || got != "app" {
			t.Fatalf("WHOAMI = %q, %v", got, err)
		}
	})
	t.Run("url user and password", func(t *testing.T) {
		c := mustEnv(t, API(), "REDIS_URL", fmt.Sprintf("redis://app:%s@127.0.0.1:%d", pw, s.Port()))
		if got, err := whoami(t, c); err != nil || got != "app" {
			t.Fatalf("WHOAMI = %q, %v", got, err)
		}
	})
	t.Run("url user, password from env", func(t *testing.T) {
		c := mustEnv(t, API(), "REDIS_URL", fmt.Sprintf("redis://app@127.0.0.1:%d", s.Port()), "REDIS_PASSWORD", pw)
		if got, err := whoami(t, c); err != nil || got != "app" {
			t.Fatalf("WHOAMI = %q, %v", got, err)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		const wrong = "wrong-Pass-7710"
		c := mustEnv(t, API(), append(hostPort(s), "REDIS_USERNAME", "app", "REDIS_PASSWORD", wrong)...)
		_, err := whoami(t, c)
		if err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
			t.Fatalf("got %v", err)
		}
		for _, text := range []string{err.Error(), c.String(), fmt.Sprintf("%+v", c)} {
			if strings.Contains(text, wrong) || strings.Contains(text, pw) {
				t.Fatalf("password printed: %s", text)
			}
		}
	})
}

func TestClusterFromEnv(t *testing.T) {
	cl := redistest.StartCluster(t, 3, 0)
	c := mustEnv(t, Worker(), "REDIS_CLUSTER_ADDRS", strings.Join(cl.Addrs(), ","))
	if c.Mode() != ModeCluster {
		t.Fatalf("mode %s", c.Mode())
	}
	rdb := newClient(t, c).(*redis.ClusterClient)
	ctx := ctxT(t, 20*time.Second)
	const n = 300
	for i := 0; i < n; i++ {
		if err := rdb.Set(ctx, "key:"+strconv.Itoa(i), i, 0).Err(); err != nil {
			t.Fatalf("SET key:%d: %v", i, err)
		}
	}
	for i := 0; i < n; i++ {
		if got, err := rdb.Get(ctx, "key:"+strconv.Itoa(i)).Int(); err != nil || got != i {
			t.Fatalf("GET key:%d = %d, %v", i, got, err)
		}
	}
	// The keys spread over every master: slots of all three were used.
	var mu sync.Mutex
	sizes := map[string]int64{}
	err := rdb.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		sz, err := node.DBSize(ctx).Result()
		mu.Lock()
		sizes[node.Options().Addr] = sz
		mu.Unlock()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for addr, sz := range sizes {
		if sz == 0 {
			t.Fatalf("master %s holds no key: %v", addr, sizes)
		}
		total += sz
	}
	if len(sizes) != 3 || total != n {
		t.Fatalf("sizes %v", sizes)
	}
	// Node clients use the profile's settings.
	err = rdb.ForEachShard(ctx, func(ctx context.Context, node *redis.Client) error {
		o := node.Options()
		if o.PoolSize != 200 || o.ReadTimeout != 60*time.Second || !o.ContextTimeoutEnabled || o.MaxRetries != 0 {
			return fmt.Errorf("node %s: pool %d read %s ctx %t retries %d", o.Addr, o.PoolSize, o.ReadTimeout, o.ContextTimeoutEnabled, o.MaxRetries)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// startSentinel runs a Sentinel monitoring master as "mymaster".
func startSentinel(t *testing.T, master *redistest.Server) string {
	t.Helper()
	return redistest.StartSentinel(t, "mymaster", master, 1)
}

// waitFor polls cond every 100ms until it holds or limit passes.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	var last string
	for {
		ok, why := cond()
		if ok {
			t.Logf("%s: done after %s", what, limit-time.Until(deadline))
			return
		}
		last = why
		if time.Now().After(deadline) {
			t.Fatalf("%s: not done after %s; last: %s", what, limit, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestSentinelFailover(t *testing.T) {
	master := redistest.Start(t, "--repl-diskless-sync-delay", "0")
	replica := redistest.Start(t, "--replicaof", "127.0.0.1", strconv.Itoa(master.Port()))
	waitFor(t, 10*time.Second, "replica link", func() (bool, string) {
		info, err := redistest.Do(replica.Addr(), time.Second, "INFO", "replication")
		return err == nil && strings.Contains(info, "master_link_status:up"), info
	})
	sentinel := startSentinel(t, master)
	replicaPort := strconv.Itoa(replica.Port())
	waitFor(t, 15*time.Second, "sentinel sees the replica", func() (bool, string) {
		r, err := redistest.Do(sentinel, time.Second, "SENTINEL", "REPLICAS", "mymaster")
		return err == nil && strings.Contains(r, "\n"+replicaPort+"\n") && !strings.Contains(r, "disconnected") && !strings.Contains(r, "s_down"), fmt.Sprint(r, err)
	})

	c := mustEnv(t, API(), "REDIS_SENTINEL_ADDRS", sentinel, "REDIS_SENTINEL_MASTER", "mymaster")
	if c.Mode() != ModeSentinel {
		t.Fatalf("mode %s", c.Mode())
	}
	rdb := newClient(t, c)
	ctx := ctxT(t, 30*time.Second)
	if err := rdb.Set(ctx, "before", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := redistest.Do(master.Addr(), time.Second, "GET", "before"); err != nil || got != "1" {
		t.Fatalf("the write did not reach the master: %q %v", got, err)
	}
	// Replication is asynchronous and SENTINEL FAILOVER does not wait for the
	// replica to catch up: make sure it has the key before promoting it.
	if n, err := rdb.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT = %d, %v", n, err)
	}

	waitFor(t, 10*time.Second, "SENTINEL FAILOVER accepted", func() (bool, string) {
		r, err := redistest.Do(sentinel, time.Second, "SENTINEL", "FAILOVER", "mymaster")
		return err == nil && r == "OK", fmt.Sprint(r, err)
	})
	waitFor(t, 15*time.Second, "sentinel reports the new master", func() (bool, string) {
		r, err := redistest.Do(sentinel, time.Second, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster")
		return err == nil && r == "127.0.0.1\n"+replicaPort, fmt.Sprint(r, err)
	})
	// The client follows: writes succeed again and reach the new master. A
	// write sent before the client hears of the switch may fail (READONLY, a
	// closed connection) or land on the old master, which Sentinel demotes
	// only at its next INFO round (up to 10 s), so poll for both.
	waitFor(t, 15*time.Second, "a write reaches the new master", func() (bool, string) {
		if err := rdb.Set(ctx, "after", "2", 0).Err(); err != nil {
			return false, err.Error()
		}
		got, err := redistest.Do(replica.Addr(), time.Second, "GET", "after")
		return err == nil && got == "2", fmt.Sprint(got, err)
	})
	if got, err := rdb.Get(ctx, "before").Result(); err != nil || got != "1" {
		t.Fatalf("GET before = %q, %v", got, err)
	}
}

// dialerOf is the dial function the options built from c carry.
func dialerOf(t *testing.T, c Config) func(ctx context.Context, network, addr string) (net.Conn, error) {
	t.Helper()
	r, err := c.resolve()
	if err != nil {
		t.Fatal(err)
	}
	return r.dialer()
}
