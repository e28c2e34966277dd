package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// DefaultNodeTimeout is the cluster-node-timeout of a cluster whose
// ClusterConfig leaves NodeTimeout at zero.
const DefaultNodeTimeout = 3 * time.Second

// ClusterConfig describes a cluster to start.
type ClusterConfig struct {
	// Masters is the number of masters; Redis needs at least 3.
	Masters int
	// Replicas is the number of replicas of each master.
	Replicas int
	// NodeTimeout is the cluster-node-timeout: how long a master may not
	// answer before the others mark it failed and one of its replicas is
	// promoted. 0 means DefaultNodeTimeout.
	NodeTimeout time.Duration
	// PartialCoverage starts the nodes with cluster-require-full-coverage
	// no: while a failed master's slots have no one to serve them, the
	// nodes go on serving the other slots (and replicas, to READONLY
	// connections, their master's) instead of answering CLUSTERDOWN.
	PartialCoverage bool
}

// Cluster is a Redis Cluster made of servers owned by one test (or, from
// NewCluster, by a program that must Close it).
type Cluster struct {
	servers  []*Server
	masters  int
	replicas int // per master
}

// StartCluster starts masters*(1+replicasPerMaster) cluster-enabled servers
// with DefaultNodeTimeout; see StartClusterWith.
func StartCluster(t testing.TB, masters, replicasPerMaster int) *Cluster {
	t.Helper()
	return StartClusterWith(t, ClusterConfig{Masters: masters, Replicas: replicasPerMaster})
}

// StartClusterWith starts Masters*(1+Replicas) cluster-enabled servers,
// joins them with `redis-cli --cluster create --cluster-yes`, and returns
// once every node reports cluster_state:ok and agrees on the slot map, and
// every replica's link to its master is up. The servers are stopped in
// t.Cleanup.
func StartClusterWith(t testing.TB, cfg ClusterConfig) *Cluster {
	t.Helper()
	RequireServer(t)
	c, err := startCluster(cfg, func(args []string) (*Server, error) { return Start(t, args...), nil })
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	return c
}

// NewCluster is StartClusterWith for programs that have no testing.TB (the
// load scenarios): the servers run as StartServer's do, and the caller must
// Close the cluster.
func NewCluster(cfg ClusterConfig) (*Cluster, error) {
	if _, err := exec.LookPath("redis-cli"); err != nil {
		return nil, fmt.Errorf("redistest: redis-cli not found on PATH; %s", InstallHint)
	}
	var started []*Server
	c, err := startCluster(cfg, func(args []string) (*Server, error) {
		s, err := StartServer(args...)
		if err == nil {
			started = append(started, s)
		}
		return s, err
	})
	if err != nil {
		for _, s := range started {
			s.Close()
		}
		return nil, fmt.Errorf("redistest: %w", err)
	}
	return c, nil
}

// Close stops every server of a cluster made by NewCluster and removes
// their directories; on one made by StartClusterWith it only stops them.
func (c *Cluster) Close() {
	for _, s := range c.servers {
		s.Close()
	}
}

func startCluster(cfg ClusterConfig, start func(args []string) (*Server, error)) (*Cluster, error) {
	if cfg.Masters < 3 {
		return nil, fmt.Errorf("a cluster needs at least 3 masters, got %d", cfg.Masters)
	}
	if cfg.Replicas < 0 {
		return nil, fmt.Errorf("negative replicas per master: %d", cfg.Replicas)
	}
	if cfg.NodeTimeout < 0 {
		return nil, fmt.Errorf("negative node timeout: %s", cfg.NodeTimeout)
	}
	timeout := cfg.NodeTimeout
	if timeout == 0 {
		timeout = DefaultNodeTimeout
	}
	coverage := "yes"
	if cfg.PartialCoverage {
		coverage = "no"
	}
	n := cfg.Masters * (1 + cfg.Replicas)
	c := &Cluster{masters: cfg.Masters, replicas: cfg.Replicas}
	for i := 0; i < n; i++ {
		s, err := start([]string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", strconv.FormatInt(timeout.Milliseconds(), 10),
			"--cluster-require-full-coverage", coverage,
		})
		if err != nil {
			return nil, err
		}
		c.servers = append(c.servers, s)
	}
	args := []string{"--cluster", "create"}
	args = append(args, c.Addrs()...)
	args = append(args, "--cluster-replicas", strconv.Itoa(cfg.Replicas), "--cluster-yes")
	// redis-cli waits for the nodes to join with no bound of its own.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := poll(30*time.Second, c.ready); err != nil {
		return nil, fmt.Errorf("cluster not ready: %w", err)
	}
	return c, nil
}

// Addrs lists every node's address, in the order the servers were started
// (redis-cli makes the first Masters of them masters).
func (c *Cluster) Addrs() []string {
	a := make([]string, len(c.servers))
	for i, s := range c.servers {
		a[i] = s.Addr()
	}
	return a
}

// Servers lists every node's server, in the order of Addrs.
func (c *Cluster) Servers() []*Server { return c.servers }

// Server returns the cluster's server at addr, or nil.
func (c *Cluster) Server(addr string) *Server {
	for _, s := range c.servers {
		if s.Addr() == addr {
			return s
		}
	}
	return nil
}

// KeySlot returns key's hash slot, as the first node that answers computes
// it (CLUSTER KEYSLOT).
func (c *Cluster) KeySlot(key string) (int, error) {
	var err error
	for _, s := range c.servers {
		var r string
		if r, err = Do(s.Addr(), time.Second, "CLUSTER", "KEYSLOT", key); err == nil {
			return strconv.Atoi(r)
		}
	}
	return 0, err
}

// MasterOf returns the address of the master a node replicates, as the node
// itself reports it (INFO replication), and "" for a master.
func MasterOf(addr string) (string, error) {
	info, err := Do(addr, time.Second, "INFO", "replication")
	if err != nil {
		return "", err
	}
	f := infoFields(info)
	switch f["role"] {
	case "master":
		return "", nil
	case "slave":
		return net.JoinHostPort(f["master_host"], f["master_port"]), nil
	default:
		return "", fmt.Errorf("%s: no role in INFO replication", addr)
	}
}

// SlotOwner returns the address of the master that serves slot according
// to the node at addr (CLUSTER SHARDS is Redis 7; CLUSTER NODES is read
// instead, so any cluster version answers).
func SlotOwner(addr string, slot int) (string, error) {
	nodes, err := Do(addr, time.Second, "CLUSTER", "NODES")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(nodes, "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || !hasFlag(f[2], "master") || hasFlag(f[2], "fail") {
			continue
		}
		for _, r := range f[8:] {
			lo, hi, found := strings.Cut(r, "-")
			if !found {
				hi = lo
			}
			a, errA := strconv.Atoi(lo)
			b, errB := strconv.Atoi(hi)
			if errA != nil || errB != nil { // an importing or migrating mark
				continue
			}
			if slot >= a && slot <= b {
				host, _, _ := strings.Cut(f[1], "@") // ip:port@cport[,hostname]
				return host, nil
			}
		}
	}
	return "", errors.New("no live master serves the slot")
}

// WaitPromoted waits up to limit until every node still running (not
// killed) agrees
// that slot is served by a live master other than dead, and the cluster
// state is ok on each, and returns that master's address.
func (c *Cluster) WaitPromoted(dead string, slot int, limit time.Duration) (string, error) {
	var owner string
	err := poll(limit, func() (bool, string) {
		owner = ""
		for _, s := range c.servers {
			if s.Addr() == dead || !s.running() {
				continue
			}
			info, err := Do(s.Addr(), time.Second, "CLUSTER", "INFO")
			if err != nil {
				return false, fmt.Sprintf("%s: %v", s.Addr(), err)
			}
			if !strings.Contains(info, "cluster_state:ok\r\n") {
				return false, s.Addr() + ": cluster_state is not ok"
			}
			o, err := SlotOwner(s.Addr(), slot)
			if err != nil {
				return false, fmt.Sprintf("%s: %v", s.Addr(), err)
			}
			if o == dead || (owner != "" && o != owner) {
				return false, fmt.Sprintf("%s: slot %d served by %s", s.Addr(), slot, o)
			}
			owner = o
		}
		return true, ""
	})
	return owner, err
}

// Heal restarts every node that was killed (each comes back with its
// nodes.conf and rejoins, a failed-over master as a replica of the node
// that took its place) and waits up to limit until the cluster is ready
// again, as StartClusterWith left it.
func (c *Cluster) Heal(limit time.Duration) error {
	for _, s := range c.servers {
		if !s.running() {
			if err := s.restart(); err != nil {
				return err
			}
		}
	}
	return poll(limit, c.ready)
}

func (c *Cluster) ready() (bool, string) {
	want := []string{
		"cluster_state:ok",
		"cluster_slots_assigned:16384",
		"cluster_slots_ok:16384",
		"cluster_known_nodes:" + strconv.Itoa(len(c.servers)),
	}
	for _, s := range c.servers {
		info, err := Do(s.Addr(), time.Second, "CLUSTER", "INFO")
		if err != nil {
			return false, fmt.Sprintf("%s: %v", s.Addr(), err)
		}
		for _, w := range want {
			if !strings.Contains(info, w+"\r\n") {
				return false, fmt.Sprintf("%s: no %q in CLUSTER INFO", s.Addr(), w)
			}
		}
		repl, err := Do(s.Addr(), time.Second, "INFO", "replication")
		if err != nil {
			return false, fmt.Sprintf("%s: %v", s.Addr(), err)
		}
		if f := infoFields(repl); f["role"] == "slave" && f["master_link_status"] != "up" {
			return false, s.Addr() + ": replica link not up"
		}
		// A node leaves a replica out of CLUSTER SLOTS, which clients
		// route by, until gossip has told it the replica's replication
		// offset.
		n, err := slotReplicas(s.Addr())
		if err != nil {
			return false, fmt.Sprintf("%s: %v", s.Addr(), err)
		}
		if want := c.masters * c.replicas; n != want {
			return false, fmt.Sprintf("%s: CLUSTER SLOTS lists %d replicas of %d", s.Addr(), n, want)
		}
	}
	return true, ""
}

// slotReplicas counts the distinct replicas the node at addr lists in
// CLUSTER SLOTS.
func slotReplicas(addr string) (int, error) {
	v, err := doValue(addr, time.Second, "CLUSTER", "SLOTS")
	if err != nil {
		return 0, err
	}
	ranges, _ := v.([]any)
	ids := map[string]bool{}
	for _, r := range ranges {
		entry, _ := r.([]any)
		for i := 3; i < len(entry); i++ { // start, end, master, replicas...
			if node, ok := entry[i].([]any); ok && len(node) >= 3 {
				ids[flatten(node[2])] = true
			}
		}
	}
	return len(ids), nil
}

// infoFields reads the "name:value" lines of an INFO reply.
func infoFields(info string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), ":"); ok {
			m[k] = v
		}
	}
	return m
}

// hasFlag reports whether flag is in a CLUSTER NODES flag list ("fail?",
// a node only suspected, is not "fail").
func hasFlag(flags, flag string) bool {
	for _, f := range strings.Split(flags, ",") {
		if f == flag {
			return true
		}
	}
	return false
}
