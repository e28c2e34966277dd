package profiles

import (
	"errors"
	"net"
	"strings"
)

// connEnv are the connection variables as read: each value, and whether it
// is set and usable (a value that did not parse is reported and then
// treated as unset).
type connEnv struct {
	rawURL, host, port, cluster, sentinel, master, sUser, sPass, user, pass, dbRaw, tlsRaw string

	hasURL, hasHost, hasPort, hasCluster, hasSentinel, hasMaster, hasSUser, hasSPass bool
	hasUser, hasPass, hasDB, hasTLS                                                  bool

	db     int
	useTLS bool
}

// connection applies the connection variables to c. It only maps them to
// fields: the rules between the fields (one kind of server, agreement with
// the URL) are Validate's.
func (r *envReader) connection(c *Config) {
	e := r.readConn()
	base := c.Addr // what REDIS_HOST or REDIS_PORT alone leaves unsaid
	if e.hasURL || e.hasHost || e.hasPort || e.hasCluster || e.hasSentinel {
		c.URL, c.Addr, c.ClusterAddrs = "", "", nil
		c.SentinelAddrs, c.SentinelMaster, c.SentinelUsername, c.SentinelPassword = nil, "", "", ""
	}
	if e.hasURL {
		if u := r.applyURL(c, e); u != nil {
			base = u.opts.Addr
			if u.opts.Network == "unix" && e.hasPort && !e.hasHost {
				r.fail(envPort, e.port, "set with a unix:// %s", envURL)
				e.hasPort = false
			}
		}
	}
	if e.hasHost || e.hasPort {
		r.applyHostPort(c, e, base)
	}
	if e.hasCluster {
		r.applyList(&c.ClusterAddrs, "ClusterAddrs", envClusterAddrs, e.cluster)
	}
	if e.hasSentinel {
		r.applyList(&c.SentinelAddrs, "SentinelAddrs", envSentinelAddrs, e.sentinel)
	}
	r.setString(&c.SentinelMaster, "SentinelMaster", envSentinelMaster, strings.TrimSpace(e.master), e.master, e.hasMaster)
	r.setString(&c.SentinelUsername, "SentinelUsername", envSentinelUsername, e.sUser, e.sUser, e.hasSUser)
	r.setString(&c.SentinelPassword, "SentinelPassword", envSentinelPassword, e.sPass, redacted, e.hasSPass)
	r.setString(&c.Username, "Username", envUsername, e.user, e.user, e.hasUser)
	r.setString(&c.Password, "Password", envPassword, e.pass, redacted, e.hasPass)
	if e.hasDB {
		c.DB = e.db
		r.origin["DB"] = &envVar{envDB, e.dbRaw}
	}
	if e.hasTLS {
		c.TLS = e.useTLS
		r.origin["TLS"] = &envVar{envTLS, e.tlsRaw}
	}
}

// setString sets *dst (the Config field called field) to v when the
// variable name was set; display is its value as it may be shown.
func (r *envReader) setString(dst *string, field, name, v, display string, set bool) {
	if set {
		*dst = v
		r.origin[field] = &envVar{name, display}
	}
}

// readConn reads the connection variables and parses the simple ones.
func (r *envReader) readConn() *connEnv {
	e := &connEnv{}
	e.rawURL, e.hasURL = r.get(envURL)
	e.host, e.hasHost = r.get(envHost)
	e.port, e.hasPort = r.get(envPort)
	e.cluster, e.hasCluster = r.get(envClusterAddrs)
	e.sentinel, e.hasSentinel = r.get(envSentinelAddrs)
	e.master, e.hasMaster = r.get(envSentinelMaster)
	e.sUser, e.hasSUser = r.get(envSentinelUsername)
	e.sPass, e.hasSPass = r.get(envSentinelPassword)
	e.user, e.hasUser = r.get(envUsername)
	e.pass, e.hasPass = r.get(envPassword)
	e.dbRaw, e.hasDB = r.get(envDB)
	e.tlsRaw, e.hasTLS = r.get(envTLS)

	if e.hasDB {
		n, why := parseWhole(e.dbRaw)
		if why == "" && n < 0 {
			why = "must not be negative"
		}
		if why != "" {
			r.fail(envDB, e.dbRaw, "%s", why)
			e.hasDB = false
		}
		e.db = n
	}
	if e.hasTLS {
		var why string
		if e.useTLS, why = parseBool(e.tlsRaw); why != "" {
			r.fail(envTLS, e.tlsRaw, "%s", why)
			e.hasTLS = false
		}
	}
	if e.hasPort {
		if err := checkPort(strings.TrimSpace(e.port)); err != nil {
			r.fail(envPort, e.port, "not a port number (1..65535)")
			e.hasPort = false
		}
		e.port = strings.TrimSpace(e.port)
	}
	if e.hasHost {
		r.readHost(e)
	}
	return e
}

// readHost checks REDIS_HOST (and REDIS_PORT beside a unix socket path).
func (r *envReader) readHost(e *connEnv) {
	e.host = strings.TrimSpace(e.host)
	switch {
	case strings.Contains(e.host, "://"):
		r.fail(envHost, e.host, "looks like a URL; put URLs in %s", envURL)
		e.hasHost = false
	case strings.HasPrefix(e.host, "/"):
		if e.hasPort {
			r.fail(envPort, e.port, "set together with a unix socket path in %s", envHost)
			e.hasPort = false
		}
	default:
		if _, _, err := net.SplitHostPort(e.host); err == nil {
			r.fail(envHost, e.host, "includes a port; put it in %s", envPort)
			e.hasHost = false
		} else if e.host == "" || strings.ContainsAny(e.host, " \t\r\n/@?#") {
			r.fail(envHost, e.host, "not a host name or address")
			e.hasHost = false
		}
	}
}

// applyURL sets c.URL from REDIS_URL and drops the preset's credentials.
// It returns the parsed URL, or nil when it does not parse.
func (r *envReader) applyURL(c *Config, e *connEnv) *urlInfo {
	u, err := parseURL(e.rawURL)
	if err != nil {
		var ue *urlError
		if errors.As(err, &ue) {
			r.errs = append(r.errs, &EnvError{Var: envURL, Value: ue.url, Reason: ue.reason})
		}
		return nil
	}
	c.URL = e.rawURL
	r.origin["URL"] = &envVar{envURL, RedactURL(e.rawURL)}
	c.Username, c.Password, c.DB, c.TLS = "", "", 0, false
	// An explicit REDIS_TLS=false, which a Config cannot say, is checked
	// here; REDIS_TLS=true is applied, and Validate checks it.
	if e.hasTLS && !e.useTLS && u.opts.TLSConfig != nil {
		r.fail(envTLS, e.tlsRaw, "disagrees with the scheme of %s (TLS is true)", envURL)
	}
	e.hasTLS = e.hasTLS && e.useTLS // false: the scheme decides
	return u
}

// applyHostPort sets c.Addr from REDIS_HOST and REDIS_PORT; the one not
// set comes from base (the address of REDIS_URL, else the preset's Addr),
// or from the default address when base is not host:port.
func (r *envReader) applyHostPort(c *Config, e *connEnv, base string) {
	h, p, _ := net.SplitHostPort(defaultAddr)
	if bh, bp, err := net.SplitHostPort(base); err == nil {
		h, p = bh, bp
	}
	if e.hasHost {
		h = strings.Trim(e.host, "[]")
	}
	if e.hasPort {
		p = e.port
		// Validate names the part of Addr that disagrees with the URL.
		r.origin["Addr.port"] = &envVar{envPort, e.port}
	}
	if strings.HasPrefix(h, "/") {
		c.Addr = h
	} else {
		c.Addr = net.JoinHostPort(h, p)
	}
	from := &envVar{envHost, e.host}
	if !e.hasHost {
		from = &envVar{envPort, e.port}
	}
	r.origin["Addr"] = from
}

// applyList sets *dst (the Config field called field) from the address list
// in the variable name.
func (r *envReader) applyList(dst *[]string, field, name, raw string) {
	addrs, why := parseAddrList(raw)
	if why != "" {
		r.fail(name, raw, "%s", why)
		return
	}
	*dst = addrs
	r.origin[field] = &envVar{name, raw}
}
