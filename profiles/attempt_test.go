package profiles_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/internal/redistest"
	"github.com/redisguard/redisguard/profiles"
)

// TestPresetsRetryAStalledRead: a read whose reply is lost (the proxy drops
// what the server sends back) used to wait out the whole read deadline, in
// one attempt, and fail; nothing was retried after it. Each preset now cuts
// the attempt at Retry.AttemptTimeout and sends the read again inside the
// deadline (the proxy lets replies through again once Retry has decided to).
func TestPresetsRetryAStalledRead(t *testing.T) {
	quietRetries(t)
	srv := redistest.Start(t)
	if _, err := redistest.Do(srv.Addr(), time.Second, "SET", "k", "v"); err != nil {
		t.Fatal(err)
	}
	for _, preset := range []profiles.Config{profiles.API(), profiles.Worker()} {
		t.Run(preset.Name, func(t *testing.T) {
			px := redistest.NewProxy(t, srv.Addr())
			cfg := preset
			cfg.Addr = px.Addr()
			c, err := profiles.NewClient(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx := context.Background()
			if err := c.Ping(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			var once sync.Once
			defer c.Hooks.Retry.Subscribe(func(context.Context, hooks.RetryEvent) { once.Do(px.RemoveToxics) })()
			px.Blackhole("downstream")
			got, err := c.Get(ctx, "k").Result()
			px.RemoveToxics()
			if err != nil || got != "v" {
				t.Fatalf("GET = %q, %v; want \"v\" after a retry", got, err)
			}
			if s := c.Hooks.Retry.Stats(); s.Recovered != 1 || s.MaybeApplied != 1 {
				t.Fatalf("retry stats %+v: want one call recovered after a timeout that may have applied", s)
			}
		})
	}
}
