package health

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/redisguard/redisguard/hooks"
)

// Status is the monitor's verdict on the client: StatusHealthy,
// StatusDegraded or StatusUnhealthy. The zero Status ("") means no check has
// run yet.
type Status string

const (
	// StatusHealthy means the last check found nothing wrong.
	StatusHealthy Status = "healthy"
	// StatusDegraded means Redis answers but something is wrong: a slow or
	// failed ping (fewer than Rules.FailuresUnhealthy in a row), pool
	// timeouts, limiter rejections, a half-open breaker, a node that does
	// not answer. /health still answers 200.
	StatusDegraded Status = "degraded"
	// StatusUnhealthy means Redis cannot be used: Rules.FailuresUnhealthy
	// pings in a row failed, or a breaker is open. /health answers 503.
	StatusUnhealthy Status = "unhealthy"
)

// rank orders statuses from best to worst.
func (s Status) rank() int {
	switch s {
	case StatusHealthy:
		return 1
	case StatusDegraded:
		return 2
	case StatusUnhealthy:
		return 3
	default:
		return 0
	}
}

// Rules decide a check's Status. Every rule that fires adds a reason; the
// worst status among them wins, and no reason means healthy.
//
//   - unhealthy: the last FailuresUnhealthy pings in a row failed (the
//     monitor's own PingTimeout counts as a failure).
//   - unhealthy: a breaker is open for some node.
//   - degraded: the last ping failed, but fewer than FailuresUnhealthy in a
//     row have.
//   - degraded: the last ping succeeded but took longer than SlowPing.
//   - degraded: the pool's Timeouts counter grew by at least PoolTimeouts
//     since the previous check (a command waited PoolTimeout for a
//     connection and gave up).
//   - degraded: the limiter's Rejected counter grew by at least
//     LimiterRejections since the previous check.
//   - degraded: a breaker is half-open for some node.
//   - degraded: on a cluster or ring, a node did not answer its own PING.
//
// On a *redis.ClusterClient a failover is degraded, not unhealthy: the
// cluster promotes a replica in place of a dead master, and the client's
// other slots go on working meanwhile. So there:
//
//   - a breaker open for a master one of whose replicas answered its own
//     PING in the check is degraded, not unhealthy: the replica can take
//     its place (a replica the cluster has just promoted while the master
//     is still down counts, since a node that has not yet learned of the
//     promotion may still list the master with its slots);
//   - a breaker (open or half-open) for a node the check did not list (the
//     cluster no longer serves slots from it, typically a failed-over
//     master) is reported in Hooks.Breakers but counts for nothing;
//   - a PING refused by one node's open circuit (the monitor's PING goes to
//     one node) is left to the rules on breakers: it counts neither as a
//     failed ping nor as an answered one.
//
// A check that cannot list the cluster's nodes applies the rules as on any
// client. Replicas are matched to masters by the address each replica
// reports its master at (INFO replication), which must be the address the
// cluster announces for it, as it is unless nodes announce hostnames.
//
// Counters are compared with the previous check, so the first check never
// fires the two "grew" rules. Each zero field takes its default, given
// with the field.
type Rules struct {
	// SlowPing is the ping round trip above which the status is degraded.
	// 0 means 250ms; a negative value turns the rule off.
	SlowPing time.Duration
	// FailuresUnhealthy is the number of consecutive failed pings that makes
	// the status unhealthy; fewer make it degraded. 0 means 3;
	// negative is an error.
	FailuresUnhealthy int
	// PoolTimeouts is how much the pool's Timeouts counter must grow between
	// two checks to make the status degraded. 0 means 1; a
	// negative value turns the rule off.
	PoolTimeouts int
	// LimiterRejections is how much the limiter's Rejected counter must
	// grow between two checks to make the status degraded. 0 means 1; a
	// negative value turns the rule off.
	LimiterRejections int
	// IgnoreBreakers keeps breaker states out of the status (they are still
	// reported).
	IgnoreBreakers bool
	// IgnoreNodes keeps per-node ping failures on a cluster or ring out of
	// the status (they are still reported).
	IgnoreNodes bool
}

// defaultRules are the rules a zero Rules stands for (their values are
// given with the fields of Rules).
var defaultRules = Rules{
	SlowPing:          250 * time.Millisecond,
	FailuresUnhealthy: 3,
	PoolTimeouts:      1,
	LimiterRejections: 1,
}

// withDefaults fills zero fields from defaultRules and checks the result.
func (r Rules) withDefaults() (Rules, error) {
	if r.SlowPing == 0 {
		r.SlowPing = defaultRules.SlowPing
	}
	if r.FailuresUnhealthy == 0 {
		r.FailuresUnhealthy = defaultRules.FailuresUnhealthy
	}
	if r.FailuresUnhealthy < 0 {
		return r, fmt.Errorf("health: Rules.FailuresUnhealthy is %d, want 1 or more (0 for the default)", r.FailuresUnhealthy)
	}
	if r.PoolTimeouts == 0 {
		r.PoolTimeouts = defaultRules.PoolTimeouts
	}
	if r.LimiterRejections == 0 {
		r.LimiterRejections = defaultRules.LimiterRejections
	}
	return r, nil
}

// inputs are what the rules look at; a check gathers them.
type inputs struct {
	pingErr     error         // the last ping's error, nil when it answered or was refused
	pingRefused bool          // a node's open circuit refused the ping (cluster only)
	failures    int           // consecutive failed pings, the last included
	latency     time.Duration // the last ping's round trip
	poolGrowth  uint64        // pool Timeouts since the previous check
	rejections  uint64        // limiter Rejected since the previous check
	breakers    map[string]hooks.BreakerState
	nodeErrs    []nodeErr // nodes whose own PING failed, by address
	topology    *topology // a cluster's nodes as the check listed them; nil if unknown
}

// topology is what a check learned of a cluster's nodes.
type topology struct {
	listed  map[string]bool     // every node address the check listed
	standby map[string][]string // master address -> its replicas that answered PING (see Monitor.clusterTopology)
}

type nodeErr struct {
	addr string
	err  error
}

// evaluate applies the rules (already defaulted) to in.
func (r Rules) evaluate(in inputs) (Status, []string) {
	status := StatusHealthy
	reasons := []string{}
	add := func(s Status, format string, args ...any) {
		if s.rank() > status.rank() {
			status = s
		}
		reasons = append(reasons, fmt.Sprintf(format, args...))
	}

	switch {
	case in.pingRefused:
		// Left to the rules on breakers (see Rules).
	case in.pingErr != nil && in.failures >= r.FailuresUnhealthy:
		add(StatusUnhealthy, "ping failed %d times in a row: %v", in.failures, in.pingErr)
	case in.pingErr != nil:
		add(StatusDegraded, "ping failed (%d of %d before unhealthy): %v", in.failures, r.FailuresUnhealthy, in.pingErr)
	case r.SlowPing > 0 && in.latency > r.SlowPing:
		add(StatusDegraded, "slow ping: %s, over %s", in.latency.Round(time.Microsecond), r.SlowPing)
	}
	if r.PoolTimeouts > 0 && in.poolGrowth >= uint64(r.PoolTimeouts) {
		add(StatusDegraded, "pool timeouts grew by %d since the last check", in.poolGrowth)
	}
	if r.LimiterRejections > 0 && in.rejections >= uint64(r.LimiterRejections) {
		add(StatusDegraded, "limiter rejected %d commands since the last check", in.rejections)
	}
	if !r.IgnoreBreakers && len(in.breakers) > 0 {
		addrs := make([]string, 0, len(in.breakers))
		for a := range in.breakers {
			addrs = append(addrs, a)
		}
		sort.Strings(addrs)
		for _, a := range addrs {
			if in.topology != nil && !in.topology.listed[a] {
				continue // the cluster no longer lists the node
			}
			switch in.breakers[a] {
			case hooks.BreakerOpen:
				if in.topology != nil && len(in.topology.standby[a]) > 0 {
					add(StatusDegraded, "breaker open for %s; its replica %s can take its place", a, strings.Join(in.topology.standby[a], ", "))
				} else {
					add(StatusUnhealthy, "breaker open for %s", a)
				}
			case hooks.BreakerHalfOpen:
				add(StatusDegraded, "breaker half-open for %s", a)
			}
		}
	}
	if !r.IgnoreNodes {
		for _, n := range in.nodeErrs {
			add(StatusDegraded, "node %s: ping failed: %v", n.addr, n.err)
		}
	}
	return status, reasons
}

// errProbeBusy is the ping failure of a check that found the previous
// check's ping still waiting for its reply.
var errProbeBusy = errors.New("health: the previous check's ping has not returned yet")
