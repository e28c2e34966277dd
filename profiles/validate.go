package profiles

import (
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redisguard/redisguard/hooks"
)

// Validate reports the first setting that cannot work, as a *ConfigError:
// an unknown Name; negative sizes or durations; a PoolSize below 2 (the
// limiter needs two slots); MaxConcurrentOps below 2 or larger than
// PoolSize; MaxBlocking not smaller than MaxConcurrentOps; keepalive values
// beyond what the kernel accepts; a malformed URL or address; more than one
// kind of server (a single server: URL, Addr or both; ClusterAddrs;
// SentinelAddrs), reported on the second kind; Sentinels without a master
// name; a URL that disagrees with Addr (its host or port), Username,
// Password, DB or TLS; a non-zero DB on a cluster; a retry budget that
// hooks.NewRetry refuses (Field "Retry.Budget", the reason naming the
// budget's field). Zero fields are checked with the preset's defaults in
// their place.
func (c Config) Validate() error {
	_, err := c.resolve()
	return err
}

// resolve checks c and resolves it, once, into the value the options
// builders, the dialer and the hooks read: c with its preset's defaults,
// and its connection (the URL parsed, the TLS configuration chosen). Its
// errors are Validate's.
func (c Config) resolve() (*resolved, error) {
	if testHook != nil {
		testHook("resolve")
	}
	r, err := c.check()
	var ce *ConfigError
	if errors.As(err, &ce) {
		// A field echoed in a reason (an address, a user name) may hold a
		// password by accident.
		ce.Reason = redactAll(ce.Reason, c.secrets()...)
	}
	return r, err
}

// secrets lists the passwords c holds, in every form they may be printed.
func (c Config) secrets() []string {
	return append(urlSecrets(c.URL), c.Password, c.SentinelPassword)
}

func (c Config) check() (*resolved, error) {
	if _, ok := c.preset(); !ok {
		return nil, fieldErr("Name", "", "unknown preset %q (want %q or %q)", c.Name, NameAPI, NameWorker)
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"PoolSize", c.PoolSize}, {"MaxConcurrentOps", c.MaxConcurrentOps}, {"MaxBlocking", c.MaxBlocking},
		{"KeepAliveCount", c.KeepAliveCount}, {"Retry.MaxAttempts", c.Retry.MaxAttempts}, {"DB", c.DB},
	} {
		if f.v < 0 {
			return nil, fieldErr(f.name, "", "%d is negative", f.v)
		}
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{
		{"SocketTimeout", c.SocketTimeout}, {"BlockingTimeout", c.BlockingTimeout},
		{"HealthCheckInterval", c.HealthCheckInterval}, {"KeepAliveIdle", c.KeepAliveIdle},
		{"KeepAliveInterval", c.KeepAliveInterval}, {"Retry.InitialInterval", c.Retry.InitialInterval},
		{"Retry.MaxInterval", c.Retry.MaxInterval}, {"Retry.MaxElapsed", c.Retry.MaxElapsed},
		{"Retry.Deadline", c.Retry.Deadline}, {"Retry.AttemptTimeout", c.Retry.AttemptTimeout},
		{"BreakerOpenTimeout", c.BreakerOpenTimeout},
	} {
		if f.v < 0 {
			return nil, fieldErr(f.name, "", "%s is negative", f.v)
		}
	}

	switch c.Retry.OpenCircuit {
	case "", OpenCircuitFail, OpenCircuitWait:
	default:
		return nil, fieldErr("Retry.OpenCircuit", "", "%q: want %q or %q", c.Retry.OpenCircuit, OpenCircuitFail, OpenCircuitWait)
	}

	d := c.withDefaults()
	if d.PoolSize > math.MaxInt32 {
		return nil, fieldErr("PoolSize", "", "%d is larger than go-redis accepts (%d)", d.PoolSize, math.MaxInt32)
	}
	if err := c.validateBudgets(d); err != nil {
		return nil, err
	}
	if d.KeepAliveIdle > maxKeepAliveSeconds*time.Second {
		return nil, fieldErr("KeepAliveIdle", "", "%s is more than the kernel accepts (%ds)", d.KeepAliveIdle, maxKeepAliveSeconds)
	}
	if d.KeepAliveInterval > maxKeepAliveSeconds*time.Second {
		return nil, fieldErr("KeepAliveInterval", "", "%s is more than the kernel accepts (%ds)", d.KeepAliveInterval, maxKeepAliveSeconds)
	}
	if d.KeepAliveCount > maxKeepAliveCount {
		return nil, fieldErr("KeepAliveCount", "", "%d is more than the kernel accepts (%d)", d.KeepAliveCount, maxKeepAliveCount)
	}
	if d.Retry.MaxInterval < d.Retry.InitialInterval {
		return nil, fieldErr("Retry.MaxInterval", "Retry.InitialInterval",
			"Retry.MaxInterval %s is smaller than Retry.InitialInterval %s", d.Retry.MaxInterval, d.Retry.InitialInterval)
	}
	if !d.Retry.NoBudget {
		// The rules are the hook's; its error names the field.
		if _, err := hooks.NewRetry(hooks.RetryOptions{Budget: &d.Retry.Budget}); err != nil {
			return nil, fieldErr("Retry.Budget", "", "%s", strings.TrimPrefix(err.Error(), "hooks: retry: "))
		}
	}
	ci, err := c.conn()
	if err != nil {
		return nil, err
	}
	return &resolved{cfg: d, conn: ci}, nil
}

// validateBudgets checks the limiter budgets of d, which is c with its
// defaults. A budget c leaves at zero is scaled and always fits; the errors
// name the budgets c sets, with both numbers.
func (c Config) validateBudgets(d Config) error {
	if c.MaxConcurrentOps == 0 && d.PoolSize < 2 {
		return fieldErr("PoolSize", "",
			"PoolSize %d leaves no room for the limiter: it needs 2 connections, one for blocking commands and one always for short ones",
			d.PoolSize)
	}
	if d.MaxConcurrentOps < 2 {
		return fieldErr("MaxConcurrentOps", "",
			"MaxConcurrentOps %d is too small: the limiter needs 2 slots, one for blocking commands and one always for short ones",
			d.MaxConcurrentOps)
	}
	if r := poolRoom("MaxConcurrentOps", d.MaxConcurrentOps, d.PoolSize); r != "" {
		return &ConfigError{Field: "MaxConcurrentOps", Related: "PoolSize", Reason: r}
	}
	if d.MaxBlocking >= d.MaxConcurrentOps {
		if c.MaxConcurrentOps == 0 {
			// The limiter is the default for PoolSize: the pool is the other
			// side of the rule.
			num, den, _, _ := c.budgetShares()
			return fieldErr("MaxBlocking", "PoolSize",
				"MaxBlocking %d must be smaller than MaxConcurrentOps %d (the default for PoolSize %d: %d%% of the pool), or blocking commands could take every slot",
				d.MaxBlocking, d.MaxConcurrentOps, d.PoolSize, num*100/den)
		}
		return fieldErr("MaxBlocking", "MaxConcurrentOps",
			"MaxBlocking %d must be smaller than MaxConcurrentOps %d, or blocking commands could take every slot",
			d.MaxBlocking, d.MaxConcurrentOps)
	}
	return nil
}

// poolRoom is the rule between the limiter and the pool: ops commands in
// flight per node (the budget called name) need ops connections. It says
// why ops does not fit pool, or returns "".
func poolRoom(name string, ops, pool int) string {
	if ops <= pool {
		return ""
	}
	return fmt.Sprintf("%s %d is larger than PoolSize %d: commands would queue in the pool instead of the limiter",
		name, ops, pool)
}

// connInfo is the resolved connection part of a Config.
type connInfo struct {
	mode     Mode
	network  string // "tcp" or "unix" (single mode)
	addr     string // single mode
	username string
	password string
	db       int
	url      *urlInfo // nil without URL
	tls      *tls.Config
}

// conn resolves and checks the connection fields.
func (c Config) conn() (*connInfo, error) {
	ci := &connInfo{mode: c.Mode(), username: c.Username, password: c.Password, db: c.DB}
	if err := c.oneKind(); err != nil {
		return nil, err
	}
	switch ci.mode {
	case ModeCluster:
		if err := checkAddrs("ClusterAddrs", c.ClusterAddrs); err != nil {
			return nil, err
		}
		if c.DB != 0 {
			return nil, fieldErr("DB", "", "a cluster has only database 0, got %d", c.DB)
		}
	case ModeSentinel:
		if err := checkAddrs("SentinelAddrs", c.SentinelAddrs); err != nil {
			return nil, err
		}
		if strings.TrimSpace(c.SentinelMaster) == "" {
			return nil, fieldErr("SentinelMaster", "SentinelAddrs", "SentinelAddrs is set but SentinelMaster (the master name) is empty")
		}
	}
	if ci.mode != ModeSentinel {
		if c.SentinelMaster != "" {
			return nil, fieldErr("SentinelMaster", "SentinelAddrs", "SentinelMaster is set without SentinelAddrs")
		}
		if c.SentinelUsername != "" {
			return nil, fieldErr("SentinelUsername", "SentinelAddrs", "Sentinel credentials are set without SentinelAddrs")
		}
		if c.SentinelPassword != "" {
			return nil, fieldErr("SentinelPassword", "SentinelAddrs", "Sentinel credentials are set without SentinelAddrs")
		}
	}

	wantTLS := c.TLS || c.TLSConfig != nil
	if ci.mode == ModeSingle {
		switch {
		case c.URL != "":
			if err := c.connURL(ci, wantTLS); err != nil {
				return nil, err
			}
			wantTLS = wantTLS || ci.url.opts.TLSConfig != nil
		case c.Addr != "":
			if err := checkAddr(c.Addr); err != nil {
				return nil, fieldErr("Addr", "", "%q: %s", c.Addr, err)
			}
			ci.addr = c.Addr
			ci.network = "tcp"
			if strings.HasPrefix(c.Addr, "/") {
				ci.network = "unix"
			}
		default:
			ci.network, ci.addr = "tcp", defaultAddr
		}
	}
	if wantTLS {
		ci.tls = c.tlsConfig(ci.url)
	}
	return ci, nil
}

// oneKind checks that c names one kind of server: a single server (URL,
// Addr, or both), a cluster (ClusterAddrs) or Sentinels (SentinelAddrs).
// The error is on the second kind set, related to the first.
func (c Config) oneKind() error {
	var kinds []string
	switch {
	case c.URL != "":
		kinds = append(kinds, "URL")
	case c.Addr != "":
		kinds = append(kinds, "Addr")
	}
	if len(c.ClusterAddrs) > 0 {
		kinds = append(kinds, "ClusterAddrs")
	}
	if len(c.SentinelAddrs) > 0 {
		kinds = append(kinds, "SentinelAddrs")
	}
	if len(kinds) < 2 {
		return nil
	}
	err := fieldErr(kinds[1], kinds[0], "%s cannot be combined with %s: name one kind of server (single, cluster or sentinel)", kinds[1], kinds[0])
	if kinds[0] == "URL" {
		err.Reason += "; a URL names a single server: give credentials with Username/Password and TLS with TLS/TLSConfig"
	}
	return err
}

// connURL parses c.URL into ci and checks that Addr, Username, Password,
// DB and TLS agree with it; what the URL leaves out comes from them.
func (c Config) connURL(ci *connInfo, wantTLS bool) error {
	u, err := parseURL(c.URL)
	if err != nil {
		return &ConfigError{Field: "URL", Reason: err.Error()}
	}
	ci.url = u
	ci.network, ci.addr = u.opts.Network, u.opts.Addr
	if c.Addr != "" {
		if err := addrAgrees(c.Addr, u.opts.Addr); err != nil {
			return err
		}
	}
	if u.hasUser {
		if c.Username != "" && c.Username != u.opts.Username {
			return fieldErr("Username", "URL", "Username %q disagrees with the URL's user %q", c.Username, u.opts.Username)
		}
		ci.username = u.opts.Username
	}
	if u.hasPassword {
		if c.Password != "" && c.Password != u.opts.Password {
			return fieldErr("Password", "URL", "Password disagrees with the URL's password")
		}
		ci.password = u.opts.Password
	}
	if u.hasDB {
		if c.DB != 0 && c.DB != u.opts.DB {
			return fieldErr("DB", "URL", "DB %d disagrees with the URL's database %d", c.DB, u.opts.DB)
		}
		ci.db = u.opts.DB
	}
	if u.opts.TLSConfig == nil && wantTLS {
		return fieldErr("TLS", "URL", "TLS is on but the URL's scheme is not rediss://")
	}
	return nil
}

// tlsConfig returns the TLS configuration to dial with (a fresh copy), given
// the parsed URL if any: TLSConfig wins, then the URL's, then a default.
func (c Config) tlsConfig(u *urlInfo) *tls.Config {
	switch {
	case c.TLSConfig != nil:
		return c.TLSConfig.Clone()
	case u != nil && u.opts.TLSConfig != nil:
		return u.opts.TLSConfig.Clone()
	}
	return &tls.Config{MinVersion: tls.VersionTLS12}
}

func checkAddrs(field string, addrs []string) error {
	for _, a := range addrs {
		if strings.HasPrefix(a, "/") {
			return fieldErr(field, "", "%q: a unix socket cannot be used here; want host:port", a)
		}
		if err := checkAddr(a); err != nil {
			return fieldErr(field, "", "%q: %s", a, err)
		}
	}
	return nil
}

// checkAddr accepts "host:port" with a port in 1..65535, or a unix socket
// path starting with "/".
func checkAddr(a string) error {
	if strings.HasPrefix(a, "/") {
		return nil
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("not host:port")
	}
	if host == "" {
		return fmt.Errorf("empty host")
	}
	if strings.ContainsAny(host, " \t\r\n/@?#") {
		return fmt.Errorf("invalid host %q", host)
	}
	if err := checkPort(port); err != nil {
		return err
	}
	return nil
}

func checkPort(p string) error {
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q is not a number in 1..65535", p)
	}
	return nil
}

// addrAgrees checks that Addr names the URL's address urlAddr, host names
// compared case-insensitively. When both are host:port, the error says
// which part disagrees.
func addrAgrees(addr, urlAddr string) *ConfigError {
	if addr == urlAddr {
		return nil
	}
	h, p, err1 := net.SplitHostPort(addr)
	uh, up, err2 := net.SplitHostPort(urlAddr)
	switch {
	case err1 != nil || err2 != nil:
		return fieldErr("Addr", "URL", "Addr %q disagrees with the URL's address %q", addr, urlAddr)
	case !strings.EqualFold(h, uh):
		err := fieldErr("Addr", "URL", "Addr %q disagrees with the URL's host %q", addr, uh)
		err.part = "host"
		return err
	case p != up:
		err := fieldErr("Addr", "URL", "Addr %q disagrees with the URL's port %s", addr, up)
		err.part = "port"
		return err
	}
	return nil
}
