package redistest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"
)

func init() {
	// toxiproxy logs every accepted connection through zerolog; tests only
	// want to hear about real trouble.
	zerolog.SetGlobalLevel(zerolog.ErrorLevel)
}

var proxySeq atomic.Int64

// Proxy is an in-process toxiproxy listening on a free loopback port and
// forwarding to one upstream address. It is stopped in t.Cleanup.
//
// Directions follow toxiproxy: "upstream" is client to server (commands),
// "downstream" is server to client (replies).
type Proxy struct {
	fail  func(format string, args ...any)
	help  func()
	p     *toxiproxy.Proxy
	addr  string
	seq   atomic.Int64
	upstr string
}

// NewProxy starts a proxy in front of upstream.
func NewProxy(t testing.TB, upstream string) *Proxy {
	t.Helper()
	px, err := StartProxy(upstream)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	px.fail, px.help = t.Fatalf, t.Helper
	t.Cleanup(px.Close)
	return px
}

// StartProxy is NewProxy for programs without a testing.TB; the caller must
// Close it. Methods that fail panic with the reason.
func StartProxy(upstream string) (*Proxy, error) {
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	name := fmt.Sprintf("redistest-%d", proxySeq.Add(1))
	p := toxiproxy.NewProxy(server, name, "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("starting proxy: %w", err)
	}
	return &Proxy{
		fail:  func(format string, a ...any) { panic(fmt.Sprintf(format, a...)) },
		help:  func() {},
		p:     p,
		addr:  p.Listen,
		upstr: upstream,
	}, nil
}

// Close removes every toxic and stops the proxy, closing its connections.
func (p *Proxy) Close() {
	p.p.Toxics.ResetToxics(context.Background())
	p.p.Stop()
}

// Addr is the proxy's listening address; clients connect here.
func (p *Proxy) Addr() string { return p.addr }

// Upstream is the address the proxy forwards to.
func (p *Proxy) Upstream() string { return p.upstr }

func (p *Proxy) add(typ, direction string, attrs map[string]any) string {
	p.help()
	if direction != "upstream" && direction != "downstream" {
		p.fail("redistest: toxic direction %q: want \"upstream\" or \"downstream\"", direction)
	}
	name := fmt.Sprintf("%s_%s_%d", typ, direction, p.seq.Add(1))
	body, err := json.Marshal(map[string]any{
		"name":       name,
		"type":       typ,
		"stream":     direction,
		"toxicity":   1.0,
		"attributes": attrs,
	})
	if err != nil {
		p.fail("redistest: %v", err)
	}
	if _, err := p.p.Toxics.AddToxicJson(strings.NewReader(string(body))); err != nil {
		p.fail("redistest: adding %s toxic: %v", typ, err)
	}
	return name
}

// Latency delays data in direction by latency plus or minus jitter. It
// returns the toxic's name for RemoveToxic.
func (p *Proxy) Latency(direction string, latency, jitter time.Duration) string {
	p.help()
	return p.add("latency", direction, map[string]any{
		"latency": latency.Milliseconds(),
		"jitter":  jitter.Milliseconds(),
	})
}

// Blackhole drops all data in direction while keeping connections open (a
// toxiproxy timeout toxic with timeout 0): the peer sees silence, not a
// reset, until the toxic is removed.
func (p *Proxy) Blackhole(direction string) string {
	p.help()
	return p.add("timeout", direction, map[string]any{"timeout": 0})
}

// ResetPeer closes connections with a TCP RST after the given delay.
func (p *Proxy) ResetPeer(direction string, after time.Duration) string {
	p.help()
	return p.add("reset_peer", direction, map[string]any{"timeout": after.Milliseconds()})
}

// Bandwidth limits direction to kbps kilobytes per second.
func (p *Proxy) Bandwidth(direction string, kbps int64) string {
	p.help()
	return p.add("bandwidth", direction, map[string]any{"rate": kbps})
}

// RemoveToxic removes one toxic by the name an adding call returned.
func (p *Proxy) RemoveToxic(name string) {
	p.help()
	if err := p.p.Toxics.RemoveToxic(context.Background(), name); err != nil {
		p.fail("redistest: removing toxic %s: %v", name, err)
	}
}

// RemoveToxics removes every toxic; data flows normally again.
func (p *Proxy) RemoveToxics() {
	p.p.Toxics.ResetToxics(context.Background())
}

// Disable stops listening and closes every proxied connection, as if the
// network path went away.
func (p *Proxy) Disable() { p.p.Stop() }

// Enable listens again on the same address.
func (p *Proxy) Enable() {
	p.help()
	if err := p.p.Start(); err != nil {
		p.fail("redistest: re-enabling proxy: %v", err)
	}
}

// LeakOptions are the goleak options for a package whose tests use Proxy:
// pass them to goleak.VerifyTestMain.
//
// They ignore one goroutine of toxiproxy's own (v2.5.0): when a toxic is
// removed while its connection is closing, ToxicLink.RemoveToxic restarts
// the previous stub in a goroutine that can block for ever sending to an
// output nobody reads any more (NoopToxic.Pipe, "chan send"). Proxy.Close
// cannot reach it; it is toxiproxy's leak, not the code under test.
func LeakOptions() []goleak.Option {
	return []goleak.Option{goleak.IgnoreTopFunction("github.com/Shopify/toxiproxy/v2/toxics.(*NoopToxic).Pipe")}
}

// ProxyEach starts one proxy in front of each address and returns them keyed
// by the address they forward to. With DialVia, a cluster's or a Sentinel
// client's traffic to those servers goes through the proxies although the
// servers announce their own addresses.
func ProxyEach(t testing.TB, addrs ...string) map[string]*Proxy {
	t.Helper()
	m := make(map[string]*Proxy, len(addrs))
	for _, a := range addrs {
		m[a] = NewProxy(t, a)
	}
	return m
}

// DialVia returns a dialer for go-redis options that connects to the proxy
// in front of addr when proxies has one, and to addr itself otherwise,
// through dial (a net.Dialer when nil).
func DialVia(proxies map[string]*Proxy, dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if p, ok := proxies[addr]; ok {
			addr = p.Addr()
		}
		return dial(ctx, network, addr)
	}
}
