package profiles

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
)

// redacted is what a secret is printed as.
const redacted = "xxxxx"

func redact(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}

// String describes c on one line with passwords redacted, e.g.
// "profiles.Config{Name:api Mode:single Addr:localhost:6379 ...}".
func (c Config) String() string {
	var b strings.Builder
	b.WriteString("profiles.Config{")
	fmt.Fprintf(&b, "Name:%s Mode:%s", c.Name, c.Mode())
	if c.URL != "" {
		fmt.Fprintf(&b, " URL:%s", RedactURL(c.URL))
	}
	if c.Addr != "" {
		fmt.Fprintf(&b, " Addr:%s", c.Addr)
	}
	if len(c.ClusterAddrs) > 0 {
		fmt.Fprintf(&b, " ClusterAddrs:%s", strings.Join(c.ClusterAddrs, ","))
	}
	if len(c.SentinelAddrs) > 0 {
		fmt.Fprintf(&b, " SentinelAddrs:%s SentinelMaster:%s", strings.Join(c.SentinelAddrs, ","), c.SentinelMaster)
	}
	if c.SentinelUsername != "" || c.SentinelPassword != "" {
		fmt.Fprintf(&b, " SentinelUsername:%s SentinelPassword:%s", c.SentinelUsername, redact(c.SentinelPassword))
	}
	fmt.Fprintf(&b, " Username:%s Password:%s DB:%d TLS:%t", c.Username, redact(c.Password), c.DB, c.TLS || c.TLSConfig != nil)
	fmt.Fprintf(&b, " PoolSize:%d MaxConcurrentOps:%d MaxBlocking:%d", c.PoolSize, c.MaxConcurrentOps, c.MaxBlocking)
	fmt.Fprintf(&b, " SocketTimeout:%s BlockingTimeout:%s HealthCheckInterval:%s", c.SocketTimeout, c.BlockingTimeout, c.HealthCheckInterval)
	fmt.Fprintf(&b, " KeepAlive:%s/%s/%d", c.KeepAliveIdle, c.KeepAliveInterval, c.KeepAliveCount)
	fmt.Fprintf(&b, " BreakerOpenTimeout:%s", c.BreakerOpenTimeout)
	fmt.Fprintf(&b, " Retry:{MaxAttempts:%d InitialInterval:%s MaxInterval:%s MaxElapsed:%s Deadline:%s AttemptTimeout:%s OpenCircuit:%s Budget:%s}}",
		c.Retry.MaxAttempts, c.Retry.InitialInterval, c.Retry.MaxInterval, c.Retry.MaxElapsed,
		c.Retry.Deadline, c.Retry.AttemptTimeout, c.Retry.OpenCircuit, c.Retry.budgetString())
	return b.String()
}

// GoString is String, so %#v does not print the passwords either.
func (c Config) GoString() string { return c.String() }

// budgetString describes the retry budget: "off", or
// "{Ratio:0.1 MinPerSecond:10 Burst:100}".
func (r Retry) budgetString() string {
	if r.NoBudget {
		return "off"
	}
	return fmt.Sprintf("{Ratio:%g MinPerSecond:%g Burst:%d}", r.Budget.Ratio, r.Budget.MinPerSecond, r.Budget.Burst)
}

// MarshalJSON encodes c with the field names encoding/json gives a Config,
// passwords redacted as in String: Password and SentinelPassword as
// "xxxxx", URL through RedactURL. TLSConfig, which may hold private keys, is
// never encoded (its field is tagged json:"-"); TLS is true when it is set.
func (c Config) MarshalJSON() ([]byte, error) {
	type plain Config // the fields without the methods
	p := plain(c)
	p.URL = RedactURL(c.URL)
	p.Password = redact(c.Password)
	p.SentinelPassword = redact(c.SentinelPassword)
	p.TLS = c.TLS || c.TLSConfig != nil
	return json.Marshal(p)
}

// LogValue makes slog log c as a group of its settings, passwords redacted.
func (c Config) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("name", c.Name),
		slog.String("mode", c.Mode().String()),
	}
	if c.URL != "" {
		attrs = append(attrs, slog.String("url", RedactURL(c.URL)))
	}
	if c.Addr != "" {
		attrs = append(attrs, slog.String("addr", c.Addr))
	}
	if len(c.ClusterAddrs) > 0 {
		attrs = append(attrs, slog.String("cluster_addrs", strings.Join(c.ClusterAddrs, ",")))
	}
	if len(c.SentinelAddrs) > 0 {
		attrs = append(attrs,
			slog.String("sentinel_addrs", strings.Join(c.SentinelAddrs, ",")),
			slog.String("sentinel_master", c.SentinelMaster))
	}
	if c.SentinelUsername != "" || c.SentinelPassword != "" {
		attrs = append(attrs,
			slog.String("sentinel_username", c.SentinelUsername),
			slog.String("sentinel_password", redact(c.SentinelPassword)))
	}
	attrs = append(attrs,
		slog.String("username", c.Username),
		slog.String("password", redact(c.Password)),
		slog.Int("db", c.DB),
		slog.Bool("tls", c.TLS || c.TLSConfig != nil),
		slog.Int("max_connections", c.PoolSize),
		slog.Int("max_concurrent_ops", c.MaxConcurrentOps),
		slog.Int("max_blocking", c.MaxBlocking),
		slog.Duration("socket_timeout", c.SocketTimeout),
		slog.Duration("blocking_timeout", c.BlockingTimeout),
		slog.Duration("health_check_interval", c.HealthCheckInterval),
		slog.Duration("keepalive_idle", c.KeepAliveIdle),
		slog.Duration("keepalive_interval", c.KeepAliveInterval),
		slog.Int("keepalive_count", c.KeepAliveCount),
		slog.Duration("breaker_open_timeout", c.BreakerOpenTimeout),
		slog.Group("retry",
			slog.Int("max_attempts", c.Retry.MaxAttempts),
			slog.Duration("initial_interval", c.Retry.InitialInterval),
			slog.Duration("max_interval", c.Retry.MaxInterval),
			slog.Duration("max_elapsed", c.Retry.MaxElapsed),
			slog.Duration("deadline", c.Retry.Deadline),
			slog.Duration("attempt_timeout", c.Retry.AttemptTimeout),
			slog.String("open_circuit", c.Retry.OpenCircuit),
			slog.String("budget", c.Retry.budgetString())),
	)
	return slog.GroupValue(attrs...)
}
