package profiles

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"
)

func TestClientOptions(t *testing.T) {
	c := Worker()
	c.Addr = "10.0.0.1:7000"
	c.Username, c.Password, c.DB = "bob", "pw", 4
	o, err := c.ClientOptions()
	if err != nil {
		t.Fatal(err)
	}
	if o.Network != "tcp" || o.Addr != "10.0.0.1:7000" || o.Username != "bob" || o.Password != "pw" || o.DB != 4 {
		t.Fatalf("connection: %s %s %q %d", o.Network, o.Addr, o.Username, o.DB)
	}
	if o.PoolSize != 200 || o.ReadTimeout != 60*time.Second || o.WriteTimeout != 60*time.Second ||
		!o.ContextTimeoutEnabled || o.MaxRetries != -1 || o.Dialer == nil || o.TLSConfig != nil {
		t.Fatalf("profile settings: %+v", o)
	}

	// Defaults fill a zero Config; a unix socket address selects "unix".
	o, err = Config{Addr: "/run/redis.sock"}.ClientOptions()
	if err != nil || o.Network != "unix" || o.PoolSize != 50 || o.ReadTimeout != 30*time.Second {
		t.Fatalf("%+v %v", o, err)
	}
	o, err = Config{}.ClientOptions()
	if err != nil || o.Addr != defaultAddr {
		t.Fatalf("default addr: %+v %v", o, err)
	}

	// TLS: the flag gives a default config, TLSConfig is cloned, not shared.
	o, err = Config{TLS: true}.ClientOptions()
	if err != nil || o.TLSConfig == nil || o.TLSConfig.MinVersion != tls.VersionTLS12 {
		t.Fatalf("TLS: %+v %v", o.TLSConfig, err)
	}
	mine := &tls.Config{ServerName: "cache"}
	o, err = Config{TLSConfig: mine}.ClientOptions()
	if err != nil || o.TLSConfig == mine || o.TLSConfig.ServerName != "cache" {
		t.Fatalf("TLSConfig: %+v %v", o.TLSConfig, err)
	}
}

func TestClusterAndFailoverOptions(t *testing.T) {
	c := API()
	c.ClusterAddrs = []string{"a:1", "b:2"}
	c.Username, c.Password, c.TLS = "bob", "pw", true
	co, err := c.ClusterOptions()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(co.Addrs, ",") != "a:1,b:2" || co.Username != "bob" || co.Password != "pw" || co.PoolSize != 50 ||
		co.ReadTimeout != 30*time.Second || co.WriteTimeout != 30*time.Second || !co.ContextTimeoutEnabled ||
		co.MaxRetries != -1 || co.Dialer == nil || co.TLSConfig == nil {
		t.Fatalf("cluster: %+v", co)
	}
	co.Addrs[0] = "changed"
	if c.ClusterAddrs[0] != "a:1" {
		t.Fatal("ClusterOptions shares the Config's slice")
	}

	s := Worker()
	s.SentinelAddrs = []string{"s:26379"}
	s.SentinelMaster = "mymaster"
	s.SentinelUsername, s.SentinelPassword = "su", "sp"
	s.Username, s.Password, s.DB = "bob", "pw", 3
	fo, err := s.FailoverOptions()
	if err != nil {
		t.Fatal(err)
	}
	if fo.MasterName != "mymaster" || strings.Join(fo.SentinelAddrs, ",") != "s:26379" || fo.SentinelUsername != "su" ||
		fo.SentinelPassword != "sp" || fo.Username != "bob" || fo.Password != "pw" || fo.DB != 3 || fo.PoolSize != 200 ||
		fo.ReadTimeout != 60*time.Second || !fo.ContextTimeoutEnabled || fo.MaxRetries != -1 || fo.Dialer == nil || fo.TLSConfig != nil {
		t.Fatalf("failover: %+v", fo)
	}
}

func TestOptionsBuildersCheckModeAndValidity(t *testing.T) {
	cluster := Config{ClusterAddrs: []string{"a:1"}}
	sentinel := Config{SentinelAddrs: []string{"a:1"}, SentinelMaster: "m"}
	single := Config{}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"single as cluster", func() error { _, err := single.ClusterOptions(); return err }(), "single mode; use ClientOptions"},
		{"single as failover", func() error { _, err := single.FailoverOptions(); return err }(), "single mode; use ClientOptions"},
		{"cluster as single", func() error { _, err := cluster.ClientOptions(); return err }(), "cluster mode; use ClusterOptions"},
		{"sentinel as single", func() error { _, err := sentinel.ClientOptions(); return err }(), "sentinel mode; use FailoverOptions"},
		{"invalid", func() error { _, err := Config{PoolSize: -1}.ClientOptions(); return err }(), "PoolSize: -1 is negative"},
		{"invalid cluster", func() error { _, err := Config{ClusterAddrs: []string{"x"}}.ClusterOptions(); return err }(), "not host:port"},
		{"invalid sentinel", func() error { _, err := Config{SentinelAddrs: []string{"a:1"}}.FailoverOptions(); return err }(), "SentinelMaster"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) || !strings.HasPrefix(tc.err.Error(), "profiles: ") {
			t.Errorf("%s: %v, want %q", tc.name, tc.err, tc.want)
		}
	}
}
