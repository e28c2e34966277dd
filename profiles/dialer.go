package profiles

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
)

// dialer returns the dial function the profiles give go-redis (Options.Dialer
// and the cluster and failover equivalents). It dials with TCP keepalive set
// from the Config (KeepAliveIdle, KeepAliveInterval, KeepAliveCount) instead
// of go-redis's 30s/5s/3, and, when the Config enables TLS (TLS, TLSConfig
// or a rediss:// URL), performs the TLS handshake itself: go-redis does not
// wrap a custom Dialer's connections in TLS.
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
func (r *resolved) dialer() func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := r.cfg
	nd := &net.Dialer{
		KeepAliveConfig: net.KeepAliveConfig{
			Enable:   true,
			Idle:     d.KeepAliveIdle,
			Interval: d.KeepAliveInterval,
			Count:    d.KeepAliveCount,
		},
	}
	var base *tls.Config
	if r.conn.tls != nil {
		base = r.conn.tls.Clone() // the options hold r.conn.tls; the dialer keeps its own
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
