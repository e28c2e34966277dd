package profiles

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestURLMapsIntoOptions(t *testing.T) {
	for _, tc := range []struct {
		url           string
		network, addr string
		user, pass    string
		db            int
		tls           bool
		serverName    string
		skipVerify    bool
		dialTimeout   time.Duration
		clientName    string
	}{
		{url: "redis://localhost", network: "tcp", addr: "localhost:6379"},
		{url: "redis://h:7000/3", network: "tcp", addr: "h:7000", db: 3},
		{url: "redis://bob:s%40cret@h:7000/1", network: "tcp", addr: "h:7000", user: "bob", pass: "s@cret", db: 1},
		{url: "redis://:only-pass@h:7000?db=5", network: "tcp", addr: "h:7000", pass: "only-pass", db: 5},
		{url: "redis://[::1]:7000", network: "tcp", addr: "[::1]:7000"},
		{url: "rediss://bob:pw@cache.example:6380/0", network: "tcp", addr: "cache.example:6380", user: "bob", pass: "pw", tls: true, serverName: "cache.example"},
		{url: "rediss://h:6380?skip_verify=true", network: "tcp", addr: "h:6380", tls: true, serverName: "h", skipVerify: true},
		{url: "unix:///run/redis.sock?db=2", network: "unix", addr: "/run/redis.sock", db: 2},
		{url: "unix://bob:pw@/run/redis.sock", network: "unix", addr: "/run/redis.sock", user: "bob", pass: "pw"},
		{url: "redis://h:1?dial_timeout=3&client_name=api-1", network: "tcp", addr: "h:1", dialTimeout: 3 * time.Second, clientName: "api-1"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			c := API()
			c.URL = tc.url
			o, err := c.ClientOptions()
			if err != nil {
				t.Fatal(err)
			}
			if o.Network != tc.network || o.Addr != tc.addr || o.Username != tc.user || o.Password != tc.pass || o.DB != tc.db {
				t.Fatalf("got %s %s user=%q pass=%q db=%d", o.Network, o.Addr, o.Username, o.Password, o.DB)
			}
			if (o.TLSConfig != nil) != tc.tls {
				t.Fatalf("TLS %v, want %v", o.TLSConfig != nil, tc.tls)
			}
			if tc.tls && (o.TLSConfig.ServerName != tc.serverName || o.TLSConfig.InsecureSkipVerify != tc.skipVerify) {
				t.Fatalf("TLS ServerName %q skip %v", o.TLSConfig.ServerName, o.TLSConfig.InsecureSkipVerify)
			}
			if o.DialTimeout != tc.dialTimeout || o.ClientName != tc.clientName {
				t.Fatalf("query options lost: dial %s name %q", o.DialTimeout, o.ClientName)
			}
			// The profile's own settings win over go-redis's URL defaults.
			if o.PoolSize != 50 || o.ReadTimeout != 30*time.Second || o.WriteTimeout != 30*time.Second || o.MaxRetries != -1 || !o.ContextTimeoutEnabled || o.Dialer == nil {
				t.Fatalf("profile settings missing: %+v", o)
			}
		})
	}
}

// The messages go-redis and net/url give for these URLs repeat the password
// or a piece of it (checked below), so they must be withheld or trimmed.
func TestURLErrorsNeverRepeatThePassword(t *testing.T) {
	const pw = "Zq9SECRET"
	for _, tc := range []struct {
		url    string
		reason string // expected in our error
	}{
		{"redis://u:12/3456" + pw + "@host:6379/0", withheld},
		{"redis://u:" + pw + "@h:port", `invalid port ":port" after host`},
		{"redis://u:" + pw + "@ho st:1", `invalid character " " in host name`},
		{"redis://u:" + pw[:4] + "%zz" + pw[4:] + "@h:1", withheld},
		{"redis://u:" + pw + " x@h:1", "invalid userinfo"},
		{"redis:/u:" + pw + "@h", withheld},
		{"redis://u:" + pw + "@h:1/abc", `invalid database number: "abc"`},
		{"redis://u:" + pw + "@h:1?nope=1", "unexpected option: nope"},
		{"redis://u:" + pw + "@h:1?db=" + pw, withheld},
		{"http://u:" + pw + "@h", "invalid URL scheme: http"},
		{"redis://" + pw + "@h:1/x", `invalid database number: "x"`},
		{"redis://u:" + pw + "@h:99999", `port "99999" is not a number in 1..65535`},
	} {
		t.Run(tc.url, func(t *testing.T) {
			// Prove the case is meaningful: the parsers' own messages leak.
			_, rawErr := redis.ParseURL(tc.url)
			if rawErr == nil {
				if _, err := parseURL(tc.url); err == nil {
					t.Fatalf("%s parses", tc.url)
				}
			}
			for _, via := range []string{"env", "config"} {
				var err error
				if via == "env" {
					_, err = fromEnvLookup(API(), env("REDIS_URL", tc.url))
					var ee *EnvError
					if !errors.As(err, &ee) || ee.Var != "REDIS_URL" {
						t.Fatalf("%s: %v is not an EnvError on REDIS_URL", via, err)
					}
				} else {
					c := API()
					c.URL = tc.url
					err = c.Validate()
					if _, err2 := c.ClientOptions(); err2 == nil || err2.Error() != err.Error() {
						t.Fatalf("ClientOptions: %v", err2)
					}
				}
				if err == nil {
					t.Fatalf("%s: no error", via)
				}
				msg := err.Error()
				for i := 0; i+3 <= len(pw); i++ {
					if strings.Contains(msg, pw[i:i+3]) {
						t.Fatalf("%s: error repeats %q of the password: %s", via, pw[i:i+3], msg)
					}
				}
				if !strings.Contains(msg, tc.reason) || !strings.Contains(msg, "xxxxx@") {
					t.Fatalf("%s: %q lacks %q or the redacted URL", via, msg, tc.reason)
				}
			}
		})
	}
	// At least one raw parser message must leak, or the test above proves nothing.
	_, raw := redis.ParseURL("redis://u:12/3456" + pw + "@host:6379/0")
	if raw == nil || !strings.Contains(raw.Error(), pw) {
		t.Fatalf("expected go-redis to echo the password; got %v", raw)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"redis://h:1/0":                       "redis://h:1/0",
		"redis://bob:pw@h:1/0":                "redis://bob:xxxxx@h:1/0",
		"redis://:pw@h:1":                     "redis://:xxxxx@h:1",
		"redis://pw@h:1":                      "redis://xxxxx@h:1",
		"rediss://bob:p@ss:w@rd@h:1/2":        "rediss://bob:xxxxx@h:1/2",
		"unix://bob:pw@/run/redis.sock":       "unix://bob:xxxxx@/run/redis.sock",
		"redis:/u:pw@h":                       "redis:/u:xxxxx@h",
		"no scheme u:pw@h":                    "no scheme u:xxxxx@h",
		"":                                    "",
		"redis://h:1?client_name=a@b":         "redis://h:xxxxx@b", // over-redacts: safe
		"redis://u:pw12@h:1?client_name=pw12": "redis://u:xxxxx@h:1?client_name=xxxxx",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
