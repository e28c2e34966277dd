package profiles_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/redisguard/redisguard/profiles"
)

// The rules on which server a Config names (one kind of server; Addr
// agreeing with the URL) are Config's: a Config written in code breaks them
// with the same error as the environment that sets the same fields, and
// FromEnv blames the variable that set the field at fault.
func TestTargetRulesAreConfigs(t *testing.T) {
	for _, tc := range []struct {
		name             string
		code             profiles.Config
		kv               []string
		field, related   string
		reason, blamed   string
		blamedValue      string
		reasonInEnvError string // the variable named for the related field
	}{
		{"cluster and sentinel",
			profiles.Config{ClusterAddrs: []string{"a:1"}, SentinelAddrs: []string{"b:2"}, SentinelMaster: "m"},
			[]string{"REDIS_CLUSTER_ADDRS", "a:1", "REDIS_SENTINEL_ADDRS", "b:2", "REDIS_SENTINEL_MASTER", "m"},
			"SentinelAddrs", "ClusterAddrs", "SentinelAddrs cannot be combined with ClusterAddrs: name one kind of server",
			"REDIS_SENTINEL_ADDRS", "b:2", `(ClusterAddrs is REDIS_CLUSTER_ADDRS="a:1")`},
		{"url and cluster",
			profiles.Config{URL: "redis://h:1", ClusterAddrs: []string{"a:1"}},
			[]string{"REDIS_URL", "redis://h:1", "REDIS_CLUSTER_ADDRS", "a:1"},
			"ClusterAddrs", "URL", "ClusterAddrs cannot be combined with URL: name one kind of server",
			"REDIS_CLUSTER_ADDRS", "a:1", `(URL is REDIS_URL="redis://h:1")`},
		{"addr and sentinel",
			profiles.Config{Addr: "h:6379", SentinelAddrs: []string{"b:2"}, SentinelMaster: "m"},
			[]string{"REDIS_HOST", "h", "REDIS_SENTINEL_ADDRS", "b:2", "REDIS_SENTINEL_MASTER", "m"},
			"SentinelAddrs", "Addr", "SentinelAddrs cannot be combined with Addr: name one kind of server",
			"REDIS_SENTINEL_ADDRS", "b:2", `(Addr is REDIS_HOST="h")`},
		{"url and another host",
			profiles.Config{URL: "redis://h:1", Addr: "g:1"},
			[]string{"REDIS_URL", "redis://h:1", "REDIS_HOST", "g"},
			"Addr", "URL", `Addr "g:1" disagrees with the URL's host "h"`,
			"REDIS_HOST", "g", `(URL is REDIS_URL="redis://h:1")`},
		{"url and another port",
			profiles.Config{URL: "redis://h:1", Addr: "h:2"},
			[]string{"REDIS_URL", "redis://h:1", "REDIS_HOST", "h", "REDIS_PORT", "2"},
			"Addr", "URL", `Addr "h:2" disagrees with the URL's port 1`,
			"REDIS_PORT", "2", `(URL is REDIS_URL="redis://h:1")`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var code *profiles.ConfigError
			if err := tc.code.Validate(); !errors.As(err, &code) {
				t.Fatalf("Validate() = %v, want a *ConfigError", err)
			}
			if code.Field != tc.field || code.Related != tc.related || !strings.HasPrefix(code.Reason, tc.reason) {
				t.Fatalf("Validate() = Field %q Related %q Reason %q\nwant Field %q Related %q Reason starting %q",
					code.Field, code.Related, code.Reason, tc.field, tc.related, tc.reason)
			}

			_, err := profiles.FromEnvLookup(profiles.API(), lookup(tc.kv...))
			var ee *profiles.EnvError
			var fromEnv *profiles.ConfigError
			if !errors.As(err, &ee) || !errors.As(err, &fromEnv) {
				t.Fatalf("FromEnv: %v, want an *EnvError wrapping Validate's *ConfigError", err)
			}
			if fromEnv.Field != code.Field || fromEnv.Related != code.Related || fromEnv.Reason != code.Reason {
				t.Fatalf("FromEnv broke the rule as\n%+v\nthe Config in code as\n%+v", *fromEnv, *code)
			}
			if ee.Var != tc.blamed || ee.Value != tc.blamedValue || ee.Reason != code.Reason+" "+tc.reasonInEnvError {
				t.Fatalf("FromEnv blamed %s=%q: %q\nwant %s=%q: %q", ee.Var, ee.Value, ee.Reason,
					tc.blamed, tc.blamedValue, code.Reason+" "+tc.reasonInEnvError)
			}
		})
	}
}

// REDIS_HOST and REDIS_PORT beside REDIS_URL set Addr, as a Config in code
// that names the server twice does; the part left unset is the URL's.
func TestEnvURLWithHostOrPortIsTheConfigInCode(t *testing.T) {
	for _, kv := range [][]string{
		{"REDIS_URL", "redis://h:7000", "REDIS_HOST", "h", "REDIS_PORT", "7000"},
		{"REDIS_URL", "redis://h:7000", "REDIS_HOST", "h"},
		{"REDIS_URL", "redis://h:7000", "REDIS_PORT", "7000"},
	} {
		t.Run(strings.Join(kv, "="), func(t *testing.T) {
			want := profiles.API()
			want.URL, want.Addr = "redis://h:7000", "h:7000"
			if err := want.Validate(); err != nil {
				t.Fatal(err)
			}
			got, err := profiles.FromEnvLookup(profiles.API(), lookup(kv...))
			if err != nil {
				t.Fatal(err)
			}
			if want = want.WithDefaults(); !reflect.DeepEqual(got, want) {
				t.Fatalf("FromEnv gave\n%v\nwant (as in code)\n%v", got, want)
			}
		})
	}
}
