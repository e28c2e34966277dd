package profiles

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// fuzzMarker starts every fuzzed password, so a password is never a piece of
// the fixed text of a message by chance.
const fuzzMarker = "Zq9"

// FuzzFromEnv feeds fromEnvLookup (and Config.Validate, the options builders,
// String and LogValue) arbitrary values for the connection and size
// variables. Invariants: nothing panics; no error, String or LogValue
// contains a password (REDIS_PASSWORD, REDIS_SENTINEL_PASSWORD, or the
// password of a REDIS_URL of the form scheme://user:password@rest); a nil
// error means the Config passes Validate and its options builder works.
func FuzzFromEnv(f *testing.F) {
	f.Add(false, uint8(1), "redis", "bob", "pw", "h:6379/0", uint8(1), "", "", "", "", "", "", "", "", "", "", "", "", "")
	f.Add(true, uint8(1), "rediss", "", "p%40ss", "h:1?db=2", uint8(2), "h", "1", "2", "yes", "", "", "", "300", "100", "25", "0.5", "600", "3")
	f.Add(false, uint8(2), "", "", "x", "redis://u:12/34@h:1/0", uint8(0), "", "", "", "", "", "", "", "", "", "", "", "", "")
	f.Add(false, uint8(0), "", "", "pw", "", uint8(3), "", "", "", "1", "a:1,b:2", "", "", "50", "40", "10", "30s", "", "")
	f.Add(true, uint8(0), "", "", "pw", "", uint8(3), "", "", "0", "", "", "s:26379", "mymaster", "", "", "", "1m", "1", "127")
	f.Add(false, uint8(1), "unix", "u", "pw", "/tmp/r.sock?db=1", uint8(0), "", "", "", "", "", "", "", "", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, worker bool, urlMode uint8, scheme, user, pw, rest string, pwMode uint8,
		host, port, db, tlsv, cluster, sentinel, master, pool, ops, blocking, socket, keepidle, keepcnt string) {
		// Every password starts with fuzzMarker. A field that is printed
		// on purpose (a host, a user name, a number) and holds the marker
		// may hold a password's text too (host "Zq9p", password "p"): that
		// is the field, not a leak, so such inputs prove nothing.
		for _, v := range []string{scheme, user, rest, host, port, db, tlsv, cluster, sentinel, master, pool, ops, blocking, socket, keepidle, keepcnt} {
			if strings.Contains(v, fuzzMarker) {
				return
			}
		}
		secret := fuzzMarker + pw
		var urlValue string
		urlSecretChecked := false
		switch urlMode % 3 {
		case 1:
			urlValue = scheme + "://" + user + ":" + secret + "@" + rest
			// The password is well delimited only if nothing else has ':' or '@'
			// where a parser would split there.
			urlSecretChecked = !strings.ContainsAny(scheme, ":/@") && !strings.ContainsAny(user, ":@") && !strings.Contains(rest, "@")
		case 2:
			urlValue = rest
		}
		kv := map[string]string{
			envURL: urlValue, envHost: host, envPort: port, envDB: db, envTLS: tlsv,
			envClusterAddrs: cluster, envSentinelAddrs: sentinel, envSentinelMaster: master,
			envKeepAliveIdle: keepidle, envKeepAliveCount: keepcnt,
		}
		names := apiEnv
		preset := API()
		if worker {
			names, preset = workerEnv, Worker()
		}
		kv[names.PoolSize[len(names.PoolSize)-1]] = pool
		kv[names.MaxConcurrentOps[0]] = ops
		kv[names.MaxBlocking[0]] = blocking
		kv[names.SocketTimeout[0]] = socket
		var secrets []string
		if urlSecretChecked {
			secrets = append(secrets, secret)
		}
		switch pwMode % 4 {
		case 1:
			kv[envPassword] = secret
			secrets = append(secrets, secret)
		case 2:
			kv[envPassword] = fuzzMarker + "other" + pw
			secrets = append(secrets, kv[envPassword])
		case 3:
			kv[envSentinelPassword] = fuzzMarker + "sentinel" + pw
			secrets = append(secrets, kv[envSentinelPassword])
		}
		lookup := func(k string) (string, bool) { v, ok := kv[k]; return v, ok }

		leak := func(where, text string) {
			for _, s := range secrets {
				for _, form := range secretForms(s) {
					if len(form) >= minSecretLen && strings.Contains(text, form) {
						t.Fatalf("%s contains the password %q:\n%s", where, s, text)
					}
				}
			}
		}
		checkErr := func(where string, err error) {
			for _, e := range flatten(err) {
				leak(where, e.Error())
			}
		}

		c, err := fromEnvLookup(preset, lookup)
		checkErr("fromEnvLookup error", err)
		leak("String", c.String())
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "config", c)
		leak("LogValue", buf.String())
		if err == nil {
			if verr := c.Validate(); verr != nil {
				t.Fatalf("fromEnvLookup returned a Config Validate rejects: %v", verr)
			}
			var oerr error
			switch c.Mode() {
			case ModeSingle:
				_, oerr = c.ClientOptions()
			case ModeCluster:
				_, oerr = c.ClusterOptions()
			case ModeSentinel:
				_, oerr = c.FailoverOptions()
			}
			if oerr != nil {
				t.Fatalf("valid Config, options builder failed: %v", oerr)
			}
		}

		// The same URL set in code.
		cc := preset
		cc.URL = urlValue
		cc.Password = kv[envPassword]
		checkErr("Validate error", cc.Validate())
		leak("String (code)", cc.String())
		if urlSecretChecked {
			leak("RedactURL", RedactURL(urlValue))
		}
	})
}

// flatten lists err and everything it wraps.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	out := []error{err}
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			out = append(out, flatten(e)...)
		}
	case interface{ Unwrap() error }:
		out = append(out, flatten(u.Unwrap())...)
	}
	return out
}
