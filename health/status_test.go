package health

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redisguard/redisguard/hooks"
)

func TestRulesEvaluate(t *testing.T) {
	def, err := Rules{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	refused := errors.New("connection refused")
	off := def
	off.SlowPing, off.PoolTimeouts, off.LimiterRejections = -1, -1, -1
	off.IgnoreBreakers, off.IgnoreNodes = true, true

	tests := []struct {
		name    string
		rules   Rules
		in      inputs
		want    Status
		reasons []string // substrings, one per reason, in order
	}{
		{"nothing wrong", def, inputs{latency: time.Millisecond}, StatusHealthy, nil},
		{"one failed ping degrades", def, inputs{pingErr: refused, failures: 1}, StatusDegraded,
			[]string{"ping failed (1 of 3 before unhealthy): connection refused"}},
		{"two failed pings still degraded", def, inputs{pingErr: refused, failures: 2}, StatusDegraded,
			[]string{"ping failed (2 of 3"}},
		{"FailuresUnhealthy failed pings", def, inputs{pingErr: refused, failures: 3}, StatusUnhealthy,
			[]string{"ping failed 3 times in a row: connection refused"}},
		{"more failed pings", def, inputs{pingErr: refused, failures: 9}, StatusUnhealthy, []string{"9 times"}},
		{"slow ping", def, inputs{latency: 300 * time.Millisecond}, StatusDegraded, []string{"slow ping: 300ms, over 250ms"}},
		{"ping exactly SlowPing is not slow", def, inputs{latency: 250 * time.Millisecond}, StatusHealthy, nil},
		{"pool timeouts grew", def, inputs{poolGrowth: 2}, StatusDegraded, []string{"pool timeouts grew by 2"}},
		{"limiter rejections", def, inputs{rejections: 5}, StatusDegraded, []string{"limiter rejected 5 commands"}},
		{"breaker closed", def, inputs{breakers: map[string]hooks.BreakerState{"a:1": hooks.BreakerClosed}}, StatusHealthy, nil},
		{"breaker half-open", def, inputs{breakers: map[string]hooks.BreakerState{"a:1": hooks.BreakerHalfOpen}}, StatusDegraded,
			[]string{"breaker half-open for a:1"}},
		{"breaker open", def, inputs{breakers: map[string]hooks.BreakerState{"a:1": hooks.BreakerOpen}}, StatusUnhealthy,
			[]string{"breaker open for a:1"}},
		{"breakers listed by address", def, inputs{breakers: map[string]hooks.BreakerState{
			"c:3": hooks.BreakerOpen, "a:1": hooks.BreakerHalfOpen, "b:2": hooks.BreakerClosed}}, StatusUnhealthy,
			[]string{"half-open for a:1", "open for c:3"}},
		{"node down", def, inputs{nodeErrs: []nodeErr{{"n:1", refused}}}, StatusDegraded, []string{"node n:1: ping failed: connection refused"}},
		{"worst wins and every rule reports", def, inputs{latency: time.Second, poolGrowth: 1, rejections: 1,
			breakers: map[string]hooks.BreakerState{"a:1": hooks.BreakerOpen}}, StatusUnhealthy,
			[]string{"slow ping", "pool timeouts", "limiter rejected", "breaker open"}},
		{"thresholds above 1", Rules{SlowPing: time.Second, FailuresUnhealthy: 1, PoolTimeouts: 10, LimiterRejections: 10},
			inputs{latency: 500 * time.Millisecond, poolGrowth: 9, rejections: 9}, StatusHealthy, nil},
		{"FailuresUnhealthy 1", Rules{FailuresUnhealthy: 1, SlowPing: 1, PoolTimeouts: 1, LimiterRejections: 1},
			inputs{pingErr: refused, failures: 1}, StatusUnhealthy, []string{"1 times in a row"}},
		{"rules turned off", off, inputs{latency: time.Hour, poolGrowth: 100, rejections: 100,
			breakers: map[string]hooks.BreakerState{"a:1": hooks.BreakerOpen}, nodeErrs: []nodeErr{{"n:1", refused}}}, StatusHealthy, nil},
		{"failures cannot be turned off", off, inputs{pingErr: refused, failures: 3}, StatusUnhealthy, []string{"3 times"}},
		{"cluster: open master with a standby replica", def, inputs{
			breakers: map[string]hooks.BreakerState{"m:1": hooks.BreakerOpen},
			topology: &topology{listed: map[string]bool{"m:1": true, "r:1": true}, standby: map[string][]string{"m:1": {"r:1"}}},
		}, StatusDegraded, []string{"breaker open for m:1; its replica r:1 can take its place"}},
		{"cluster: open master with no standby", def, inputs{
			breakers: map[string]hooks.BreakerState{"m:1": hooks.BreakerOpen},
			topology: &topology{listed: map[string]bool{"m:1": true, "r:1": true}, standby: map[string][]string{}},
		}, StatusUnhealthy, []string{"breaker open for m:1"}},
		{"cluster: breakers of unlisted nodes count for nothing", def, inputs{
			breakers: map[string]hooks.BreakerState{"gone:1": hooks.BreakerOpen, "gone:2": hooks.BreakerHalfOpen},
			topology: &topology{listed: map[string]bool{"m:1": true}},
		}, StatusHealthy, nil},
		{"cluster: a ping refused by a circuit is left to the breakers", def, inputs{pingRefused: true, failures: 5, latency: time.Hour}, StatusHealthy, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, reasons := tc.rules.evaluate(tc.in)
			if got != tc.want {
				t.Errorf("status = %q, want %q (reasons %q)", got, tc.want, reasons)
			}
			if reasons == nil {
				t.Errorf("reasons is nil; want an empty slice so JSON says []")
			}
			if len(reasons) != len(tc.reasons) {
				t.Fatalf("reasons = %q, want %d matching %q", reasons, len(tc.reasons), tc.reasons)
			}
			for i, want := range tc.reasons {
				if !strings.Contains(reasons[i], want) {
					t.Errorf("reason %d = %q, want it to contain %q", i, reasons[i], want)
				}
			}
		})
	}
}

func TestRulesWithDefaults(t *testing.T) {
	got, err := Rules{}.withDefaults()
	if err != nil || got != defaultRules {
		t.Fatalf("zero Rules = %+v, %v; want defaultRules %+v", got, err, defaultRules)
	}
	got, err = Rules{SlowPing: -1, PoolTimeouts: 4, IgnoreNodes: true}.withDefaults()
	want := Rules{SlowPing: -1, FailuresUnhealthy: defaultRules.FailuresUnhealthy, PoolTimeouts: 4,
		LimiterRejections: defaultRules.LimiterRejections, IgnoreNodes: true}
	if err != nil || got != want {
		t.Fatalf("partial Rules = %+v, %v; want %+v", got, err, want)
	}
	if _, err := (Rules{FailuresUnhealthy: -1}).withDefaults(); err == nil || !strings.HasPrefix(err.Error(), "health: ") {
		t.Fatalf("negative FailuresUnhealthy: err = %v", err)
	}
}

func TestStatusRank(t *testing.T) {
	if Status("").rank() >= StatusHealthy.rank() || StatusHealthy.rank() >= StatusDegraded.rank() ||
		StatusDegraded.rank() >= StatusUnhealthy.rank() {
		t.Fatal("statuses are not ordered healthy < degraded < unhealthy")
	}
}
