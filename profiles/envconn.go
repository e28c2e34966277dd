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

// connection applies the connection variables to c.
func (r *envReader) connection(c *Config) {
	e := r.readConn()
	if r.conflicts(e) {
		return
	}
	presetAddr := c.Addr
	if e.hasURL || e.hasHost || e.hasPort || e.hasCluster || e.hasSentinel {
		c.URL, c.Addr, c.ClusterAddrs = "", "", nil
		c.SentinelAddrs, c.SentinelMaster, c.SentinelUsername, c.SentinelPassword = nil, "", "", ""
	}
	var ok bool
	switch {
	case e.hasURL:
		ok = r.applyURL(c, e)
	case e.hasHost || e.hasPort:
		ok = r.applyHostPort(c, e, presetAddr)
	case e.hasCluster:
		ok = r.applyList(&c.ClusterAddrs, "ClusterAddrs", envClusterAddrs, e.cluster)
	case e.hasSentinel:
		ok = r.applyList(&c.SentinelAddrs, "SentinelAddrs", envSentinelAddrs, e.sentinel)
	default:
		ok = true
	}
	if !ok {
		return
	}
	// The Sentinel settings are applied whatever the target: Validate says
	// when one is set without the others.
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

// conflicts reports variables that name more than one kind of server; it
// returns true when the target is ambiguous.
func (r *envReader) conflicts(e *connEnv) bool {
	var kinds []string
	if e.hasURL {
		kinds = append(kinds, envURL)
	}
	if e.hasHost {
		kinds = append(kinds, envHost)
	} else if e.hasPort {
		kinds = append(kinds, envPort)
	}
	if e.hasCluster {
		kinds = append(kinds, envClusterAddrs)
	}
	if e.hasSentinel {
		kinds = append(kinds, envSentinelAddrs)
	}
	// REDIS_URL with REDIS_HOST/PORT is allowed when they agree (applyURL).
	conflict := false
	for i := 0; i < len(kinds); i++ {
		for j := i + 1; j < len(kinds); j++ {
			a, b := kinds[i], kinds[j]
			if a == envURL && (b == envHost || b == envPort) {
				continue
			}
			r.fail(b, r.display(b), "cannot be combined with %s: name one kind of server (single, cluster or sentinel)", a)
			conflict = true
		}
	}
	return conflict
}

// applyURL sets c.URL from REDIS_URL, drops the preset's credentials, and
// checks that REDIS_HOST and REDIS_PORT agree with the URL. It returns
// false when the URL does not parse.
func (r *envReader) applyURL(c *Config, e *connEnv) bool {
	u, err := parseURL(e.rawURL)
	if err != nil {
		var ue *urlError
		if errors.As(err, &ue) {
			r.errs = append(r.errs, &EnvError{Var: envURL, Value: ue.url, Reason: ue.reason})
		}
		return false
	}
	c.URL = e.rawURL
	r.origin["URL"] = &envVar{envURL, RedactURL(e.rawURL)}
	c.Username, c.Password, c.DB, c.TLS = "", "", 0, false
	if e.hasHost {
		urlHost := u.host
		if u.opts.Network == "unix" {
			urlHost = u.opts.Addr
		}
		if !strings.EqualFold(strings.Trim(e.host, "[]"), urlHost) {
			r.fail(envHost, e.host, "disagrees with the host of %s (%q)", envURL, urlHost)
		}
	}
	if e.hasPort && e.port != u.port {
		if u.opts.Network == "unix" {
			r.fail(envPort, e.port, "set with a unix:// %s", envURL)
		} else {
			r.fail(envPort, e.port, "disagrees with the port of %s (%s)", envURL, u.port)
		}
	}
	// REDIS_USERNAME, REDIS_PASSWORD, REDIS_DB and REDIS_TLS=true are
	// applied below; Validate checks them against the URL. Only an explicit
	// REDIS_TLS=false, which a Config cannot say, is checked here.
	if e.hasTLS && !e.useTLS && u.opts.TLSConfig != nil {
		r.fail(envTLS, e.tlsRaw, "disagrees with the scheme of %s (TLS is true)", envURL)
	}
	e.hasTLS = e.hasTLS && e.useTLS // false: the scheme decides
	return true
}

// applyHostPort sets c.Addr from REDIS_HOST and REDIS_PORT; the one not
// set comes from presetAddr (or the default address).
func (r *envReader) applyHostPort(c *Config, e *connEnv, presetAddr string) bool {
	h, p, _ := net.SplitHostPort(defaultAddr)
	if ph, pp, err := net.SplitHostPort(presetAddr); err == nil {
		h, p = ph, pp
	}
	if e.hasHost {
		h = strings.Trim(e.host, "[]")
	}
	if e.hasPort {
		p = e.port
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
	return true
}

// applyList sets *dst (the Config field called field) from the address list
// in the variable name.
func (r *envReader) applyList(dst *[]string, field, name, raw string) bool {
	addrs, why := parseAddrList(raw)
	if why != "" {
		r.fail(name, raw, "%s", why)
		return false
	}
	*dst = addrs
	r.origin[field] = &envVar{name, raw}
	return true
}
