package profiles

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
)

// Dialer returns the dial function the profiles give go-redis (Options.Dialer
// and the cluster and failover equivalents). It dials with TCP keepalive set
// from c (KeepAliveIdle, KeepAliveInterval, KeepAliveCount; zero fields take
// the preset's values) instead of go-redis's 30s/5s/3, and, when c enables
// TLS (TLS, TLSConfig or a rediss:// URL), performs the TLS handshake itself:
// go-redis does not wrap a custom Dialer's connections in TLS.
//
// The TLS configuration is TLSConfig if set, else the one a rediss:// URL
// yields (ServerName and skip_verify), else a default with TLS 1.2 or newer
// and the system roots. When its ServerName is empty, the host of the address
// dialed is used, so cluster nodes and Sentinel-reported masters are verified
// by their own address (set TLSConfig.ServerName when certificates carry only
// a host name that differs from the addresses the servers announce).
//
// The dial honours ctx: go-redis bounds each attempt by its DialTimeout
// (5s by default) through ctx, and the handshake is bounded by the same ctx.
// A URL that does not parse is ignored here; the options builders report it.
func Dialer(c Config) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := c.WithDefaults()
	nd := &net.Dialer{
		KeepAliveConfig: net.KeepAliveConfig{
			Enable:   true,
			Idle:     d.KeepAliveIdle,
			Interval: d.KeepAliveInterval,
			Count:    d.KeepAliveCount,
		},
	}
	var u *urlInfo
	if c.URL != "" {
		u, _ = parseURL(c.URL) // nil on error
	}
	var base *tls.Config
	if c.TLS || c.TLSConfig != nil || (u != nil && u.opts.TLSConfig != nil) {
		base = c.tlsConfig(u)
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := nd.DialContext(ctx, network, addr)
		if err != nil || base == nil {
			return conn, err
		}
		cfg := base
		if cfg.ServerName == "" {
			cfg = base.Clone()
			cfg.ServerName = addr
			if host, _, err := net.SplitHostPort(addr); err == nil {
				cfg.ServerName = host
			}
		}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("profiles: TLS handshake with %s: %w", addr, err)
		}
		return tc, nil
	}
}
