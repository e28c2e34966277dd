package profiles_test

import (
	"context"
	"errors"
	"testing"

	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
	"github.com/redisguard/redisguard/profiles"
)

// TestClientCloseStopsProbes: the API preset probes a dead node whose
// circuit is open, and Client.Close stops the probes before it returns.
func TestClientCloseStopsProbes(t *testing.T) {
	s := redistest.Start(t)
	cfg := profiles.API()
	cfg.Addr = s.Addr()
	c, err := profiles.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	s.Kill()
	ctx := context.Background()
	var last error
	for i := 0; i < 20 && !errors.Is(last, hooks.ErrCircuitOpen); i++ {
		last = c.Get(ctx, "k").Err()
	}
	if !errors.Is(last, hooks.ErrCircuitOpen) {
		t.Fatalf("20 GETs to a dead server never opened the circuit; last error %v", last)
	}
	const probe = "hooks.(*Breaker).probe"
	if !redistest.Running(probe) {
		t.Fatal("no probe runs while the circuit is open")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if redistest.Running(probe) {
		t.Fatal("a probe still runs after Client.Close returned")
	}
}
