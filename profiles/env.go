package profiles

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// EnvError reports an environment variable FromEnv cannot use. Value is what
// the variable held, with secrets redacted ("xxxxx" for REDIS_PASSWORD and
// REDIS_SENTINEL_PASSWORD, the password part of REDIS_URL likewise).
type EnvError struct {
	// Var is the variable at fault, e.g. "REDIS_MAX_CONNECTIONS".
	Var string
	// Value is the variable's value, secrets redacted.
	Value string
	// Reason says what is wrong; it never contains a password.
	Reason string
	// Err is the underlying error, if any (a *ConfigError for rules between
	// settings); it never contains a password either.
	Err error
}

// Error returns `profiles: VAR="value": reason`.
func (e *EnvError) Error() string {
	return fmt.Sprintf("profiles: %s=%q: %s", e.Var, e.Value, e.Reason)
}

// Unwrap returns Err.
func (e *EnvError) Unwrap() error { return e.Err }

// Environment variables shared by both presets.
const (
	envURL              = "REDIS_URL"               // redis://, rediss:// or unix:// URL of a single server
	envHost             = "REDIS_HOST"              // host name, IP address, or unix socket path
	envPort             = "REDIS_PORT"              // TCP port (default 6379)
	envUsername         = "REDIS_USERNAME"          // ACL user
	envPassword         = "REDIS_PASSWORD"          // password; never printed
	envDB               = "REDIS_DB"                // database number
	envTLS              = "REDIS_TLS"               // true to use TLS
	envClusterAddrs     = "REDIS_CLUSTER_ADDRS"     // comma separated cluster seed addresses
	envSentinelAddrs    = "REDIS_SENTINEL_ADDRS"    // comma separated Sentinel addresses
	envSentinelMaster   = "REDIS_SENTINEL_MASTER"   // master name the Sentinels monitor
	envSentinelUsername = "REDIS_SENTINEL_USERNAME" // ACL user on the Sentinels
	envSentinelPassword = "REDIS_SENTINEL_PASSWORD" // password on the Sentinels; never printed
	envKeepAliveIdle    = "REDIS_TCP_KEEPIDLE"      // seconds before the first keepalive probe
	envKeepAliveIntvl   = "REDIS_TCP_KEEPINTVL"     // seconds between keepalive probes
	envKeepAliveCount   = "REDIS_TCP_KEEPCNT"       // unanswered probes before the connection is dropped
)

// connVars are the connection fields that a variable sets, by field.
var connVars = map[string]string{
	"URL": envURL, "SentinelAddrs": envSentinelAddrs, "SentinelMaster": envSentinelMaster,
}

// envNames are the per-preset variable names of the settings. Where a
// setting has two names (aliases), both are read and must agree.
type envNames struct {
	PoolSize             []string
	MaxConcurrentOps     []string
	MaxBlocking          []string
	SocketTimeout        []string
	BlockingTimeout      []string
	HealthCheckInterval  []string
	RetryMaxAttempts     []string
	RetryInitialInterval []string
	RetryMaxInterval     []string
	RetryMaxElapsed      []string
}

// apiEnv are the API preset's variables (listed in the package
// documentation). MaxBlocking and the Retry fields have no name in the
// specified list; these follow its pattern.
var apiEnv = envNames{
	PoolSize:             []string{"REDIS_MAX_CONNECTIONS"},
	MaxConcurrentOps:     []string{"REDIS_MAX_CONCURRENT_OPS"},
	MaxBlocking:          []string{"REDIS_MAX_BLOCKING_OPS"},
	SocketTimeout:        []string{"REDIS_SOCKET_TIMEOUT"},
	BlockingTimeout:      []string{"REDIS_BLOCKING_TIMEOUT"},
	HealthCheckInterval:  []string{"REDIS_HEALTH_CHECK_INTERVAL"},
	RetryMaxAttempts:     []string{"REDIS_RETRY_MAX_ATTEMPTS"},
	RetryInitialInterval: []string{"REDIS_RETRY_INITIAL_INTERVAL"},
	RetryMaxInterval:     []string{"REDIS_RETRY_MAX_INTERVAL"},
	RetryMaxElapsed:      []string{"REDIS_RETRY_MAX_ELAPSED"},
}

// workerEnv are the Worker preset's variables. Two prefixes occur in the
// specified list (WORKER_REDIS_ and REDIS_WORKER_); the pool size is read
// under both.
var workerEnv = envNames{
	PoolSize:             []string{"WORKER_REDIS_MAX_CONNECTIONS", "REDIS_WORKER_MAX_CONNECTIONS"},
	MaxConcurrentOps:     []string{"REDIS_WORKER_MAX_CONCURRENT_OPS"},
	MaxBlocking:          []string{"REDIS_WORKER_MAX_BLOCKING_OPS"},
	SocketTimeout:        []string{"WORKER_REDIS_SOCKET_TIMEOUT"},
	BlockingTimeout:      []string{"WORKER_REDIS_BLOCKING_TIMEOUT"},
	HealthCheckInterval:  []string{"WORKER_REDIS_HEALTH_CHECK_INTERVAL"},
	RetryMaxAttempts:     []string{"WORKER_REDIS_RETRY_MAX_ATTEMPTS"},
	RetryInitialInterval: []string{"WORKER_REDIS_RETRY_INITIAL_INTERVAL"},
	RetryMaxInterval:     []string{"WORKER_REDIS_RETRY_MAX_INTERVAL"},
	RetryMaxElapsed:      []string{"WORKER_REDIS_RETRY_MAX_ELAPSED"},
}

// FromEnv returns preset overridden by the process environment's variables,
// with the preset's defaults filled in, validated. preset.Name
// chooses the variable names (the table in the package documentation): the
// API names for NameAPI or an empty Name, the Worker names for NameWorker;
// the other preset's names are ignored. A variable that is unset or empty is
// ignored.
//
// Sizes are whole numbers greater than zero. Durations are seconds, whole or
// fractional ("30", "0.5"), or Go durations ("30s", "1m30s"), greater than
// zero. REDIS_TLS is true/false, 1/0, yes/no or on/off. Address lists are
// comma separated "host:port" entries.
//
// Connection: REDIS_URL sets URL; REDIS_HOST and REDIS_PORT set Addr
// (REDIS_HOST may be a unix socket path starting with "/"; the one not set
// is taken from REDIS_URL when it is set, else from the preset's Addr, else
// from localhost:6379); REDIS_CLUSTER_ADDRS sets ClusterAddrs;
// REDIS_SENTINEL_ADDRS, REDIS_SENTINEL_MASTER, REDIS_SENTINEL_USERNAME and
// REDIS_SENTINEL_PASSWORD set the Sentinel fields; REDIS_USERNAME,
// REDIS_PASSWORD, REDIS_DB and REDIS_TLS set Username, Password, DB and
// TLS. When REDIS_URL, REDIS_HOST, REDIS_PORT, REDIS_CLUSTER_ADDRS or
// REDIS_SENTINEL_ADDRS is set, the preset's own target (URL, Addr,
// ClusterAddrs, Sentinel fields) is dropped; REDIS_URL also drops the
// preset's Username, Password, DB and TLS. Which of these fields may be
// combined, and how they must agree with the URL, are Validate's rules;
// besides values that do not parse, FromEnv itself refuses only what a
// Config cannot say: REDIS_TLS=false beside a rediss:// REDIS_URL, and
// REDIS_PORT beside a unix socket path (in REDIS_HOST or REDIS_URL).
//
// Every variable that cannot be read is reported, joined with errors.Join,
// each as an *EnvError naming the variable and its value (secrets
// redacted). When all can be read, the rules of Validate (the limiter larger
// than the pool, MaxBlocking not smaller than the limiter, a REDIS_USERNAME
// or REDIS_HOST that disagrees with REDIS_URL, two kinds of server, ...)
// are checked, and the first one broken is reported against a variable
// that set one of the fields involved, wrapping Validate's *ConfigError. A
// nil error means the returned Config passes Validate.
func FromEnv(preset Config) (Config, error) {
	return fromEnvLookup(preset, os.LookupEnv)
}

// fromEnvLookup is FromEnv reading the variables with lookup.
func fromEnvLookup(preset Config, lookup func(string) (string, bool)) (Config, error) {
	var names envNames
	switch preset.Name {
	case "", NameAPI:
		names = apiEnv
	case NameWorker:
		names = workerEnv
	default:
		return preset, preset.Validate()
	}
	r := &envReader{lookup: lookup, origin: map[string]*envVar{}}
	c := preset

	r.size(&c.PoolSize, "PoolSize", names.PoolSize...)
	r.size(&c.MaxConcurrentOps, "MaxConcurrentOps", names.MaxConcurrentOps...)
	r.size(&c.MaxBlocking, "MaxBlocking", names.MaxBlocking...)
	r.duration(&c.SocketTimeout, "SocketTimeout", names.SocketTimeout...)
	r.duration(&c.BlockingTimeout, "BlockingTimeout", names.BlockingTimeout...)
	r.duration(&c.HealthCheckInterval, "HealthCheckInterval", names.HealthCheckInterval...)
	r.duration(&c.KeepAliveIdle, "KeepAliveIdle", envKeepAliveIdle)
	r.duration(&c.KeepAliveInterval, "KeepAliveInterval", envKeepAliveIntvl)
	r.size(&c.KeepAliveCount, "KeepAliveCount", envKeepAliveCount)
	r.size(&c.Retry.MaxAttempts, "Retry.MaxAttempts", names.RetryMaxAttempts...)
	r.duration(&c.Retry.InitialInterval, "Retry.InitialInterval", names.RetryInitialInterval...)
	r.duration(&c.Retry.MaxInterval, "Retry.MaxInterval", names.RetryMaxInterval...)
	r.duration(&c.Retry.MaxElapsed, "Retry.MaxElapsed", names.RetryMaxElapsed...)

	r.connection(&c)

	if len(r.errs) == 0 {
		// Validate before the defaults are filled in, so that it knows which
		// limiter budgets were set and which are scaled to the pool.
		if err := c.Validate(); err != nil {
			r.errs = append(r.errs, r.blame(err))
		}
		c = c.withDefaults()
	}
	if len(r.errs) == 0 {
		return c, nil
	}
	// A value echoed in an error may still hold a password by accident
	// (REDIS_HOST set to the password, a password copied into a query):
	// redact every secret the environment or the preset holds.
	secrets := append(preset.secrets(), urlSecrets(r.value(envURL))...)
	secrets = append(secrets, r.value(envPassword), r.value(envSentinelPassword))
	for _, err := range r.errs {
		var ee *EnvError
		if errors.As(err, &ee) {
			ee.Value = redactAll(ee.Value, secrets...)
			ee.Reason = redactAll(ee.Reason, secrets...)
		}
		var ce *ConfigError
		if errors.As(err, &ce) {
			ce.Reason = redactAll(ce.Reason, secrets...)
		}
	}
	return preset, errors.Join(r.errs...)
}

// envVar is one variable that was set.
type envVar struct {
	name    string
	display string // value as it may be shown (secrets redacted)
}

type envReader struct {
	lookup func(string) (string, bool)
	errs   []error
	origin map[string]*envVar // Config field -> variable that set it
}

func (r *envReader) get(name string) (string, bool) {
	v, ok := r.lookup(name)
	if !ok || v == "" {
		return "", false
	}
	return v, true
}

func (r *envReader) value(name string) string {
	v, _ := r.get(name)
	return v
}

func (r *envReader) fail(name, value, format string, args ...any) {
	r.errs = append(r.errs, &EnvError{Var: name, Value: value, Reason: fmt.Sprintf(format, args...)})
}

// aliases reads every name, parses each set one with parse, and returns the
// first set variable and its value; aliases that disagree are an error.
func aliases[T comparable](r *envReader, parse func(string) (T, string), names ...string) (v T, from *envVar, ok bool) {
	for _, n := range names {
		raw, set := r.get(n)
		if !set {
			continue
		}
		pv, why := parse(raw)
		if why != "" {
			r.fail(n, raw, "%s", why)
			return v, nil, false
		}
		if from == nil {
			v, from = pv, &envVar{name: n, display: raw}
			continue
		}
		if pv != v {
			r.fail(n, raw, "disagrees with %s=%q (the two names are aliases)", from.name, from.display)
			return v, nil, false
		}
	}
	return v, from, from != nil
}

func (r *envReader) size(dst *int, field string, names ...string) {
	if v, from, ok := aliases(r, parseSize, names...); ok {
		*dst = v
		r.origin[field] = from
	}
}

func (r *envReader) duration(dst *time.Duration, field string, names ...string) {
	if v, from, ok := aliases(r, parseSeconds, names...); ok {
		*dst = v
		r.origin[field] = from
	}
}

// parseWhole parses a whole number; the second result is the reason it is
// not one.
func parseWhole(s string) (int, string) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, "out of range"
		}
		return 0, "not a whole number"
	}
	return n, ""
}

func parseSize(s string) (int, string) {
	n, why := parseWhole(s)
	if why != "" {
		return 0, why
	}
	if n <= 0 {
		return 0, "must be greater than zero"
	}
	return n, ""
}

// parseSeconds reads "30", "0.5" (seconds) or a Go duration ("30s", "1m").
func parseSeconds(s string) (time.Duration, string) {
	t := strings.TrimSpace(s)
	const bad = "not a number of seconds or a Go duration (30, 0.5, 30s, 1m)"
	var d time.Duration
	if strings.HasPrefix(t, "-") && isDecimal(t[1:]) {
		return 0, "must be greater than zero"
	}
	if isDecimal(t) {
		f, err := strconv.ParseFloat(t, 64)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return 0, "out of range"
			}
			return 0, bad
		}
		ns := f * float64(time.Second)
		if ns >= math.MaxInt64 {
			return 0, "out of range"
		}
		d = time.Duration(ns)
	} else {
		var err error
		d, err = time.ParseDuration(t)
		if err != nil {
			if looksLikeDuration(t) {
				return 0, "out of range"
			}
			return 0, bad
		}
	}
	if d <= 0 {
		return 0, "must be greater than zero"
	}
	return d, ""
}

// isDecimal reports whether s is digits with at most one '.', e.g. "30",
// "0.5", ".5", "30." (a plain number of seconds).
func isDecimal(s string) bool {
	digits, dots := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.':
			dots++
		default:
			return false
		}
	}
	return digits > 0 && dots <= 1
}

// looksLikeDuration reports whether s has the shape of a Go duration (an
// optional sign, then numbers each followed by a unit), so a ParseDuration
// failure on it means overflow.
func looksLikeDuration(s string) bool {
	s = strings.TrimLeft(s, "+-")
	if s == "" {
		return false
	}
	for s != "" {
		i := 0
		for i < len(s) && digitOrDot(s[i]) {
			i++
		}
		if !isDecimal(s[:i]) {
			return false
		}
		s = s[i:]
		j := 0
		for j < len(s) && !digitOrDot(s[j]) {
			j++
		}
		switch s[:j] {
		case "ns", "us", "µs", "μs", "ms", "s", "m", "h":
		default:
			return false
		}
		s = s[j:]
	}
	return true
}

// digitOrDot reports whether c can be part of a duration's number.
func digitOrDot(c byte) bool { return c >= '0' && c <= '9' || c == '.' }

func parseBool(s string) (bool, string) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "t", "true", "yes", "y", "on":
		return true, ""
	case "0", "f", "false", "no", "n", "off":
		return false, ""
	}
	return false, "not a boolean (true/false, 1/0, yes/no, on/off)"
}

// parseAddrList splits a comma separated list of host:port entries; empty
// entries (a trailing comma) are skipped.
func parseAddrList(s string) ([]string, string) {
	var out []string
	for _, a := range strings.Split(s, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if strings.HasPrefix(a, "/") {
			return nil, fmt.Sprintf("entry %q: a unix socket cannot be used here; want host:port", a)
		}
		if err := checkAddr(a); err != nil {
			return nil, fmt.Sprintf("entry %q: %s", a, err)
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, "no host:port entries"
	}
	return out, ""
}

// blame turns a Validate error into an *EnvError against a variable that set
// one of the fields involved; a rule the environment did not touch is
// returned as is.
func (r *envReader) blame(err error) error {
	var ce *ConfigError
	if !errors.As(err, &ce) {
		return err
	}
	for i, f := range []string{ce.Field, ce.Related} {
		v := r.origin[f]
		if p := r.origin[f+"."+ce.part]; i == 0 && ce.part != "" && p != nil {
			v = p // the variable that set the part at fault
		}
		if f != "" && v != nil {
			reason := ce.Reason
			if o := r.origin[ce.Related]; i == 0 && o != nil {
				// Both sides came from the environment: name the other one too.
				reason += fmt.Sprintf(" (%s is %s=%q)", ce.Related, o.name, o.display)
			} else if other := []string{ce.Related, ce.Field}[i]; connVars[other] != "" {
				// The other side is unset: say which variable sets it.
				reason += fmt.Sprintf(" (%s is read from %s)", other, connVars[other])
			}
			return &EnvError{Var: v.name, Value: v.display, Reason: reason, Err: ce}
		}
	}
	return err
}
