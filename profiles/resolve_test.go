package profiles

import (
	"errors"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"
)

// countResolves counts, while f runs, the times a Config is resolved and a
// URL is parsed. Tests that use it do not run in parallel (the hook is
// package state).
func countResolves(t *testing.T, f func()) map[string]int {
	t.Helper()
	n := map[string]int{}
	testHook = func(event string) { n[event]++ }
	defer func() { testHook = nil }()
	f()
	return n
}

// A Config is resolved once on its way through NewClient (and Apply, and
// each options builder): the preset's defaults, the checks and the URL
// parse happen once, and the options, the dialer and the hooks read that
// one value.
func TestConfigIsResolvedOnce(t *testing.T) {
	single := API()
	single.URL = "rediss://bob:" + envSecret + "@h:7000/3"
	cluster := Worker()
	cluster.ClusterAddrs = []string{"127.0.0.1:1", "127.0.0.1:2"}
	sentinel := API()
	sentinel.SentinelAddrs, sentinel.SentinelMaster = []string{"s:26379"}, "m"
	for _, c := range []Config{single, cluster, sentinel} {
		t.Run(c.Mode().String(), func(t *testing.T) {
			var pc *Client
			n := countResolves(t, func() {
				var err error
				if pc, err = NewClient(c); err != nil {
					t.Fatal(err)
				}
			})
			defer pc.Close()
			wantParses := 0
			if c.URL != "" {
				wantParses = 1
			}
			if n["resolve"] != 1 || n["parseURL"] != wantParses {
				t.Fatalf("NewClient resolved the Config %d times and parsed its URL %d times; want 1 and %d", n["resolve"], n["parseURL"], wantParses)
			}
		})
	}
	t.Run("Apply", func(t *testing.T) {
		rdb := redis.NewClient(&redis.Options{Addr: "h:1", MaxRetries: -1, ContextTimeoutEnabled: true, PoolSize: 20})
		defer rdb.Close()
		var h Hooks
		n := countResolves(t, func() {
			var err error
			if h, err = Apply(rdb, single); err != nil {
				t.Fatal(err)
			}
		})
		defer h.Breaker.Close()
		if n["resolve"] != 1 || n["parseURL"] != 1 {
			t.Fatalf("Apply resolved the Config %d times and parsed its URL %d times; want 1 and 1", n["resolve"], n["parseURL"])
		}
	})
	t.Run("ClientOptions", func(t *testing.T) {
		n := countResolves(t, func() {
			if _, err := single.ClientOptions(); err != nil {
				t.Fatal(err)
			}
		})
		if n["resolve"] != 1 || n["parseURL"] != 1 {
			t.Fatalf("ClientOptions resolved the Config %d times and parsed its URL %d times; want 1 and 1", n["resolve"], n["parseURL"])
		}
	})
}

// The three ways to name a server (a Config in code, a URL, the
// environment) resolve to the same value, and refuse the same mistake with
// the same rule.
func TestCodeURLAndEnvResolveAlike(t *testing.T) {
	code := Worker()
	code.Addr, code.Username, code.Password, code.DB, code.PoolSize = "h:7000", "bob", envSecret, 3, 20
	url := Worker()
	url.URL, url.PoolSize = "redis://bob:"+envSecret+"@h:7000/3", 20
	fromURL, err := fromEnvLookup(Worker(), env("REDIS_URL", url.URL, "WORKER_REDIS_MAX_CONNECTIONS", "20"))
	if err != nil {
		t.Fatal(err)
	}
	fromVars, err := fromEnvLookup(Worker(), env("REDIS_HOST", "h", "REDIS_PORT", "7000", "REDIS_USERNAME", "bob",
		"REDIS_PASSWORD", envSecret, "REDIS_DB", "3", "WORKER_REDIS_MAX_CONNECTIONS", "20"))
	if err != nil {
		t.Fatal(err)
	}
	want := summary(t, code)
	for name, c := range map[string]Config{"URL": url, "REDIS_URL": fromURL, "REDIS_HOST...": fromVars} {
		if got := summary(t, c); got != want {
			t.Errorf("%s resolves to\n%s\nwant (as in code)\n%s", name, got, want)
		}
	}

	// The same mistake, three ways: a limiter larger than the pool.
	code.MaxConcurrentOps, url.MaxConcurrentOps = 30, 30
	_, envErr := fromEnvLookup(url, env("REDIS_WORKER_MAX_CONCURRENT_OPS", "30"))
	for name, err := range map[string]error{"code": code.Validate(), "URL": url.Validate(), "env": envErr} {
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != "MaxConcurrentOps" || ce.Related != "PoolSize" {
			t.Errorf("%s: %v, want the MaxConcurrentOps/PoolSize rule", name, err)
		}
	}
}

// summary prints what a resolved Config gives go-redis and the hooks.
func summary(t *testing.T, c Config) string {
	t.Helper()
	r, err := c.resolve()
	if err != nil {
		t.Fatal(err)
	}
	o := r.clientOptions()
	d := r.cfg
	d.URL, d.Addr, d.Username, d.Password, d.DB = "", "", "", "", 0 // said by the options
	return fmt.Sprintf("%s %s user=%s password=%t db=%d pool=%d read=%s tls=%t\n%s",
		o.Network, o.Addr, o.Username, o.Password == envSecret, o.DB, o.PoolSize, o.ReadTimeout, o.TLSConfig != nil, d)
}
