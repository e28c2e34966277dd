package profiles

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// env returns a lookup over the given NAME, value pairs.
func env(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

const envSecret = "pw-Sekrit-42"

func TestFromEnvEveryVariable(t *testing.T) {
	type check func(Config) any
	for _, tc := range []struct {
		preset Config
		name   string
		value  string
		got    check
		want   any
	}{
		{API(), "REDIS_MAX_CONNECTIONS", "60", func(c Config) any { return c.PoolSize }, 60},
		{API(), "REDIS_MAX_CONCURRENT_OPS", "45", func(c Config) any { return c.MaxConcurrentOps }, 45},
		{API(), "REDIS_MAX_BLOCKING_OPS", "5", func(c Config) any { return c.MaxBlocking }, 5},
		{API(), "REDIS_SOCKET_TIMEOUT", "12", func(c Config) any { return c.SocketTimeout }, 12 * time.Second},
		{API(), "REDIS_BLOCKING_TIMEOUT", "90s", func(c Config) any { return c.BlockingTimeout }, 90 * time.Second},
		{API(), "REDIS_HEALTH_CHECK_INTERVAL", "0.5", func(c Config) any { return c.HealthCheckInterval }, 500 * time.Millisecond},
		{API(), "REDIS_TCP_KEEPIDLE", "120", func(c Config) any { return c.KeepAliveIdle }, 120 * time.Second},
		{API(), "REDIS_TCP_KEEPINTVL", "1m", func(c Config) any { return c.KeepAliveInterval }, time.Minute},
		{API(), "REDIS_TCP_KEEPCNT", "9", func(c Config) any { return c.KeepAliveCount }, 9},
		{API(), "REDIS_RETRY_MAX_ATTEMPTS", "1", func(c Config) any { return c.Retry.MaxAttempts }, 1},
		{API(), "REDIS_RETRY_INITIAL_INTERVAL", "0.01", func(c Config) any { return c.Retry.InitialInterval }, 10 * time.Millisecond},
		{API(), "REDIS_RETRY_MAX_INTERVAL", "2s", func(c Config) any { return c.Retry.MaxInterval }, 2 * time.Second},
		{API(), "REDIS_RETRY_MAX_ELAPSED", "7", func(c Config) any { return c.Retry.MaxElapsed }, 7 * time.Second},
		{Worker(), "WORKER_REDIS_MAX_CONNECTIONS", "300", func(c Config) any { return c.PoolSize }, 300},
		{Worker(), "REDIS_WORKER_MAX_CONNECTIONS", "310", func(c Config) any { return c.PoolSize }, 310},
		{Worker(), "REDIS_WORKER_MAX_CONCURRENT_OPS", "150", func(c Config) any { return c.MaxConcurrentOps }, 150},
		{Worker(), "REDIS_WORKER_MAX_BLOCKING_OPS", "50", func(c Config) any { return c.MaxBlocking }, 50},
		{Worker(), "WORKER_REDIS_SOCKET_TIMEOUT", "1m30s", func(c Config) any { return c.SocketTimeout }, 90 * time.Second},
		{Worker(), "WORKER_REDIS_BLOCKING_TIMEOUT", " 600 ", func(c Config) any { return c.BlockingTimeout }, 600 * time.Second},
		{Worker(), "WORKER_REDIS_HEALTH_CHECK_INTERVAL", "15", func(c Config) any { return c.HealthCheckInterval }, 15 * time.Second},
		{Worker(), "REDIS_TCP_KEEPIDLE", "30", func(c Config) any { return c.KeepAliveIdle }, 30 * time.Second},
		{Worker(), "REDIS_TCP_KEEPINTVL", "5", func(c Config) any { return c.KeepAliveInterval }, 5 * time.Second},
		{Worker(), "REDIS_TCP_KEEPCNT", "4", func(c Config) any { return c.KeepAliveCount }, 4},
		{Worker(), "WORKER_REDIS_RETRY_MAX_ATTEMPTS", "8", func(c Config) any { return c.Retry.MaxAttempts }, 8},
		{Worker(), "WORKER_REDIS_RETRY_INITIAL_INTERVAL", "250ms", func(c Config) any { return c.Retry.InitialInterval }, 250 * time.Millisecond},
		{Worker(), "WORKER_REDIS_RETRY_MAX_INTERVAL", "10", func(c Config) any { return c.Retry.MaxInterval }, 10 * time.Second},
		{Worker(), "WORKER_REDIS_RETRY_MAX_ELAPSED", "2m", func(c Config) any { return c.Retry.MaxElapsed }, 2 * time.Minute},
		// Connection variables are shared by both presets.
		{API(), "REDIS_URL", "redis://h:7000/2", func(c Config) any { return c.URL }, "redis://h:7000/2"},
		{Worker(), "REDIS_HOST", "cache.internal", func(c Config) any { return c.Addr }, "cache.internal:6379"},
		{API(), "REDIS_PORT", "6380", func(c Config) any { return c.Addr }, "localhost:6380"},
		{API(), "REDIS_USERNAME", "alice", func(c Config) any { return c.Username }, "alice"},
		{Worker(), "REDIS_PASSWORD", envSecret, func(c Config) any { return c.Password }, envSecret},
		{API(), "REDIS_DB", "5", func(c Config) any { return c.DB }, 5},
		{API(), "REDIS_TLS", "yes", func(c Config) any { return c.TLS }, true},
		{Worker(), "REDIS_CLUSTER_ADDRS", "a:1, b:2,c:3,", func(c Config) any { return c.ClusterAddrs }, []string{"a:1", "b:2", "c:3"}},
	} {
		t.Run(tc.preset.Name+"/"+tc.name, func(t *testing.T) {
			c, err := fromEnvLookup(tc.preset, env(tc.name, tc.value))
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.got(c); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("%s=%q gave %v, want %v", tc.name, tc.value, got, tc.want)
			}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestFromEnvPresetsIgnoreTheOtherPresetsNames(t *testing.T) {
	api, err := fromEnvLookup(API(), env("WORKER_REDIS_MAX_CONNECTIONS", "999", "REDIS_WORKER_MAX_CONCURRENT_OPS", "1", "WORKER_REDIS_SOCKET_TIMEOUT", "x"))
	if err != nil || api.PoolSize != 50 || api.MaxConcurrentOps != 40 {
		t.Fatalf("API read Worker variables: %v %v", api, err)
	}
	w, err := fromEnvLookup(Worker(), env("REDIS_MAX_CONNECTIONS", "999", "REDIS_MAX_CONCURRENT_OPS", "1", "REDIS_SOCKET_TIMEOUT", "x"))
	if err != nil || w.PoolSize != 200 || w.MaxConcurrentOps != 100 {
		t.Fatalf("Worker read API variables: %v %v", w, err)
	}
}

func TestFromEnvWorkerPoolAliases(t *testing.T) {
	c, err := fromEnvLookup(Worker(), env("WORKER_REDIS_MAX_CONNECTIONS", "250", "REDIS_WORKER_MAX_CONNECTIONS", " 250"))
	if err != nil || c.PoolSize != 250 {
		t.Fatalf("agreeing aliases: %v %v", c.PoolSize, err)
	}
	_, err = fromEnvLookup(Worker(), env("WORKER_REDIS_MAX_CONNECTIONS", "250", "REDIS_WORKER_MAX_CONNECTIONS", "150"))
	var ee *EnvError
	if !errors.As(err, &ee) {
		t.Fatalf("disagreeing aliases: %v", err)
	}
	want := `profiles: REDIS_WORKER_MAX_CONNECTIONS="150": disagrees with WORKER_REDIS_MAX_CONNECTIONS="250"`
	if !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("got %q\nwant prefix %q", err, want)
	}
}

func TestFromEnvEmptyMeansUnset(t *testing.T) {
	c, err := fromEnvLookup(API(), env("REDIS_MAX_CONNECTIONS", "", "REDIS_URL", "", "REDIS_PASSWORD", ""))
	if err != nil || c.PoolSize != 50 || c.URL != "" || c.Password != "" {
		t.Fatalf("%v %v", c, err)
	}
}

func TestFromEnvFillsDefaults(t *testing.T) {
	c, err := fromEnvLookup(Config{Name: NameWorker}, env())
	if err != nil || c.PoolSize != defaultWorkerPoolSize || c.Retry.MaxAttempts != defaultWorkerRetry.MaxAttempts {
		t.Fatalf("%v %v", c, err)
	}
	if _, err := fromEnvLookup(Config{Name: "other"}, env()); err == nil || !strings.Contains(err.Error(), `unknown preset "other"`) {
		t.Fatalf("unknown preset: %v", err)
	}
}

func TestFromEnvBadValues(t *testing.T) {
	for _, tc := range []struct {
		preset Config
		kv     []string
		bad    string // the variable blamed
		value  string // the value shown
		reason string
	}{
		{API(), []string{"REDIS_MAX_CONNECTIONS", "abc"}, "REDIS_MAX_CONNECTIONS", "abc", "not a whole number"},
		{API(), []string{"REDIS_MAX_CONNECTIONS", "1.5"}, "REDIS_MAX_CONNECTIONS", "1.5", "not a whole number"},
		{API(), []string{"REDIS_MAX_CONNECTIONS", "0"}, "REDIS_MAX_CONNECTIONS", "0", "must be greater than zero"},
		{API(), []string{"REDIS_MAX_CONNECTIONS", "-5"}, "REDIS_MAX_CONNECTIONS", "-5", "must be greater than zero"},
		{API(), []string{"REDIS_MAX_CONNECTIONS", "99999999999999999999"}, "REDIS_MAX_CONNECTIONS", "99999999999999999999", "out of range"},
		{API(), []string{"REDIS_MAX_CONCURRENT_OPS", "x"}, "REDIS_MAX_CONCURRENT_OPS", "x", "not a whole number"},
		{API(), []string{"REDIS_MAX_BLOCKING_OPS", "0"}, "REDIS_MAX_BLOCKING_OPS", "0", "must be greater than zero"},
		{API(), []string{"REDIS_SOCKET_TIMEOUT", "abc"}, "REDIS_SOCKET_TIMEOUT", "abc", "not a number of seconds or a Go duration"},
		{API(), []string{"REDIS_SOCKET_TIMEOUT", "0"}, "REDIS_SOCKET_TIMEOUT", "0", "must be greater than zero"},
		{API(), []string{"REDIS_SOCKET_TIMEOUT", "-1s"}, "REDIS_SOCKET_TIMEOUT", "-1s", "must be greater than zero"},
		{API(), []string{"REDIS_SOCKET_TIMEOUT", "1e3"}, "REDIS_SOCKET_TIMEOUT", "1e3", "not a number of seconds"},
		{API(), []string{"REDIS_SOCKET_TIMEOUT", "NaN"}, "REDIS_SOCKET_TIMEOUT", "NaN", "not a number of seconds"},
		{API(), []string{"REDIS_SOCKET_TIMEOUT", "1.2.3"}, "REDIS_SOCKET_TIMEOUT", "1.2.3", "not a number of seconds"},
		{API(), []string{"REDIS_SOCKET_TIMEOUT", "99999999999999999"}, "REDIS_SOCKET_TIMEOUT", "99999999999999999", "out of range"},
		{API(), []string{"REDIS_SOCKET_TIMEOUT", "9999999999999h"}, "REDIS_SOCKET_TIMEOUT", "9999999999999h", "out of range"},
		{API(), []string{"REDIS_SOCKET_TIMEOUT", "0.0000000001"}, "REDIS_SOCKET_TIMEOUT", "0.0000000001", "must be greater than zero"},
		{API(), []string{"REDIS_BLOCKING_TIMEOUT", "soon"}, "REDIS_BLOCKING_TIMEOUT", "soon", "not a number of seconds"},
		{API(), []string{"REDIS_HEALTH_CHECK_INTERVAL", "5 s"}, "REDIS_HEALTH_CHECK_INTERVAL", "5 s", "not a number of seconds"},
		{API(), []string{"REDIS_TCP_KEEPIDLE", "-3"}, "REDIS_TCP_KEEPIDLE", "-3", "must be greater than zero"},
		{API(), []string{"REDIS_TCP_KEEPIDLE", "1" + strings.Repeat("0", 400)}, "REDIS_TCP_KEEPIDLE", "1" + strings.Repeat("0", 400), "out of range"},
		{API(), []string{"REDIS_TCP_KEEPIDLE", "40000"}, "REDIS_TCP_KEEPIDLE", "40000", "more than the kernel accepts"},
		{API(), []string{"REDIS_TCP_KEEPINTVL", "x"}, "REDIS_TCP_KEEPINTVL", "x", "not a number of seconds"},
		{API(), []string{"REDIS_TCP_KEEPCNT", "0"}, "REDIS_TCP_KEEPCNT", "0", "must be greater than zero"},
		{API(), []string{"REDIS_TCP_KEEPCNT", "200"}, "REDIS_TCP_KEEPCNT", "200", "more than the kernel accepts"},
		{API(), []string{"REDIS_RETRY_MAX_ATTEMPTS", "0"}, "REDIS_RETRY_MAX_ATTEMPTS", "0", "must be greater than zero"},
		{API(), []string{"REDIS_RETRY_MAX_INTERVAL", "10ms"}, "REDIS_RETRY_MAX_INTERVAL", "10ms", "smaller than Retry.InitialInterval"},
		{Worker(), []string{"WORKER_REDIS_MAX_CONNECTIONS", "many"}, "WORKER_REDIS_MAX_CONNECTIONS", "many", "not a whole number"},
		{Worker(), []string{"REDIS_WORKER_MAX_CONNECTIONS", "-1"}, "REDIS_WORKER_MAX_CONNECTIONS", "-1", "must be greater than zero"},
		{Worker(), []string{"REDIS_WORKER_MAX_CONCURRENT_OPS", "0"}, "REDIS_WORKER_MAX_CONCURRENT_OPS", "0", "must be greater than zero"},
		{Worker(), []string{"REDIS_WORKER_MAX_BLOCKING_OPS", "z"}, "REDIS_WORKER_MAX_BLOCKING_OPS", "z", "not a whole number"},
		{Worker(), []string{"WORKER_REDIS_SOCKET_TIMEOUT", "1x"}, "WORKER_REDIS_SOCKET_TIMEOUT", "1x", "not a number of seconds"},
		{Worker(), []string{"WORKER_REDIS_BLOCKING_TIMEOUT", "-"}, "WORKER_REDIS_BLOCKING_TIMEOUT", "-", "not a number of seconds"},
		{Worker(), []string{"WORKER_REDIS_HEALTH_CHECK_INTERVAL", "0s"}, "WORKER_REDIS_HEALTH_CHECK_INTERVAL", "0s", "must be greater than zero"},
		{Worker(), []string{"WORKER_REDIS_RETRY_MAX_ATTEMPTS", "two"}, "WORKER_REDIS_RETRY_MAX_ATTEMPTS", "two", "not a whole number"},
		{Worker(), []string{"WORKER_REDIS_RETRY_INITIAL_INTERVAL", "x"}, "WORKER_REDIS_RETRY_INITIAL_INTERVAL", "x", "not a number of seconds"},
		{Worker(), []string{"WORKER_REDIS_RETRY_MAX_ELAPSED", "0"}, "WORKER_REDIS_RETRY_MAX_ELAPSED", "0", "must be greater than zero"},
		// Rules between settings are blamed on the variable that set one side.
		{API(), []string{"REDIS_MAX_CONCURRENT_OPS", "60"}, "REDIS_MAX_CONCURRENT_OPS", "60", "MaxConcurrentOps 60 is larger than PoolSize 50"},
		{budgets(API(), 40, 0), []string{"REDIS_MAX_CONNECTIONS", "30"}, "REDIS_MAX_CONNECTIONS", "30", "MaxConcurrentOps 40 is larger than PoolSize 30"},
		{API(), []string{"REDIS_MAX_CONNECTIONS", "30", "REDIS_MAX_CONCURRENT_OPS", "40"}, "REDIS_MAX_CONCURRENT_OPS", "40",
			`MaxConcurrentOps 40 is larger than PoolSize 30: commands would queue in the pool instead of the limiter (PoolSize is REDIS_MAX_CONNECTIONS="30")`},
		{API(), []string{"REDIS_MAX_CONNECTIONS", "1"}, "REDIS_MAX_CONNECTIONS", "1", "PoolSize 1 leaves no room for the limiter"},
		{API(), []string{"REDIS_MAX_CONCURRENT_OPS", "1"}, "REDIS_MAX_CONCURRENT_OPS", "1", "MaxConcurrentOps 1 is too small"},
		{API(), []string{"REDIS_MAX_CONNECTIONS", "8", "REDIS_MAX_BLOCKING_OPS", "6"}, "REDIS_MAX_BLOCKING_OPS", "6",
			"MaxBlocking 6 must be smaller than MaxConcurrentOps 6 (the default for PoolSize 8: 80% of the pool)"},
		{budgets(API(), 0, 6), []string{"REDIS_MAX_CONNECTIONS", "8"}, "REDIS_MAX_CONNECTIONS", "8",
			"MaxBlocking 6 must be smaller than MaxConcurrentOps 6 (the default for PoolSize 8: 80% of the pool)"},
		{API(), []string{"REDIS_MAX_BLOCKING_OPS", "40"}, "REDIS_MAX_BLOCKING_OPS", "40", "MaxBlocking 40 must be smaller than MaxConcurrentOps 40"},
		{budgets(API(), 0, 10), []string{"REDIS_MAX_CONCURRENT_OPS", "10"}, "REDIS_MAX_CONCURRENT_OPS", "10", "MaxBlocking 10 must be smaller than MaxConcurrentOps 10"},
		{Worker(), []string{"REDIS_WORKER_MAX_CONCURRENT_OPS", "201"}, "REDIS_WORKER_MAX_CONCURRENT_OPS", "201", "larger than PoolSize 200"},
		{Worker(), []string{"REDIS_WORKER_MAX_BLOCKING_OPS", "100"}, "REDIS_WORKER_MAX_BLOCKING_OPS", "100", "must be smaller than MaxConcurrentOps 100"},
		// Connection variables.
		{API(), []string{"REDIS_PORT", "http"}, "REDIS_PORT", "http", "not a port number"},
		{API(), []string{"REDIS_PORT", "0"}, "REDIS_PORT", "0", "not a port number"},
		{API(), []string{"REDIS_PORT", "70000"}, "REDIS_PORT", "70000", "not a port number"},
		{API(), []string{"REDIS_HOST", "redis://h:1"}, "REDIS_HOST", "redis://h:1", "looks like a URL"},
		{API(), []string{"REDIS_HOST", "h:6379"}, "REDIS_HOST", "h:6379", "includes a port"},
		{API(), []string{"REDIS_HOST", "a b"}, "REDIS_HOST", "a b", "not a host name"},
		{API(), []string{"REDIS_HOST", "/tmp/r.sock", "REDIS_PORT", "6379"}, "REDIS_PORT", "6379", "unix socket path"},
		{API(), []string{"REDIS_DB", "one"}, "REDIS_DB", "one", "not a whole number"},
		{API(), []string{"REDIS_DB", "-1"}, "REDIS_DB", "-1", "must not be negative"},
		{API(), []string{"REDIS_TLS", "maybe"}, "REDIS_TLS", "maybe", "not a boolean"},
		{API(), []string{"REDIS_CLUSTER_ADDRS", "a:1,b"}, "REDIS_CLUSTER_ADDRS", "a:1,b", `entry "b": not host:port`},
		{API(), []string{"REDIS_CLUSTER_ADDRS", ","}, "REDIS_CLUSTER_ADDRS", ",", "no host:port entries"},
		{API(), []string{"REDIS_CLUSTER_ADDRS", "a:1", "REDIS_DB", "3"}, "REDIS_DB", "3", "only database 0"},
		{API(), []string{"REDIS_SENTINEL_ADDRS", "a:26379"}, "REDIS_SENTINEL_ADDRS", "a:26379", "SentinelMaster (the master name) is empty (SentinelMaster is read from REDIS_SENTINEL_MASTER)"},
		{API(), []string{"REDIS_SENTINEL_MASTER", "mymaster"}, "REDIS_SENTINEL_MASTER", "mymaster", "without SentinelAddrs (SentinelAddrs is read from REDIS_SENTINEL_ADDRS)"},
		{API(), []string{"REDIS_SENTINEL_ADDRS", "a:x", "REDIS_SENTINEL_MASTER", "m"}, "REDIS_SENTINEL_ADDRS", "a:x", "not a number in 1..65535"},
		{API(), []string{"REDIS_SENTINEL_USERNAME", "s"}, "REDIS_SENTINEL_USERNAME", "s", "without SentinelAddrs (SentinelAddrs is read from REDIS_SENTINEL_ADDRS)"},
		{API(), []string{"REDIS_SENTINEL_PASSWORD", "sentinel-" + envSecret}, "REDIS_SENTINEL_PASSWORD", "xxxxx", "without SentinelAddrs (SentinelAddrs is read from REDIS_SENTINEL_ADDRS)"},
		{API(), []string{"REDIS_CLUSTER_ADDRS", "a:1", "REDIS_SENTINEL_ADDRS", "b:2", "REDIS_SENTINEL_MASTER", "m"}, "REDIS_SENTINEL_ADDRS", "b:2", `SentinelAddrs cannot be combined with ClusterAddrs: name one kind of server (single, cluster or sentinel) (ClusterAddrs is REDIS_CLUSTER_ADDRS="a:1")`},
		{API(), []string{"REDIS_URL", "redis://h:1", "REDIS_CLUSTER_ADDRS", "a:1"}, "REDIS_CLUSTER_ADDRS", "a:1", `ClusterAddrs cannot be combined with URL: name one kind of server (single, cluster or sentinel); a URL names a single server: give credentials with Username/Password and TLS with TLS/TLSConfig (URL is REDIS_URL="redis://h:1")`},
		{API(), []string{"REDIS_URL", "redis://h:1", "REDIS_CLUSTER_ADDRS", "a:1", "REDIS_SENTINEL_ADDRS", "b:2", "REDIS_SENTINEL_MASTER", "m"}, "REDIS_CLUSTER_ADDRS", "a:1", `(URL is REDIS_URL="redis://h:1")`},
		{API(), []string{"REDIS_HOST", "h", "REDIS_CLUSTER_ADDRS", "a:1"}, "REDIS_CLUSTER_ADDRS", "a:1", `ClusterAddrs cannot be combined with Addr: name one kind of server (single, cluster or sentinel) (Addr is REDIS_HOST="h")`},
		{API(), []string{"REDIS_PORT", "1", "REDIS_SENTINEL_ADDRS", "a:1", "REDIS_SENTINEL_MASTER", "m"}, "REDIS_SENTINEL_ADDRS", "a:1", `SentinelAddrs cannot be combined with Addr: name one kind of server (single, cluster or sentinel) (Addr is REDIS_PORT="1")`},
		// REDIS_URL and the separate variables must agree (the credentials by
		// Validate's rules, blamed on the variable that disagrees).
		{API(), []string{"REDIS_URL", "redis://h:1", "REDIS_HOST", "g"}, "REDIS_HOST", "g", `Addr "g:1" disagrees with the URL's host "h" (URL is REDIS_URL="redis://h:1")`},
		{API(), []string{"REDIS_URL", "redis://h:1", "REDIS_HOST", "g", "REDIS_PORT", "1"}, "REDIS_HOST", "g", `Addr "g:1" disagrees with the URL's host "h" (URL is REDIS_URL=`},
		{API(), []string{"REDIS_URL", "redis://h:1", "REDIS_HOST", "h", "REDIS_PORT", "2"}, "REDIS_PORT", "2", `Addr "h:2" disagrees with the URL's port 1 (URL is REDIS_URL=`},
		{API(), []string{"REDIS_URL", "unix:///tmp/r.sock", "REDIS_HOST", "/tmp/other.sock"}, "REDIS_HOST", "/tmp/other.sock", `Addr "/tmp/other.sock" disagrees with the URL's address "/tmp/r.sock"`},
		{API(), []string{"REDIS_URL", "redis://h:1", "REDIS_PORT", "2"}, "REDIS_PORT", "2", `Addr "h:2" disagrees with the URL's port 1 (URL is REDIS_URL="redis://h:1")`},
		{API(), []string{"REDIS_URL", "redis://h", "REDIS_PORT", "6380"}, "REDIS_PORT", "6380", `Addr "h:6380" disagrees with the URL's port 6379 (URL is REDIS_URL=`},
		{API(), []string{"REDIS_URL", "unix:///tmp/r.sock", "REDIS_PORT", "6379"}, "REDIS_PORT", "6379", "unix://"},
		{API(), []string{"REDIS_URL", "redis://bob:pw@h:1", "REDIS_USERNAME", "alice"}, "REDIS_USERNAME", "alice", `disagrees with the URL's user "bob" (URL is REDIS_URL=`},
		{API(), []string{"REDIS_URL", "redis://bob:" + envSecret + "@h:1", "REDIS_PASSWORD", "other-" + envSecret}, "REDIS_PASSWORD", "xxxxx", "disagrees with the URL's password (URL is REDIS_URL="},
		{API(), []string{"REDIS_URL", "redis://h:1/2", "REDIS_DB", "3"}, "REDIS_DB", "3", "disagrees with the URL's database 2 (URL is REDIS_URL="},
		{API(), []string{"REDIS_URL", "redis://h:1?db=2", "REDIS_DB", "3"}, "REDIS_DB", "3", "database 2"},
		{API(), []string{"REDIS_URL", "redis://h:1", "REDIS_TLS", "true"}, "REDIS_TLS", "true", "the URL's scheme is not rediss:// (URL is REDIS_URL="},
		{API(), []string{"REDIS_URL", "rediss://h:1", "REDIS_TLS", "0"}, "REDIS_TLS", "0", "(TLS is true)"},
		{API(), []string{"REDIS_URL", "ftp://h:1"}, "REDIS_URL", "ftp://h:1", "invalid URL scheme: ftp"},
		{API(), []string{"REDIS_URL", "redis://h:1?pool_size=10"}, "REDIS_URL", "redis://h:1?pool_size=10", "use PoolSize"},
	} {
		t.Run(strings.Join(tc.kv, "="), func(t *testing.T) {
			kv := append([]string{"REDIS_PASSWORD", envSecret}, tc.kv...)
			if tc.kv[0] == "REDIS_URL" && strings.Contains(tc.kv[1], "@") || len(tc.kv) > 2 && tc.kv[2] == "REDIS_PASSWORD" {
				kv = tc.kv
			}
			c, err := fromEnvLookup(tc.preset, env(kv...))
			if err == nil {
				t.Fatalf("no error; got %v", c)
			}
			var ee *EnvError
			if !errors.As(err, &ee) {
				t.Fatalf("%v is not an *EnvError", err)
			}
			if ee.Var != tc.bad || ee.Value != tc.value || !strings.Contains(ee.Reason, tc.reason) {
				t.Fatalf("got Var=%s Value=%q Reason=%q\nwant Var=%s Value=%q reason containing %q", ee.Var, ee.Value, ee.Reason, tc.bad, tc.value, tc.reason)
			}
			msg := err.Error()
			if !strings.Contains(msg, "profiles: "+tc.bad+"=") || !strings.Contains(msg, tc.reason) {
				t.Fatalf("message %q does not name %s and %q", msg, tc.bad, tc.reason)
			}
			if strings.Contains(msg, envSecret) {
				t.Fatalf("message contains the password: %q", msg)
			}
			if fmtC := c.String(); strings.Contains(fmtC, envSecret) {
				t.Fatalf("returned config prints the password: %s", fmtC)
			}
		})
	}
}

func TestFromEnvErrorFormat(t *testing.T) {
	_, err := fromEnvLookup(API(), env("REDIS_MAX_CONNECTIONS", "abc"))
	if got, want := err.Error(), `profiles: REDIS_MAX_CONNECTIONS="abc": not a whole number`; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestFromEnvReportsEveryBadVariable(t *testing.T) {
	_, err := fromEnvLookup(API(), env("REDIS_MAX_CONNECTIONS", "abc", "REDIS_SOCKET_TIMEOUT", "x", "REDIS_TLS", "maybe"))
	for _, v := range []string{"REDIS_MAX_CONNECTIONS", "REDIS_SOCKET_TIMEOUT", "REDIS_TLS"} {
		if err == nil || !strings.Contains(err.Error(), v) {
			t.Fatalf("%v does not mention %s", err, v)
		}
	}
}

func TestFromEnvConnection(t *testing.T) {
	preset := API()
	preset.Addr = "old:1"
	preset.Password = "preset-" + envSecret
	for _, tc := range []struct {
		name string
		kv   []string
		want func(Config) bool
	}{
		{"url replaces the preset's target and credentials",
			[]string{"REDIS_URL", "rediss://bob:" + envSecret + "@h:7000/3"},
			func(c Config) bool {
				return c.URL == "rediss://bob:"+envSecret+"@h:7000/3" && c.Addr == "" && c.Password == "" && c.Username == "" && c.DB == 0
			}},
		{"url with agreeing host, port, user, password, db and tls",
			[]string{"REDIS_URL", "rediss://bob:" + envSecret + "@H:7000/3", "REDIS_HOST", "h", "REDIS_PORT", "7000",
				"REDIS_USERNAME", "bob", "REDIS_PASSWORD", envSecret, "REDIS_DB", "3", "REDIS_TLS", "on"},
			func(c Config) bool { return c.URL != "" && c.Addr == "h:7000" }},
		{"port beside a url takes the url's host",
			[]string{"REDIS_URL", "redis://h:7000", "REDIS_PORT", "7000"},
			func(c Config) bool { return c.URL == "redis://h:7000" && c.Addr == "h:7000" }},
		{"host beside a url takes the url's port",
			[]string{"REDIS_URL", "redis://h:7000", "REDIS_HOST", "h"},
			func(c Config) bool { return c.URL == "redis://h:7000" && c.Addr == "h:7000" }},
		{"socket path beside a unix url",
			[]string{"REDIS_URL", "unix:///run/r.sock", "REDIS_HOST", "/run/r.sock"},
			func(c Config) bool { return c.URL == "unix:///run/r.sock" && c.Addr == "/run/r.sock" }},
		{"separate variables fill what the url leaves out",
			[]string{"REDIS_URL", "redis://h:7000", "REDIS_USERNAME", "bob", "REDIS_PASSWORD", envSecret, "REDIS_DB", "4"},
			func(c Config) bool { return c.Username == "bob" && c.Password == envSecret && c.DB == 4 }},
		{"port only keeps the preset's host",
			[]string{"REDIS_PORT", "7001"},
			func(c Config) bool { return c.Addr == "old:7001" && c.Password == "preset-"+envSecret }},
		{"ipv6 host", []string{"REDIS_HOST", "::1"}, func(c Config) bool { return c.Addr == "[::1]:1" }},
		{"bracketed ipv6 host", []string{"REDIS_HOST", "[::1]", "REDIS_PORT", "6379"}, func(c Config) bool { return c.Addr == "[::1]:6379" }},
		{"unix socket host", []string{"REDIS_HOST", "/run/redis.sock"}, func(c Config) bool { return c.Addr == "/run/redis.sock" }},
		{"sentinel", []string{"REDIS_SENTINEL_ADDRS", "s1:26379,s2:26379", "REDIS_SENTINEL_MASTER", " mymaster ",
			"REDIS_SENTINEL_USERNAME", "su", "REDIS_SENTINEL_PASSWORD", "s-" + envSecret, "REDIS_DB", "2"},
			func(c Config) bool {
				return c.Mode() == ModeSentinel && c.Addr == "" && len(c.SentinelAddrs) == 2 && c.SentinelMaster == "mymaster" &&
					c.SentinelUsername == "su" && c.SentinelPassword == "s-"+envSecret && c.DB == 2
			}},
		{"cluster with credentials and tls", []string{"REDIS_CLUSTER_ADDRS", "a:1", "REDIS_PASSWORD", envSecret, "REDIS_TLS", "1"},
			func(c Config) bool {
				return c.Mode() == ModeCluster && c.Addr == "" && c.Password == envSecret && c.TLS
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := fromEnvLookup(preset, env(tc.kv...))
			if err != nil {
				t.Fatal(err)
			}
			if !tc.want(c) {
				t.Fatalf("unexpected config %v (username %q, db %d)", c, c.Username, c.DB)
			}
		})
	}
}

func TestFromEnvReadsTheProcessEnvironment(t *testing.T) {
	t.Setenv("WORKER_REDIS_MAX_CONNECTIONS", "222")
	t.Setenv("REDIS_WORKER_MAX_CONNECTIONS", "")
	t.Setenv("REDIS_TCP_KEEPCNT", "5")
	c, err := FromEnv(Worker())
	if err != nil || c.PoolSize != 222 || c.KeepAliveCount != 5 {
		t.Fatalf("%v %v", c, err)
	}
}

// Regression guard: a password put into the wrong variable must not be
// echoed by the error about that variable.
func TestFromEnvRedactsPasswordsEchoedByOtherVariables(t *testing.T) {
	for _, kv := range [][]string{
		{"REDIS_PASSWORD", envSecret, "REDIS_HOST", envSecret + ":6379"},
		{"REDIS_PASSWORD", envSecret, "REDIS_MAX_CONNECTIONS", envSecret},
		{"REDIS_SENTINEL_ADDRS", "a:1", "REDIS_SENTINEL_MASTER", "m", "REDIS_SENTINEL_PASSWORD", envSecret, "REDIS_DB", envSecret},
		{"REDIS_URL", "redis://u:" + envSecret + "@h:1", "REDIS_TLS", envSecret},
	} {
		_, err := fromEnvLookup(API(), env(kv...))
		if err == nil || strings.Contains(err.Error(), envSecret) || !strings.Contains(err.Error(), "xxxxx") {
			t.Errorf("%v: %v", kv, err)
		}
	}
}

// budgets returns c with its limiter budgets set in code.
func budgets(c Config, ops, blocking int) Config {
	c.MaxConcurrentOps, c.MaxBlocking = ops, blocking
	return c
}
