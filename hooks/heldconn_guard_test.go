package hooks

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/internal/redistest"
)

// TestLimiterKnowsGoRedisHeldConnChains guards heldConnBuilders against a
// go-redis upgrade: every construct that holds a connection must pass the
// Limiter without a permit, and every other path of the client must still
// need one. If it fails, find where go-redis now calls the hooks'
// ProcessHook for the failing construct and update heldConnBuilders.
func TestLimiterKnowsGoRedisHeldConnChains(t *testing.T) {
	s := redistest.Start(t)
	rdb := s.Client(t, &redis.Options{MaxRetries: -1, ContextTimeoutEnabled: true})
	l, err := NewLimiter(LimiterOptions{MaxInFlight: 2, MaxWait: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := Attach(rdb, l); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil { // one pooled connection
		t.Fatal(err)
	}
	// Take every permit.
	c := l.core(rdb.Options().Addr)
	for range 2 {
		if err := c.acquire(ctx, false); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		c.release(false)
		c.release(false)
	}()

	session := func(p interface {
		Get(context.Context, string) *redis.StringCmd
		Pipelined(context.Context, func(redis.Pipeliner) error) ([]redis.Cmder, error)
		TxPipelined(context.Context, func(redis.Pipeliner) error) ([]redis.Cmder, error)
	}) error {
		if err := p.Get(ctx, "k").Err(); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		if _, err := p.Pipelined(ctx, func(p redis.Pipeliner) error { p.Get(ctx, "k"); return nil }); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		_, err := p.TxPipelined(ctx, func(p redis.Pipeliner) error { p.Set(ctx, "k", "v", 0); return nil })
		return err
	}
	held := []struct {
		name string
		run  func() error
	}{
		{"Watch", func() error {
			return rdb.Watch(ctx, func(tx *redis.Tx) error { return session(tx) }, "k")
		}},
		{"Conn", func() error {
			cn := rdb.Conn()
			defer cn.Close()
			return session(cn)
		}},
		{"EphemeralConn", func() error {
			cn := rdb.EphemeralConn()
			defer cn.Close()
			return session(cn)
		}},
	}
	for _, h := range held {
		if err := h.run(); err != nil {
			t.Errorf("%s waited for a permit on the connection it holds (%v): go-redis no longer builds "+
				"its hook chain in one of %v; update heldConnBuilders", h.name, err, keys(heldConnBuilders))
		}
	}

	limited := []struct {
		name string
		run  func() error
	}{
		{"Client command", func() error { return rdb.Get(ctx, "k").Err() }},
		{"Client pipeline", func() error {
			_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error { p.Get(ctx, "k"); return nil })
			return err
		}},
		{"Client MULTI/EXEC", func() error {
			_, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error { p.Get(ctx, "k"); return nil })
			return err
		}},
	}
	for _, h := range limited {
		if err := h.run(); !errors.Is(err, ErrLimited) {
			t.Errorf("%s with every permit taken: %v, want ErrLimited", h.name, err)
		}
	}
}

func keys(m map[string]bool) []string {
	var l []string
	for k := range m {
		l = append(l, k)
	}
	return l
}
