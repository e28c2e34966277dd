package profiles

import (
	"fmt"

	"github.com/redis/go-redis/v9"
)

// ClientOptions returns options for redis.NewClient; c must be in ModeSingle.
// What every builder sets is described in the package documentation
// (section "go-redis options").
func (c Config) ClientOptions() (*redis.Options, error) {
	d, ci, err := c.resolve(ModeSingle)
	if err != nil {
		return nil, err
	}
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
	o.Dialer = Dialer(c)
	o.TLSConfig = ci.tls
	return o, nil
}

// ClusterOptions returns options for redis.NewClusterClient; c must be in
// ModeCluster. PoolSize applies per node.
func (c Config) ClusterOptions() (*redis.ClusterOptions, error) {
	d, ci, err := c.resolve(ModeCluster)
	if err != nil {
		return nil, err
	}
	return &redis.ClusterOptions{
		Addrs:                 append([]string(nil), c.ClusterAddrs...),
		Username:              ci.username,
		Password:              ci.password,
		PoolSize:              d.PoolSize,
		ReadTimeout:           d.SocketTimeout,
		WriteTimeout:          d.SocketTimeout,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
		Dialer:                Dialer(c),
		TLSConfig:             ci.tls,
	}, nil
}

// FailoverOptions returns options for redis.NewFailoverClient; c must be in
// ModeSentinel. The Sentinels are dialed with the same Dialer (keepalive and
// TLS) as the master.
func (c Config) FailoverOptions() (*redis.FailoverOptions, error) {
	d, ci, err := c.resolve(ModeSentinel)
	if err != nil {
		return nil, err
	}
	return &redis.FailoverOptions{
		MasterName:            c.SentinelMaster,
		SentinelAddrs:         append([]string(nil), c.SentinelAddrs...),
		SentinelUsername:      c.SentinelUsername,
		SentinelPassword:      c.SentinelPassword,
		Username:              ci.username,
		Password:              ci.password,
		DB:                    ci.db,
		PoolSize:              d.PoolSize,
		ReadTimeout:           d.SocketTimeout,
		WriteTimeout:          d.SocketTimeout,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
		Dialer:                Dialer(c),
		TLSConfig:             ci.tls,
	}, nil
}

// resolve validates c, checks its mode, and returns c with defaults and its
// resolved connection.
func (c Config) resolve(want Mode) (Config, *connInfo, error) {
	if err := c.Validate(); err != nil {
		return Config{}, nil, err
	}
	if m := c.Mode(); m != want {
		return Config{}, nil, fmt.Errorf("profiles: the Config is in %s mode; use %s", m, builderFor(m))
	}
	ci, err := c.conn()
	if err != nil {
		return Config{}, nil, err
	}
	return c.WithDefaults(), ci, nil
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
