package health

import (
	"net"
	"strconv"
	"strings"
)

// ServerFigures are the server's own figures, read from INFO's clients,
// memory and stats sections. The monitor sends a plain INFO (the default
// sections, a few kilobytes) because INFO with several section names needs
// Redis 7. On a cluster or ring the report's figures are sums over the
// nodes that answered, and each node's own figures are in Report.Nodes.
type ServerFigures struct {
	// ConnectedClients is INFO connected_clients: client connections open
	// on the server, from every client, not only this one.
	ConnectedClients int64 `json:"connected_clients"`
	// BlockedClients is INFO blocked_clients: clients waiting in a blocking
	// command (BLPOP, XREAD BLOCK, WAIT, ...).
	BlockedClients int64 `json:"blocked_clients"`
	// MaxClients is INFO maxclients: the most connections the server
	// accepts.
	MaxClients int64 `json:"maxclients"`
	// RejectedConnections is INFO rejected_connections: connections refused
	// because maxclients was reached, since the server started.
	RejectedConnections int64 `json:"rejected_connections"`
	// UsedMemory is INFO used_memory in bytes.
	UsedMemory int64 `json:"used_memory"`
	// MaxMemory is INFO maxmemory in bytes; 0 means no limit.
	MaxMemory int64 `json:"maxmemory"`
	// Missing names the figures above that the server did not report (an
	// older server, or a proxy that filters INFO); their values are 0.
	Missing []string `json:"missing,omitempty"`
}

// infoFields maps INFO field names to the figure they fill.
var infoFields = []struct {
	name string
	dst  func(*ServerFigures) *int64
}{
	{"connected_clients", func(s *ServerFigures) *int64 { return &s.ConnectedClients }},
	{"blocked_clients", func(s *ServerFigures) *int64 { return &s.BlockedClients }},
	{"maxclients", func(s *ServerFigures) *int64 { return &s.MaxClients }},
	{"rejected_connections", func(s *ServerFigures) *int64 { return &s.RejectedConnections }},
	{"used_memory", func(s *ServerFigures) *int64 { return &s.UsedMemory }},
	{"maxmemory", func(s *ServerFigures) *int64 { return &s.MaxMemory }},
}

// parseInfo reads the figures out of an INFO reply: "# Section" headers,
// "field:value" lines separated by CRLF (LF accepted). Unknown fields are
// ignored; a known field that is absent or not an integer is listed in
// Missing.
func parseInfo(text string) ServerFigures {
	var s ServerFigures
	found := make([]bool, len(infoFields))
	for len(text) > 0 {
		line := text
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			text = ""
		}
		line = strings.TrimRight(line, "\r")
		if line == "" || line[0] == '#' {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		for i, f := range infoFields {
			if f.name != name {
				continue
			}
			if n, err := strconv.ParseInt(value, 10, 64); err == nil {
				*f.dst(&s) = n
				found[i] = true
			}
			break
		}
	}
	for i, f := range infoFields {
		if !found[i] {
			s.Missing = append(s.Missing, f.name)
		}
	}
	return s
}

// add adds o's figures into s; Missing becomes the union of both.
func (s *ServerFigures) add(o ServerFigures) {
	s.ConnectedClients += o.ConnectedClients
	s.BlockedClients += o.BlockedClients
	s.MaxClients += o.MaxClients
	s.RejectedConnections += o.RejectedConnections
	s.UsedMemory += o.UsedMemory
	s.MaxMemory += o.MaxMemory
	for _, m := range o.Missing {
		if !containsString(s.Missing, m) {
			s.Missing = append(s.Missing, m)
		}
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// The roles NodeFigures.Role reports.
const (
	roleMaster  = "master"
	roleReplica = "replica"
)

// parseRole reads a node's role, and a replica's master address, from an
// INFO reply's replication section; both are empty when it has none.
func parseRole(text string) (role, master string) {
	var host, port string
	for _, line := range strings.Split(text, "\n") {
		name, value, ok := strings.Cut(strings.TrimRight(line, "\r"), ":")
		if !ok {
			continue
		}
		switch name {
		case "role":
			role = value
		case "master_host":
			host = value
		case "master_port":
			port = value
		}
	}
	switch role {
	case "master":
		return roleMaster, ""
	case "slave":
		if host != "" && port != "" {
			master = net.JoinHostPort(host, port)
		}
		return roleReplica, master
	}
	return "", ""
}
