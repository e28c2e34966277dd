package profiles

import (
	"fmt"

	"github.com/redis/go-redis/v9"
)

// resolved is a Config resolved once (Config.resolve): its preset's defaults
// filled in, checked, its connection worked out. The options builders, the
// dialer and the hooks read it; none of them resolves the Config again.
type resolved struct {
	cfg  Config    // the Config with its preset's defaults
	conn *connInfo // the connection: mode, address, credentials, TLS
}

// testHook, set by a test, is told each time a Config is resolved
// ("resolve") and each time a URL is parsed ("parseURL").
var testHook func(event string)

// ClientOptions returns options for redis.NewClient; c must be in ModeSingle.
// What every builder sets is described in the package documentation
// (section "go-redis options").
func (c Config) ClientOptions() (*redis.Options, error) {
	r, err := c.resolveFor(ModeSingle)
	if err != nil {
		return nil, err
	}
	return r.clientOptions(), nil
}

// ClusterOptions returns options for redis.NewClusterClient; c must be in
// ModeCluster. PoolSize applies per node.
func (c Config) ClusterOptions() (*redis.ClusterOptions, error) {
	r, err := c.resolveFor(ModeCluster)
	if err != nil {
		return nil, err
	}
	return r.clusterOptions(), nil
}

// FailoverOptions returns options for redis.NewFailoverClient; c must be in
// ModeSentinel. The Sentinels are dialed with the same dialer (keepalive and
// TLS) as the master.
func (c Config) FailoverOptions() (*redis.FailoverOptions, error) {
	r, err := c.resolveFor(ModeSentinel)
	if err != nil {
		return nil, err
	}
	return r.failoverOptions(), nil
}

// resolveFor resolves c and checks that it is in the mode want.
func (c Config) resolveFor(want Mode) (*resolved, error) {
	r, err := c.resolve()
	if err != nil {
		return nil, err
	}
	if m := r.conn.mode; m != want {
		return nil, fmt.Errorf("profiles: the Config is in %s mode; use %s", m, builderFor(m))
	}
	return r, nil
}

func (r *resolved) clientOptions() *redis.Options {
	d, ci := r.cfg, r.conn
	o := &redis.Options{}
	if ci.url != nil {
		o = ci.url.opts
	}
	o.Network = ci.network
	o.Addr = ci.addr
	o.Username = ci.username
	o.Password = ci.password
	o.DB = ci.db
	o.PoolSize = d.PoolSize
	o.ReadTimeout = d.SocketTimeout
	o.WriteTimeout = d.SocketTimeout
	o.ContextTimeoutEnabled = true
	o.MaxRetries = -1
	o.Dialer = r.dialer()
	o.TLSConfig = ci.tls
	return o
}

func (r *resolved) clusterOptions() *redis.ClusterOptions {
	d, ci := r.cfg, r.conn
	return &redis.ClusterOptions{
		Addrs:                 append([]string(nil), d.ClusterAddrs...),
		Username:              ci.username,
		Password:              ci.password,
		PoolSize:              d.PoolSize,
		ReadTimeout:           d.SocketTimeout,
		WriteTimeout:          d.SocketTimeout,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
		Dialer:                r.dialer(),
		TLSConfig:             ci.tls,
	}
}

func (r *resolved) failoverOptions() *redis.FailoverOptions {
	d, ci := r.cfg, r.conn
	return &redis.FailoverOptions{
		MasterName:            d.SentinelMaster,
		SentinelAddrs:         append([]string(nil), d.SentinelAddrs...),
		SentinelUsername:      d.SentinelUsername,
		SentinelPassword:      d.SentinelPassword,
		Username:              ci.username,
		Password:              ci.password,
		DB:                    ci.db,
		PoolSize:              d.PoolSize,
		ReadTimeout:           d.SocketTimeout,
		WriteTimeout:          d.SocketTimeout,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
		Dialer:                r.dialer(),
		TLSConfig:             ci.tls,
	}
}

func builderFor(m Mode) string {
	switch m {
	case ModeCluster:
		return "ClusterOptions"
	case ModeSentinel:
		return "FailoverOptions"
	}
	return "ClientOptions"
}
