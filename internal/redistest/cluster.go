package redistest

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Cluster is a Redis Cluster made of servers owned by one test.
type Cluster struct {
	servers []*Server
	masters int
}

// StartCluster starts masters*(1+replicasPerMaster) cluster-enabled servers,
// joins them with `redis-cli --cluster create --cluster-yes`, and returns once
// every node reports cluster_state:ok and agrees on the slot map. Redis needs
// at least 3 masters.
func StartCluster(t testing.TB, masters, replicasPerMaster int) *Cluster {
	t.Helper()
	RequireServer(t)
	if masters < 3 {
		t.Fatalf("redistest: a cluster needs at least 3 masters, got %d", masters)
	}
	if replicasPerMaster < 0 {
		t.Fatalf("redistest: negative replicas per master: %d", replicasPerMaster)
	}
	n := masters * (1 + replicasPerMaster)
	c := &Cluster{masters: masters}
	for i := 0; i < n; i++ {
		c.servers = append(c.servers, Start(t,
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "3000",
			"--cluster-require-full-coverage", "yes",
		))
	}
	args := []string{"--cluster", "create"}
	args = append(args, c.Addrs()...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicasPerMaster), "--cluster-yes")
	// redis-cli waits for the nodes to join with no bound of its own.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := c.waitReady(30 * time.Second); err != nil {
		t.Fatalf("redistest: %v", err)
	}
	return c
}

// Addrs lists every node's address, masters first as created.
func (c *Cluster) Addrs() []string {
	a := make([]string, len(c.servers))
	for i, s := range c.servers {
		a[i] = s.Addr()
	}
	return a
}

// Servers lists every node's server.
func (c *Cluster) Servers() []*Server { return c.servers }

func (c *Cluster) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		if ok, why := c.ready(); ok {
			return nil
		} else {
			last = why
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("cluster not ready after %s: %s", timeout, last)
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
	}
	return true, ""
}
