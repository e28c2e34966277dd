package health

import (
	"reflect"
	"testing"
)

func TestParseInfoReadsFiguresAcrossSections(t *testing.T) {
	text := "# Server\r\nredis_version:7.0.15\r\n\r\n" +
		"# Clients\r\nconnected_clients:12\r\ncluster_connections:0\r\nmaxclients:10000\r\n" +
		"client_recent_max_input_buffer:20480\r\nblocked_clients:3\r\n\r\n" +
		"# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\nmaxmemory:0\r\n\r\n" +
		"# Stats\r\ntotal_connections_received:40\r\nrejected_connections:7\r\n"
	got := parseInfo(text)
	want := ServerFigures{
		ConnectedClients:    12,
		BlockedClients:      3,
		MaxClients:          10000,
		RejectedConnections: 7,
		UsedMemory:          1048576,
		MaxMemory:           0,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parseInfo:\n got %+v\nwant %+v", got, want)
	}
}

func TestParseInfoListsMissingAndUnreadableFields(t *testing.T) {
	// An older server without maxclients in INFO, LF line ends, and a
	// figure that is not an integer.
	got := parseInfo("# Clients\nconnected_clients:2\nblocked_clients:x\n# Memory\nused_memory:10\nmaxmemory:5\n")
	want := []string{"blocked_clients", "maxclients", "rejected_connections"}
	if !reflect.DeepEqual(got.Missing, want) {
		t.Fatalf("Missing = %v, want %v", got.Missing, want)
	}
	if got.ConnectedClients != 2 || got.UsedMemory != 10 || got.MaxMemory != 5 || got.BlockedClients != 0 {
		t.Fatalf("figures = %+v", got)
	}
	if empty := parseInfo(""); len(empty.Missing) != len(infoFields) {
		t.Fatalf("empty INFO: Missing = %v", empty.Missing)
	}
}

func TestServerFiguresAddSumsAndUnitesMissing(t *testing.T) {
	a := ServerFigures{ConnectedClients: 1, BlockedClients: 2, MaxClients: 3, RejectedConnections: 4, UsedMemory: 5, MaxMemory: 6}
	b := ServerFigures{ConnectedClients: 10, BlockedClients: 20, MaxClients: 30, RejectedConnections: 40, UsedMemory: 50, MaxMemory: 60, Missing: []string{"maxclients"}}
	c := ServerFigures{Missing: []string{"maxclients", "used_memory"}}
	var sum ServerFigures
	sum.add(a)
	sum.add(b)
	sum.add(c)
	want := ServerFigures{ConnectedClients: 11, BlockedClients: 22, MaxClients: 33, RejectedConnections: 44, UsedMemory: 55, MaxMemory: 66,
		Missing: []string{"maxclients", "used_memory"}}
	if !reflect.DeepEqual(sum, want) {
		t.Fatalf("sum:\n got %+v\nwant %+v", sum, want)
	}
}

func TestParseRole(t *testing.T) {
	for _, tc := range []struct {
		text, role, master string
	}{
		{"# Replication\r\nrole:master\r\nconnected_slaves:1\r\n", "master", ""},
		{"# Replication\r\nrole:slave\r\nmaster_host:10.0.0.7\r\nmaster_port:6380\r\nmaster_link_status:down\r\n", "replica", "10.0.0.7:6380"},
		{"# Replication\nrole:slave\nmaster_host:::1\nmaster_port:7000\n", "replica", "[::1]:7000"},
		{"# Server\r\nredis_version:7.0.15\r\n", "", ""},
	} {
		role, master := parseRole(tc.text)
		if role != tc.role || master != tc.master {
			t.Errorf("parseRole(%q) = %q, %q; want %q, %q", tc.text, role, master, tc.role, tc.master)
		}
	}
}
