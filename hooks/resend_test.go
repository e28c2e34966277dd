package hooks

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/internal/redistest"
)

func TestResendGuardHidesMaybeAppliedFromGoRedis(t *testing.T) {
	g := (&resendGuard{}).forNode("10.0.0.1:6379").(*resendGuard)
	timeout := &net.OpError{Op: "read", Net: "tcp", Err: timeoutErr{}}
	cases := []struct {
		name    string
		cmd     redis.Cmder
		err     error
		guarded bool
	}{
		{"INCR after EOF", redis.NewIntCmd(context.Background(), "incr", "k"), io.EOF, true},
		{"LPUSH after read timeout", redis.NewIntCmd(context.Background(), "lpush", "k", "v"), timeout, true},
		{"GET after EOF keeps its error", redis.NewStringCmd(context.Background(), "get", "k"), io.EOF, false},
		{"SET after read timeout keeps its error", redis.NewStatusCmd(context.Background(), "set", "k", "v"), timeout, false},
		{"INCR refused keeps its error", redis.NewIntCmd(context.Background(), "incr", "k"), &net.OpError{Op: "dial", Err: errors.New("connection refused")}, false},
		{"INCR on a closed client keeps its error", redis.NewIntCmd(context.Background(), "incr", "k"), redis.ErrClosed, false},
		{"handshake passes", redis.NewStatusCmd(context.Background(), "hello", "3"), io.EOF, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := g.ProcessHook(func(context.Context, redis.Cmder) error { return tc.err })(context.Background(), tc.cmd)
			var m *maybeAppliedError
			if got := errors.As(err, &m); got != tc.guarded {
				t.Fatalf("guarded = %v, want %v (err %v)", got, tc.guarded, err)
			}
			if !tc.guarded {
				if err != tc.err {
					t.Fatalf("error changed: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrMaybeApplied) || classifyError(err) != outcomeMaybeApplied {
				t.Fatalf("%v: not classified as maybe applied", err)
			}
			if errors.Is(err, io.EOF) || m.Cause() != tc.err || m.Node != "10.0.0.1:6379" {
				t.Fatalf("%v: must hide its cause from errors.Is but keep it in Cause()", err)
			}
			var ne net.Error
			if errors.As(err, &ne) {
				t.Fatalf("%v: must not look like a net.Error to go-redis", err)
			}
		})
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// TestClusterDoesNotResendIncrAfterReadTimeout shows go-redis's cluster
// redirect loop applying one INCR several times after read timeouts, with
// MaxRetries off, and Attach's guard stopping it.
func TestClusterDoesNotResendIncrAfterReadTimeout(t *testing.T) {
	cl := redistest.StartCluster(t, 3, 0)
	run := func(t *testing.T, attach bool) int64 {
		ctx := context.Background()
		rdb := redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: cl.Addrs(), MaxRetries: -1, ReadTimeout: 300 * time.Millisecond,
			PoolSize: 8, MinRetryBackoff: time.Millisecond, MaxRetryBackoff: 2 * time.Millisecond,
		})
		defer rdb.Close()
		if attach {
			if err := Attach(rdb, mustRetry(t, RetryOptions{})); err != nil {
				t.Fatal(err)
			}
		}
		key := "resend:" + strconv.FormatBool(attach)
		if err := rdb.Del(ctx, key).Err(); err != nil {
			t.Fatal(err)
		}
		// Warm the node's pool, so re-sends go out on open connections
		// instead of stalling in a new connection's handshake.
		var owner *redistest.Server
		err := rdb.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			if keyOn(ctx, m, key) {
				for _, s := range cl.Servers() {
					if s.Addr() == m.Options().Addr {
						owner = s
					}
				}
			}
			return nil
		})
		if err != nil || owner == nil {
			t.Fatalf("finding the key's master: %v", err)
		}
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() { defer wg.Done(); _ = rdb.Get(ctx, key).Err() }()
		}
		wg.Wait()

		owner.Pause()
		err = rdb.Incr(ctx, key).Err()
		owner.Resume()
		if err == nil {
			t.Fatal("INCR on a paused master succeeded")
		}
		if attach && !errors.Is(err, ErrMaybeApplied) {
			t.Fatalf("guarded INCR error %v does not match ErrMaybeApplied", err)
		}
		// The paused server runs whatever reached its socket once resumed.
		// Read it through the owner directly, after the server has had the
		// time to run what was queued.
		time.Sleep(300 * time.Millisecond)
		n, err := redistest.Do(owner.Addr(), 2*time.Second, "GET", key)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("attach=%v: one INCR left the counter at %s (error %v)", attach, n, err)
		v, _ := strconv.ParseInt(n, 10, 64)
		return v
	}
	t.Run("bare go-redis re-sends", func(t *testing.T) {
		if n := run(t, false); n < 2 {
			t.Fatalf("counter %d: expected go-redis's cluster loop to apply the INCR more than once", n)
		}
	})
	t.Run("attached guard sends once", func(t *testing.T) {
		if n := run(t, true); n != 1 {
			t.Fatalf("counter %d, want 1", n)
		}
	})
}

// keyOn reports whether the master m serves key's slot.
func keyOn(ctx context.Context, m *redis.Client, key string) bool {
	slot, err := m.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		return false
	}
	slots, err := m.ClusterSlots(ctx).Result() //nolint:staticcheck // go-redis builds its slot map from CLUSTER SLOTS; read the same reply
	if err != nil {
		return false
	}
	for _, s := range slots {
		if int64(s.Start) <= slot && slot <= int64(s.End) && len(s.Nodes) > 0 {
			return s.Nodes[0].Addr == m.Options().Addr
		}
	}
	return false
}
