package health

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
)

// Heartbeat keeps a worker's key alive: SET key value with a TTL, again
// every interval, so the key exists while the worker runs and expires within
// the TTL after it dies without Stop. Stop deletes the key.
type Heartbeat struct {
	c        redis.Cmdable
	key      string
	value    string
	ttl      time.Duration
	interval time.Duration

	mu      sync.Mutex
	lastErr error
	cancel  context.CancelFunc // non-nil while started
	done    chan struct{}      // closed when the goroutine ends
}

// NewHeartbeat returns a heartbeat for key. ttl is the key's time to live
// (whole seconds are sent as EX, anything finer as PX); interval is the time
// between refreshes and must be shorter than ttl, or the key would lapse
// between two beats. interval 0 means ttl/3.
func NewHeartbeat(c redis.Cmdable, key, value string, ttl, interval time.Duration) (*Heartbeat, error) {
	switch {
	case c == nil:
		return nil, errors.New("health: heartbeat: nil client")
	case key == "":
		return nil, errors.New("health: heartbeat: empty key")
	case ttl < time.Millisecond:
		return nil, fmt.Errorf("health: heartbeat: ttl %s, want at least 1ms", ttl)
	case interval < 0:
		return nil, fmt.Errorf("health: heartbeat: negative interval %s", interval)
	}
	if interval == 0 {
		interval = ttl / 3
	}
	if interval >= ttl {
		return nil, fmt.Errorf("health: heartbeat: interval %s is not shorter than ttl %s", interval, ttl)
	}
	return &Heartbeat{c: c, key: key, value: value, ttl: ttl, interval: interval}, nil
}

// Beat writes the key once now. Start does this on its own; Beat lets a
// caller know the worker is registered before it takes work.
func (h *Heartbeat) Beat(ctx context.Context) error {
	err := h.c.Set(ctx, h.key, h.value, h.ttl).Err()
	if err != nil {
		err = fmt.Errorf("health: heartbeat %s: %w", h.key, err)
	}
	h.mu.Lock()
	h.lastErr = err
	h.mu.Unlock()
	return err
}

// LastError is the last beat's error, nil when it succeeded or none ran.
func (h *Heartbeat) LastError() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastErr
}

// Start beats at once and then every interval, on a goroutine of its own.
// Each beat is bounded by the interval. Start does nothing if the heartbeat
// is running; after Stop it starts again.
func (h *Heartbeat) Start() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	h.cancel, h.done = cancel, done
	go h.loop(ctx, done)
}

func (h *Heartbeat) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	beat := func() {
		bctx, cancel := context.WithTimeout(ctx, h.interval)
		defer cancel()
		_ = h.Beat(bctx) // kept for LastError; the next beat tries again
	}
	beat()
	t := time.NewTicker(h.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			beat()
		}
	}
}

// halt stops the goroutine and waits for it, leaving the key to expire: what
// a crashed worker leaves behind.
func (h *Heartbeat) halt() {
	h.mu.Lock()
	cancel, done := h.cancel, h.done
	h.cancel, h.done = nil, nil
	h.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// deleteIfOurs deletes the key only while it still holds this heartbeat's
// value, so a worker that stops late cannot remove the key of a new worker
// that took the same name.
var deleteIfOurs = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0
`)

// Stop stops the beats, waits for the goroutine, then deletes the key if it
// still holds this heartbeat's value. The error is the delete's: the key then
// expires within its TTL anyway. Stop may be called more than once.
func (h *Heartbeat) Stop(ctx context.Context) error {
	h.halt()
	if err := deleteIfOurs.Run(ctx, h.c, []string{h.key}, h.value).Err(); err != nil {
		return fmt.Errorf("health: heartbeat %s: deleting the key: %w", h.key, err)
	}
	return nil
}

// LiveWorkers lists the heartbeats alive under prefix: the keys that start
// with prefix, with the prefix cut off, sorted. It walks the keyspace with
// SCAN (never KEYS), on every master of a *redis.ClusterClient and every
// live shard of a *redis.Ring, also behind a wrapper such as a
// *profiles.Client (see hooks.Unwrap). A key that expires during the walk
// may or may not be listed.
func LiveWorkers(ctx context.Context, c redis.Cmdable, prefix string) ([]string, error) {
	if u, ok := c.(redis.UniversalClient); ok {
		c = hooks.Unwrap(u) // nil stays nil
	}
	if c == nil {
		return nil, errors.New("health: LiveWorkers: nil client")
	}
	pattern := escapeGlob(prefix) + "*"
	var (
		mu   sync.Mutex
		seen = map[string]struct{}{}
	)
	scan := func(ctx context.Context, node redis.Cmdable) error {
		var cursor uint64
		for {
			keys, next, err := node.Scan(ctx, cursor, pattern, 100).Result()
			if err != nil {
				return fmt.Errorf("health: LiveWorkers: SCAN: %w", err)
			}
			mu.Lock()
			for _, k := range keys {
				if strings.HasPrefix(k, prefix) {
					seen[k[len(prefix):]] = struct{}{}
				}
			}
			mu.Unlock()
			if next == 0 {
				return nil
			}
			cursor = next
		}
	}
	var err error
	switch cc := c.(type) {
	case interface {
		ForEachMaster(context.Context, func(context.Context, *redis.Client) error) error
	}:
		err = cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return scan(ctx, n) })
	case sharded:
		err = cc.ForEachShard(ctx, func(ctx context.Context, n *redis.Client) error { return scan(ctx, n) })
	default:
		err = scan(ctx, c)
	}
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// escapeGlob escapes the characters SCAN MATCH treats specially.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
