package profiles

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redisguard/redisguard/hooks"
)

func TestPresetsMatchSpecifiedDefaults(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		c                        Config
		pool, ops, blocking      int
		socket, blockCap, health time.Duration
		retryAttempts            int
	}{
		{NameAPI, API(), 50, 40, 10, 30 * time.Second, 120 * time.Second, 30 * time.Second, 3},
		{NameWorker, Worker(), 200, 100, 25, 60 * time.Second, 300 * time.Second, 60 * time.Second, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.c.MaxConcurrentOps != 0 || tc.c.MaxBlocking != 0 {
				t.Fatalf("preset %s sets limiter budgets %d/%d; they must be left to follow PoolSize",
					tc.name, tc.c.MaxConcurrentOps, tc.c.MaxBlocking)
			}
			c := tc.c.withDefaults()
			if c.Name != tc.name || c.PoolSize != tc.pool || c.MaxConcurrentOps != tc.ops || c.MaxBlocking != tc.blocking ||
				c.SocketTimeout != tc.socket || c.BlockingTimeout != tc.blockCap || c.HealthCheckInterval != tc.health {
				t.Fatalf("preset %s = %v", tc.name, c)
			}
			if c.KeepAliveIdle != 600*time.Second || c.KeepAliveInterval != 60*time.Second || c.KeepAliveCount != 3 {
				t.Fatalf("keepalive = %s/%s/%d", c.KeepAliveIdle, c.KeepAliveInterval, c.KeepAliveCount)
			}
			if c.Retry.MaxAttempts != tc.retryAttempts || c.Retry.InitialInterval <= 0 || c.Retry.MaxInterval < c.Retry.InitialInterval || c.Retry.MaxElapsed <= 0 {
				t.Fatalf("retry = %+v", c.Retry)
			}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			if c.Mode() != ModeSingle {
				t.Fatalf("mode %s", c.Mode())
			}
		})
	}
}

func TestWithDefaultsFillsOnlyZeroFields(t *testing.T) {
	if got := (Config{}).withDefaults(); fmt.Sprint(got) != fmt.Sprint(API().withDefaults()) {
		t.Fatalf("zero Config: %v\nwant %v", got, API().withDefaults())
	}
	if got := (Config{Name: NameWorker}).withDefaults(); fmt.Sprint(got) != fmt.Sprint(Worker().withDefaults()) {
		t.Fatalf("worker: %v", got)
	}
	c := Config{Name: NameWorker, PoolSize: 7, MaxConcurrentOps: 5, MaxBlocking: 2, Retry: Retry{MaxAttempts: 1}}.withDefaults()
	if c.PoolSize != 7 || c.MaxConcurrentOps != 5 || c.MaxBlocking != 2 || c.Retry.MaxAttempts != 1 {
		t.Fatalf("explicit fields changed: %v", c)
	}
	if c.SocketTimeout != defaultWorkerSocketTimeout || c.Retry.MaxElapsed != defaultWorkerRetry.MaxElapsed {
		t.Fatalf("zero fields not filled: %v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateRejects(t *testing.T) {
	for _, tc := range []struct {
		name  string
		c     Config
		field string
		want  string
	}{
		{"unknown name", Config{Name: "batch"}, "Name", `unknown preset "batch"`},
		{"negative pool", Config{PoolSize: -1}, "PoolSize", "-1 is negative"},
		{"negative ops", Config{MaxConcurrentOps: -3}, "MaxConcurrentOps", "negative"},
		{"negative blocking", Config{MaxBlocking: -3}, "MaxBlocking", "negative"},
		{"negative db", Config{DB: -1}, "DB", "negative"},
		{"negative socket timeout", Config{SocketTimeout: -time.Second}, "SocketTimeout", "negative"},
		{"negative retry", Config{Retry: Retry{MaxElapsed: -1}}, "Retry.MaxElapsed", "negative"},
		{"limiter above pool", Config{PoolSize: 30, MaxConcurrentOps: 40}, "MaxConcurrentOps", "MaxConcurrentOps 40 is larger than PoolSize 30"},
		{"blocking equals limiter", Config{MaxBlocking: 40}, "MaxBlocking", "MaxBlocking 40 must be smaller than MaxConcurrentOps 40"},
		{"blocking above limiter", Config{MaxConcurrentOps: 5, MaxBlocking: 10}, "MaxBlocking", "MaxBlocking 10 must be smaller than MaxConcurrentOps 5"},
		{"huge pool", Config{PoolSize: 1 << 40, MaxConcurrentOps: 40}, "PoolSize", "larger than go-redis accepts"},
		{"keepidle too long", Config{KeepAliveIdle: 32768 * time.Second}, "KeepAliveIdle", "kernel"},
		{"keepintvl too long", Config{KeepAliveInterval: 40000 * time.Second}, "KeepAliveInterval", "kernel"},
		{"keepcnt too big", Config{KeepAliveCount: 128}, "KeepAliveCount", "kernel"},
		{"retry max below initial", Config{Retry: Retry{InitialInterval: 2 * time.Second, MaxInterval: time.Second}}, "Retry.MaxInterval", "smaller than Retry.InitialInterval"},
		{"retry budget ratio", Config{Retry: Retry{Budget: hooks.RetryBudget{Ratio: 2}}}, "Retry.Budget", "Budget.Ratio 2 is above 1"},
		{"retry budget floor", Config{Retry: Retry{Budget: hooks.RetryBudget{MinPerSecond: -1}}}, "Retry.Budget", "Budget.MinPerSecond -1 is negative"},
		{"retry budget burst", Config{Retry: Retry{Budget: hooks.RetryBudget{Burst: -5}}}, "Retry.Budget", "Budget.Burst -5 is negative"},
		{"cluster and sentinel", Config{ClusterAddrs: []string{"a:1"}, SentinelAddrs: []string{"b:2"}, SentinelMaster: "m"}, "SentinelAddrs", "SentinelAddrs cannot be combined with ClusterAddrs: name one kind of server"},
		{"url with cluster", Config{URL: "redis://a:1", ClusterAddrs: []string{"a:1"}}, "ClusterAddrs", "ClusterAddrs cannot be combined with URL: name one kind of server"},
		{"addr with sentinel", Config{Addr: "a:1", SentinelAddrs: []string{"b:2"}, SentinelMaster: "m"}, "SentinelAddrs", "SentinelAddrs cannot be combined with Addr: name one kind of server"},
		{"url, addr, cluster and sentinel", Config{URL: "redis://a:1", Addr: "a:1", ClusterAddrs: []string{"b:2"}, SentinelAddrs: []string{"c:3"}, SentinelMaster: "m"}, "ClusterAddrs", "ClusterAddrs cannot be combined with URL"},
		{"sentinel without master", Config{SentinelAddrs: []string{"b:2"}}, "SentinelMaster", "SentinelMaster (the master name) is empty"},
		{"master without sentinels", Config{SentinelMaster: "m"}, "SentinelMaster", "without SentinelAddrs"},
		{"sentinel creds without sentinels", Config{SentinelPassword: "pw"}, "SentinelPassword", "without SentinelAddrs"},
		{"sentinel user without sentinels", Config{SentinelUsername: "su"}, "SentinelUsername", "without SentinelAddrs"},
		{"db on cluster", Config{ClusterAddrs: []string{"a:1"}, DB: 2}, "DB", "only database 0"},
		{"bad cluster addr", Config{ClusterAddrs: []string{"a:1", "nohost"}}, "ClusterAddrs", `"nohost": not host:port`},
		{"unix in cluster", Config{ClusterAddrs: []string{"/tmp/x.sock"}}, "ClusterAddrs", "unix socket"},
		{"bad port", Config{Addr: "h:99999"}, "Addr", "not a number in 1..65535"},
		{"empty host", Config{Addr: ":6379"}, "Addr", "empty host"},
		{"no port", Config{Addr: "localhost"}, "Addr", "not host:port"},
		{"bad url", Config{URL: "http://h:1"}, "URL", "invalid URL scheme: http"},
		{"url owned option", Config{URL: "redis://h:1?pool_size=3"}, "URL", "pool_size is set by the profile: use PoolSize"},
		{"url read_timeout", Config{URL: "redis://h:1?read_timeout=3s"}, "URL", "use SocketTimeout"},
		{"url max_retries", Config{URL: "redis://h:1?max_retries=3"}, "URL", "Retry"},
		{"url vs addr host", Config{URL: "redis://h:1", Addr: "g:1"}, "Addr", `Addr "g:1" disagrees with the URL's host "h"`},
		{"url vs addr port", Config{URL: "redis://h:1", Addr: "H:2"}, "Addr", `Addr "H:2" disagrees with the URL's port 1`},
		{"url default port vs addr", Config{URL: "redis://h", Addr: "h:6380"}, "Addr", `Addr "h:6380" disagrees with the URL's port 6379`},
		{"unix url vs addr", Config{URL: "unix:///tmp/r.sock", Addr: "h:1"}, "Addr", `Addr "h:1" disagrees with the URL's address "/tmp/r.sock"`},
		{"url vs unix addr", Config{URL: "redis://h:1", Addr: "/tmp/r.sock"}, "Addr", `Addr "/tmp/r.sock" disagrees with the URL's address "h:1"`},
		{"url vs username", Config{URL: "redis://bob:pw@h:1", Username: "alice"}, "Username", "disagrees"},
		{"url vs password", Config{URL: "redis://bob:pw@h:1", Password: "other"}, "Password", "disagrees"},
		{"url vs db", Config{URL: "redis://h:1/3", DB: 4}, "DB", "DB 4 disagrees with the URL's database 3"},
		{"url vs tls", Config{URL: "redis://h:1", TLS: true}, "TLS", "not rediss://"},
		{"url vs tlsconfig", Config{URL: "redis://h:1", TLSConfig: &tls.Config{}}, "TLS", "not rediss://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Validate()
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("Validate() = %v, want a *ConfigError", err)
			}
			if ce.Field != tc.field || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "profiles: ") {
				t.Fatalf("Validate() = %q (field %s), want field %s and %q", err, ce.Field, tc.field, tc.want)
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    Config
	}{
		{"zero", Config{}},
		{"limiter equal to pool", Config{PoolSize: 40}},
		{"smallest", Config{PoolSize: 2, MaxConcurrentOps: 2, MaxBlocking: 1}},
		{"unix socket", Config{Addr: "/tmp/redis.sock"}},
		{"ipv6", Config{Addr: "[::1]:6379"}},
		{"url agreeing with fields", Config{URL: "redis://bob:pw@h:1/3", Addr: "h:1", Username: "bob", Password: "pw", DB: 3}},
		{"url agreeing with addr but for the host's case", Config{URL: "redis://H:1", Addr: "h:1"}},
		{"url with its default port in addr", Config{URL: "redis://h", Addr: "h:6379"}},
		{"ipv6 url and addr", Config{URL: "redis://[::1]:1", Addr: "[::1]:1"}},
		{"unix url and addr", Config{URL: "unix:///tmp/r.sock", Addr: "/tmp/r.sock"}},
		{"url leaving credentials to fields", Config{URL: "redis://h:1", Username: "bob", Password: "pw", DB: 3}},
		{"rediss with TLS", Config{URL: "rediss://h:1", TLS: true}},
		{"cluster", Config{ClusterAddrs: []string{"a:1", "b:2"}, Password: "pw", TLS: true}},
		{"sentinel", Config{SentinelAddrs: []string{"a:1"}, SentinelMaster: "m", SentinelPassword: "pw", DB: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.c.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestModeString(t *testing.T) {
	for m, want := range map[Mode]string{ModeSingle: "single", ModeCluster: "cluster", ModeSentinel: "sentinel", Mode(9): "Mode(9)"} {
		if m.String() != want {
			t.Errorf("%d: %q", int(m), m.String())
		}
	}
	if (Config{ClusterAddrs: []string{"a:1"}}).Mode() != ModeCluster || (Config{SentinelAddrs: []string{"a:1"}}).Mode() != ModeSentinel {
		t.Fatal("Mode")
	}
}

// secretConfig has a password in every place a Config can hold one.
func secretConfig() Config {
	c := API()
	c.URL = "redis://bob:url-Secret-1@h:1/0"
	c.Password = "field-Secret-2"
	c.SentinelPassword = "sentinel-Secret-3"
	return c
}

var secrets = []string{"url-Secret-1", "field-Secret-2", "sentinel-Secret-3", "Secret"}

func TestStringAndLogValueRedactPasswords(t *testing.T) {
	c := secretConfig()
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		outs = append(outs, fmt.Sprintf(verb, c), fmt.Sprintf(verb, &c))
	}
	outs = append(outs, c.String())
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("Redis connection pool initialized", "config", c)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("Redis connection pool initialized", "config", &c)
	outs = append(outs, buf.String())
	for _, out := range outs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Fatalf("output contains %q:\n%s", s, out)
			}
		}
	}
	// The non-secret parts are still there.
	for _, want := range []string{"bob:xxxxx@h:1", "Password:xxxxx", "PoolSize:50"} {
		if !strings.Contains(c.String(), want) {
			t.Errorf("String() lacks %q: %s", want, c.String())
		}
	}
	if !strings.Contains(buf.String(), `"max_connections":50`) || !strings.Contains(buf.String(), `"password":"xxxxx"`) {
		t.Errorf("slog JSON: %s", buf.String())
	}
}

func TestValidateRedactsPasswordsEchoedByOtherFields(t *testing.T) {
	for _, c := range []Config{
		{Password: "hunter2-xyz", Addr: "hunter2-xyz"},
		{SentinelPassword: "hunter2-xyz", SentinelAddrs: []string{"hunter2-xyz"}, SentinelMaster: "m"},
		{URL: "redis://u:hunter2-xyz@h:1", Addr: "hunter2-xyz:1"},
	} {
		err := c.Validate()
		if err == nil || strings.Contains(err.Error(), "hunter2-xyz") || !strings.Contains(err.Error(), "xxxxx") {
			t.Errorf("%v", err)
		}
	}
}
