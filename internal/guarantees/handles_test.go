package guarantees_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/internal/redistest"
	"github.com/redisguard/redisguard/profiles"
)

// The secrets every handle is configured with. The servers run without a
// password: Redis accepts any password for a user without one in HELLO's
// AUTH, so the clients send these on every connection.
const (
	secret         = "Mtx-s3cret-7f2a"
	sentinelSecret = "Snt-s3cret-91c4"
)

// Small timeouts keep the matrix fast. A reply delayed by slowReply is a
// stalled server for these clients (its socket read times out); callerCut is
// the caller deadline that cuts calls to a healthy but slow server.
const (
	socketTimeout = 300 * time.Millisecond
	slowReply     = time.Second
	callerCut     = 20 * time.Millisecond
)

// config is the API preset with the matrix's small sizes and timeouts.
func config() profiles.Config {
	c := profiles.API()
	c.SocketTimeout = socketTimeout
	c.PoolSize = 10
	c.MaxConcurrentOps = 8
	c.MaxBlocking = 2
	c.Retry = profiles.Retry{MaxAttempts: 3, InitialInterval: 10 * time.Millisecond, MaxInterval: 50 * time.Millisecond, MaxElapsed: 2 * time.Second}
	return c
}

// servers are the redis-server processes the whole matrix shares, each
// reached through toxiproxy proxies that cells break and restore. No two
// handles share a server, so the cells of different handles can run at once.
type servers struct {
	single      *redistest.Server
	singleProxy *redistest.Proxy

	profiles      *redistest.Server
	profilesProxy *redistest.Proxy

	ring        [2]*redistest.Server
	ringProxies [2]*redistest.Proxy

	cluster        *redistest.Cluster
	clusterProxies map[string]*redistest.Proxy

	sentinel      *redistest.SentinelSet
	sentinelProxy map[string]*redistest.Proxy
}

func startServers(t *testing.T) *servers {
	t.Helper()
	s := &servers{}
	s.single = redistest.Start(t)
	s.singleProxy = redistest.NewProxy(t, s.single.Addr())
	s.profiles = redistest.Start(t)
	s.profilesProxy = redistest.NewProxy(t, s.profiles.Addr())
	for i := range s.ring {
		s.ring[i] = redistest.Start(t)
		s.ringProxies[i] = redistest.NewProxy(t, s.ring[i].Addr())
	}
	s.cluster = redistest.StartCluster(t, 3, 0)
	s.clusterProxies = redistest.ProxyEach(t, s.cluster.Addrs()...)
	s.sentinel = redistest.StartSentinelSet(t, 1, 3)
	s.sentinelProxy = redistest.ProxyEach(t, s.sentinel.Master.Addr())
	return s
}

// handle is one client as a user holds it, built fresh for a cell (so no
// breaker state or pooled connection leaks from one cell to the next), with
// what the cell needs to break its path and to read what the servers hold.
type handle struct {
	name  string
	rdb   redis.UniversalClient
	hooks profiles.Hooks
	// proxies carry all of the handle's traffic to the data servers.
	proxies []*redistest.Proxy
	// data are the direct addresses of the servers holding the keys (the
	// masters), read around the proxies.
	data []string
	// printed are the values of this package's types a user of the handle
	// holds and may print or log.
	printed []printable
}

// printable is a value a user may print, named for the report.
type printable struct {
	name string
	v    any
}

var handleNames = []string{"Client+Apply", "profiles.Client", "ClusterClient+Apply", "Ring+Apply", "Failover+Apply"}

// newHandle builds the handle called name on s and closes it in t.Cleanup.
func (s *servers) newHandle(c0 *cell, name string) *handle {
	c0.Helper()
	t := c0.T
	c := config()
	h := &handle{name: name}
	fast := func(retries *int, backoff *time.Duration) {
		// go-redis re-dials a refused address 5 times, 100ms apart, by
		// default; the cells only need to see the refusal.
		*retries, *backoff = 1, 10*time.Millisecond
	}
	url := func(p *redistest.Proxy) string {
		return fmt.Sprintf("redis://:%s@%s/0", secret, p.Addr())
	}
	var err error
	switch name {
	case "Client+Apply":
		c.URL = url(s.singleProxy)
		o, oerr := c.ClientOptions()
		if oerr != nil {
			c0.fatal("%s: %v", name, oerr)
		}
		fast(&o.DialerRetries, &o.DialerRetryTimeout)
		rdb := redis.NewClient(o)
		h.rdb = rdb
		h.hooks, err = profiles.Apply(rdb, c)
		h.proxies, h.data = []*redistest.Proxy{s.singleProxy}, []string{s.single.Addr()}
		h.printed = []printable{{"profiles.Config", c}, {"profiles.Hooks", h.hooks}}
	case "profiles.Client":
		c.URL = url(s.profilesProxy)
		pc, perr := profiles.NewClient(c)
		if perr != nil {
			c0.fatal("%s: %v", name, perr)
		}
		h.rdb, h.hooks = pc, pc.Hooks
		h.proxies, h.data = []*redistest.Proxy{s.profilesProxy}, []string{s.profiles.Addr()}
		h.printed = []printable{{"profiles.Config", c}, {"(*profiles.Client).Config()", pc.Config()}, {"profiles.Hooks", pc.Hooks}, {"*profiles.Client", pc}}
	case "ClusterClient+Apply":
		c.ClusterAddrs, c.Password = s.cluster.Addrs(), secret
		o, oerr := c.ClusterOptions()
		if oerr != nil {
			c0.fatal("%s: %v", name, oerr)
		}
		o.Dialer = redistest.DialVia(s.clusterProxies, o.Dialer)
		fast(&o.DialerRetries, &o.DialerRetryTimeout)
		rdb := redis.NewClusterClient(o)
		h.rdb = rdb
		h.hooks, err = profiles.Apply(rdb, c)
		for _, a := range s.cluster.Addrs() {
			h.proxies = append(h.proxies, s.clusterProxies[a])
		}
		h.data = s.cluster.Addrs()
		h.printed = []printable{{"profiles.Config", c}, {"profiles.Hooks", h.hooks}}
	case "Ring+Apply":
		c.Password = secret
		// A Ring has no builder of its own: it dials with the dialer the
		// single-server options carry (the profile's keepalive).
		so, oerr := c.ClientOptions()
		if oerr != nil {
			c0.fatal("%s: %v", name, oerr)
		}
		o := &redis.RingOptions{
			Addrs:                 map[string]string{"a": s.ringProxies[0].Addr(), "b": s.ringProxies[1].Addr()},
			Password:              c.Password,
			Dialer:                so.Dialer,
			PoolSize:              c.PoolSize,
			ReadTimeout:           c.SocketTimeout,
			WriteTimeout:          c.SocketTimeout,
			ContextTimeoutEnabled: true,
			MaxRetries:            -1,
		}
		fast(&o.DialerRetries, &o.DialerRetryTimeout)
		rdb := redis.NewRing(o)
		h.rdb = rdb
		h.hooks, err = profiles.Apply(rdb, c)
		h.proxies = s.ringProxies[:]
		h.data = []string{s.ring[0].Addr(), s.ring[1].Addr()}
		h.printed = []printable{{"profiles.Config", c}, {"profiles.Hooks", h.hooks}}
	case "Failover+Apply":
		c.SentinelAddrs, c.SentinelMaster = s.sentinel.Sentinels, s.sentinel.Name
		c.Password, c.SentinelPassword = secret, sentinelSecret
		o, oerr := c.FailoverOptions()
		if oerr != nil {
			c0.fatal("%s: %v", name, oerr)
		}
		o.Dialer = redistest.DialVia(s.sentinelProxy, o.Dialer)
		fast(&o.DialerRetries, &o.DialerRetryTimeout)
		rdb := redis.NewFailoverClient(o)
		h.rdb = rdb
		h.hooks, err = profiles.Apply(rdb, c)
		h.proxies = []*redistest.Proxy{s.sentinelProxy[s.sentinel.Master.Addr()]}
		h.data = []string{s.sentinel.Master.Addr()}
		h.printed = []printable{{"profiles.Config", c}, {"profiles.Hooks", h.hooks}}
	default:
		c0.fatal("unknown handle %q", name)
	}
	if err != nil {
		_ = h.rdb.Close()
		c0.fatal("%s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = h.rdb.Close()
		if h.hooks.Breaker != nil {
			_ = h.hooks.Breaker.Close() // stops its probes
		}
	})
	return h
}

// count returns the integer at key, summed over the data servers (a key
// lives on one of them; the others answer nil or MOVED).
func (h *handle) count(t *testing.T, key string) int64 {
	t.Helper()
	var n int64
	for _, a := range h.data {
		v, err := redistest.Do(a, 2*time.Second, "GET", key)
		if err != nil || v == "" {
			continue
		}
		i, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("GET %s on %s = %q", key, a, v)
		}
		n += i
	}
	return n
}

// list returns the list at key, gathered from the data servers.
func (h *handle) list(t *testing.T, key string) []string {
	t.Helper()
	var out []string
	for _, a := range h.data {
		v, err := redistest.Do(a, 2*time.Second, "LRANGE", key, "0", "-1")
		if err != nil || v == "" {
			continue
		}
		out = append(out, strings.Split(v, "\n")...)
	}
	return out
}

// faults breaks a handle's proxies and restores them (in t.Cleanup as well,
// so a failing cell leaves nothing broken for the next).
type faults struct {
	ps       []*redistest.Proxy
	disabled bool
}

func newFaults(t *testing.T, h *handle) *faults {
	f := &faults{ps: h.proxies}
	t.Cleanup(f.restore)
	return f
}

// delay delays every reply by d.
func (f *faults) delay(d time.Duration) {
	for _, p := range f.ps {
		p.Latency("downstream", d, 0)
	}
}

// resetOnSend resets (TCP RST) every connection as soon as the client sends
// on it; what was sent never reaches the server.
func (f *faults) resetOnSend() {
	for _, p := range f.ps {
		p.ResetPeer("upstream", 0)
	}
}

// refuse closes every connection and refuses new ones.
func (f *faults) refuse() {
	if f.disabled {
		return
	}
	for _, p := range f.ps {
		p.Disable()
	}
	f.disabled = true
}

func (f *faults) restore() {
	for _, p := range f.ps {
		p.RemoveToxics()
	}
	if f.disabled {
		for _, p := range f.ps {
			p.Enable()
		}
		f.disabled = false
	}
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
