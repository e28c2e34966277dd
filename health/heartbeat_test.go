package health

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/internal/redistest"
)

func TestNewHeartbeatRejectsBadArguments(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	for name, f := range map[string]func() (*Heartbeat, error){
		"nil client":          func() (*Heartbeat, error) { return NewHeartbeat(nil, "k", "v", time.Second, 0) },
		"empty key":           func() (*Heartbeat, error) { return NewHeartbeat(rdb, "", "v", time.Second, 0) },
		"no ttl":              func() (*Heartbeat, error) { return NewHeartbeat(rdb, "k", "v", 0, 0) },
		"negative interval":   func() (*Heartbeat, error) { return NewHeartbeat(rdb, "k", "v", time.Second, -1) },
		"interval == ttl":     func() (*Heartbeat, error) { return NewHeartbeat(rdb, "k", "v", time.Second, time.Second) },
		"interval beyond ttl": func() (*Heartbeat, error) { return NewHeartbeat(rdb, "k", "v", time.Second, time.Minute) },
	} {
		if _, err := f(); err == nil || !strings.HasPrefix(err.Error(), "health: heartbeat: ") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	hb, err := NewHeartbeat(rdb, "k", "v", 3*time.Second, 0)
	if err != nil || hb.interval != time.Second || hb.key != "k" {
		t.Fatalf("default interval: %v, %v", hb, err)
	}
}

func TestHeartbeatRefreshesWhileRunningAndVanishesOnStop(t *testing.T) {
	s := redistest.Start(t)
	rdb := s.Client(t, nil)
	ctx := context.Background()
	hb, err := NewHeartbeat(rdb, "workers:a", "host-a", 2*time.Second, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hb.Stop(context.Background()) })
	hb.Start()
	hb.Start() // already running: nothing happens
	waitFor(t, "the key", func() bool { return rdb.Get(ctx, "workers:a").Val() == "host-a" })

	// The TTL is set, and refreshed: left alone it only goes down, so a
	// reading above the one before proves a beat came in between.
	prev, err := rdb.PTTL(ctx, "workers:a").Result()
	if err != nil || prev <= 0 || prev > 2*time.Second {
		t.Fatalf("PTTL = %v, %v", prev, err)
	}
	waitFor(t, "a refresh", func() bool {
		ttl := rdb.PTTL(ctx, "workers:a").Val()
		up := ttl > prev
		prev = ttl
		return up
	})
	if names, err := LiveWorkers(ctx, rdb, "workers:"); err != nil || !reflect.DeepEqual(names, []string{"a"}) {
		t.Fatalf("LiveWorkers = %v, %v", names, err)
	}
	if err := hb.LastError(); err != nil {
		t.Fatalf("LastError = %v", err)
	}

	if err := hb.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if n := rdb.Exists(ctx, "workers:a").Val(); n != 0 {
		t.Fatal("key still there after Stop")
	}
	if names, err := LiveWorkers(ctx, rdb, "workers:"); err != nil || len(names) != 0 {
		t.Fatalf("LiveWorkers after Stop = %v, %v", names, err)
	}
	if err := hb.Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}

func TestHeartbeatKeyExpiresAfterACrash(t *testing.T) {
	s := redistest.Start(t)
	rdb := s.Client(t, nil)
	ctx := context.Background()
	dead, err := NewHeartbeat(rdb, "workers:dead", "1", 500*time.Millisecond, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	alive, err := NewHeartbeat(rdb, "workers:alive", "2", 500*time.Millisecond, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = alive.Stop(context.Background()) })
	dead.Start()
	alive.Start()
	waitFor(t, "both keys", func() bool { return rdb.Exists(ctx, "workers:dead", "workers:alive").Val() == 2 })

	// The worker dies: its goroutine stops and nothing deletes the key.
	dead.halt()
	waitFor(t, "the dead worker's key to expire", func() bool { return rdb.Exists(ctx, "workers:dead").Val() == 0 })
	names, err := LiveWorkers(ctx, rdb, "workers:")
	if err != nil || !reflect.DeepEqual(names, []string{"alive"}) {
		t.Fatalf("LiveWorkers = %v, %v", names, err)
	}
}

func TestHeartbeatStopLeavesAKeyTakenOverByAnother(t *testing.T) {
	s := redistest.Start(t)
	rdb := s.Client(t, nil)
	ctx := context.Background()
	old, err := NewHeartbeat(rdb, "workers:w", "old", time.Minute, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Beat(ctx); err != nil {
		t.Fatal(err)
	}
	// A new worker with the same name takes the key over.
	if err := rdb.Set(ctx, "workers:w", "new", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if err := old.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if v := rdb.Get(ctx, "workers:w").Val(); v != "new" {
		t.Fatalf("the old worker's Stop removed the new worker's key (value %q)", v)
	}
}

func TestHeartbeatReportsErrorsWhenRedisIsDown(t *testing.T) {
	s := redistest.Start(t)
	rdb := s.Client(t, &redis.Options{MaxRetries: -1})
	ctx := context.Background()
	hb, err := NewHeartbeat(rdb, "workers:x", "1", time.Second, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	s.Kill()
	hb.Start()
	waitFor(t, "a failed beat", func() bool { return hb.LastError() != nil })
	if err := hb.Stop(ctx); err == nil || !strings.HasPrefix(err.Error(), "health: heartbeat workers:x: ") {
		t.Fatalf("Stop with Redis down: %v", err)
	}
	if err := hb.Beat(ctx); err == nil || !errors.Is(hb.LastError(), err) {
		t.Fatalf("Beat with Redis down: %v, LastError %v", err, hb.LastError())
	}
}

func TestLiveWorkersScansEverythingAndEscapesThePrefix(t *testing.T) {
	s := redistest.Start(t)
	rdb := s.Client(t, nil)
	ctx := context.Background()
	// More keys than one SCAN reply holds, so the cursor loop matters.
	var want []string
	for i := 0; i < 500; i++ {
		name := fmt.Sprintf("w%03d", i)
		want = append(want, name)
		if err := rdb.Set(ctx, "jobs[1]*:"+name, "x", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// Keys that a glob "jobs[1]*:*" would match if the prefix went unescaped.
	for _, k := range []string{"jobs1:other", "jobs1abc:other", "jobs[1]:other"} {
		if err := rdb.Set(ctx, k, "x", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	got, err := LiveWorkers(ctx, rdb, "jobs[1]*:")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("LiveWorkers: %d names, first %v", len(got), got[:min(5, len(got))])
	}
	if _, err := LiveWorkers(ctx, nil, "x"); err == nil {
		t.Fatal("nil client: no error")
	}
}

func TestEscapeGlob(t *testing.T) {
	for in, want := range map[string]string{
		"":          "",
		"plain:":    "plain:",
		`a*b?c[d]\`: `a\*b\?c\[d\]\\`,
		"ü*":        `ü\*`,
	} {
		if got := escapeGlob(in); got != want {
			t.Errorf("escapeGlob(%q) = %q, want %q", in, got, want)
		}
	}
}
