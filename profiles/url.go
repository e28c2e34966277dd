package profiles

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// urlInfo is a URL parsed by go-redis's ParseURL plus what ParseURL does not
// say: which parts the URL actually carried.
type urlInfo struct {
	opts        *redis.Options
	hasUser     bool
	hasPassword bool
	hasDB       bool
}

// ownedQuery are go-redis URL query options a Config sets itself, with the
// field to use instead.
var ownedQuery = []struct{ key, use string }{
	{"pool_size", "PoolSize"},
	{"read_timeout", "SocketTimeout"},
	{"write_timeout", "SocketTimeout"},
	{"max_retries", "Retry (go-redis retries are off; the Retry hook retries)"},
	{"min_retry_backoff", "Retry.InitialInterval"},
	{"max_retry_backoff", "Retry.MaxInterval"},
}

// urlError is a URL that did not parse. Its text holds the URL with the
// password redacted and a reason that never repeats any part of the password.
type urlError struct {
	url    string // redacted
	reason string
}

func (e *urlError) Error() string { return fmt.Sprintf("%q: %s", e.url, e.reason) }

// withheld replaces a parser message that would repeat part of a password.
const withheld = "malformed URL (the parser's message is withheld because it would repeat part of the password)"

// parseURL parses a redis://, rediss:// or unix:// URL with redis.ParseURL.
// Errors are *urlError.
func parseURL(raw string) (*urlInfo, error) {
	if testHook != nil {
		testHook("parseURL")
	}
	var password string // set once the URL parsed; scrub removes it too
	fail := func(reason string) error {
		return &urlError{url: RedactURL(raw), reason: scrub(reason, raw, password)}
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			// url.Error.Error() quotes the whole URL; keep only the reason.
			return nil, fail(ue.Err.Error())
		}
		return nil, fail(err.Error())
	}
	password, _ = u.User.Password()
	opts, err := redis.ParseURL(raw)
	if err != nil {
		return nil, fail(strings.TrimPrefix(err.Error(), "redis: "))
	}
	q := u.Query()
	for _, o := range ownedQuery {
		for _, v := range q[o.key] {
			if v != "" {
				return nil, fail(fmt.Sprintf("query option %s is set by the profile: use %s", o.key, o.use))
			}
		}
	}
	info := &urlInfo{opts: opts}
	if u.User != nil {
		info.hasUser = u.User.Username() != ""
		info.hasPassword = password != ""
	}
	for _, v := range q["db"] {
		if v != "" {
			info.hasDB = true
		}
	}
	if opts.Network == "tcp" {
		_, port, _ := net.SplitHostPort(opts.Addr)
		if err := checkPort(port); err != nil {
			return nil, fail(err.Error())
		}
		if strings.Trim(u.Path, "/") != "" {
			info.hasDB = true
		}
	}
	return info, nil
}

// authority returns the bounds [start, end) of the part of raw that may hold
// credentials: from after "scheme://" (or after the first ':' when there is
// no "//") up to the last '@' anywhere in raw. It over-approximates on
// purpose: a malformed URL must not leak a password because the parser
// split it somewhere unexpected. ok is false when raw has no '@' after start.
func authority(raw string) (start, end int, ok bool) {
	if i := strings.Index(raw, "://"); i >= 0 {
		start = i + 3
	} else if i := strings.IndexByte(raw, ':'); i >= 0 {
		start = i + 1
	}
	end = strings.LastIndexByte(raw, '@')
	if end < start {
		return 0, 0, false
	}
	return start, end, true
}

// secretPart returns the part of raw that may be a password: what follows
// the first ':' of the credentials region, or the whole region when it has
// no ':' (a bare "redis://secret@host" is a common mistake for ":secret@").
func secretPart(raw string) string {
	start, end, ok := authority(raw)
	if !ok {
		return ""
	}
	info := raw[start:end]
	if i := strings.IndexByte(info, ':'); i >= 0 {
		return info[i+1:]
	}
	return info
}

// RedactURL returns raw with its password replaced by "xxxxx", keeping the
// user name: "redis://user:xxxxx@host:6379/0". Credentials without a ':' are
// redacted whole ("redis://xxxxx@host"), since they are often a password.
// It works on malformed URLs too, treating everything between "://" and the
// last '@' as credentials; a copy of the password elsewhere in the URL (3
// bytes or longer) is redacted as well.
func RedactURL(raw string) string {
	start, end, ok := authority(raw)
	if !ok {
		return raw
	}
	secret := secretPart(raw)
	info := raw[start:end]
	if i := strings.IndexByte(info, ':'); i >= 0 {
		info = info[:i+1] + redacted
	} else {
		info = redacted
	}
	return redactAll(raw[:start]+info+raw[end:], secret)
}

// minSecretLen is the shortest secret redactAll replaces: shorter ones occur
// in any text by chance, and replacing them would garble it.
const minSecretLen = 3

// redactAll replaces every occurrence of each secret (minSecretLen bytes or
// longer) in s with "xxxxx", in each form it may be printed in (see
// secretForms).
func redactAll(s string, secrets ...string) string {
	for _, sec := range secrets {
		for _, form := range secretForms(sec) {
			if len(form) >= minSecretLen && strings.Contains(s, form) {
				s = strings.ReplaceAll(s, form, redacted)
			}
		}
	}
	return s
}

// secretForms returns sec as written, percent-decoded, and both as they
// appear inside a %q quotation.
func secretForms(sec string) []string {
	dec := lenientUnescape(sec)
	q := strconv.Quote(sec)
	dq := strconv.Quote(dec)
	return []string{sec, dec, q[1 : len(q)-1], dq[1 : len(dq)-1]}
}

// urlSecrets returns the password of raw as the parsers may see it: the
// credentials region after ':' as written (see secretPart) and as url.Parse
// decodes it.
func urlSecrets(raw string) []string {
	out := []string{secretPart(raw)}
	if u, err := url.Parse(raw); err == nil {
		if p, ok := u.User.Password(); ok {
			out = append(out, p)
		}
	}
	return out
}

// scrub returns reason, or withheld when reason repeats any piece of the
// password of raw (as written, percent-decoded, or as url.Parse read it).
func scrub(reason, raw, parsedPassword string) string {
	secrets := []string{secretPart(raw), parsedPassword}
	secrets = append(secrets, lenientUnescape(secrets[0]))
	for _, s := range secrets {
		if leaks(reason, s) {
			return withheld
		}
	}
	return reason
}

// leaks reports whether text contains any run of min(3, len(secret)) bytes
// of secret: a parser message quoting a slice of a password leaks that slice.
func leaks(text, secret string) bool {
	if secret == "" {
		return false
	}
	k := min(3, len(secret))
	for i := 0; i+k <= len(secret); i++ {
		if strings.Contains(text, secret[i:i+k]) {
			return true
		}
	}
	return false
}

// lenientUnescape decodes the valid %XX escapes of s and keeps the rest.
func lenientUnescape(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && ishex(s[i+1]) && ishex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
