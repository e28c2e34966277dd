package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/health"
)

// reaper recovers tasks: at once, then every ReapInterval until Stop.
func (w *Workers) reaper() {
	defer close(w.reaperDone)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), w.set.HandleTimeout)
		if err := w.reap(ctx); err != nil {
			w.log.Warn("reaper pass failed", slog.String("error", err.Error()))
		} else {
			w.stats.ReaperPasses.Add(1)
		}
		cancel()
		if !w.wait(w.set.ReapInterval) {
			return
		}
	}
}

// reap moves back to the queue the processing lists of workers without a
// live heartbeat, and the ids in this worker's own list that no goroutine
// held at this pass and the previous one.
func (w *Workers) reap(ctx context.Context) error {
	// Lists first, heartbeats second: a list exists only after its worker
	// beat, so a worker seen here cannot be missed by LiveWorkers below
	// unless its heartbeat has really expired.
	var lists []string
	iter := w.rdb.Scan(ctx, 0, w.keys.processingPattern(), 100).Iterator()
	for iter.Next(ctx) {
		lists = append(lists, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if len(lists) == 0 {
		return nil
	}
	live, err := health.LiveWorkers(ctx, w.rdb, w.keys.heartbeatPrefix())
	if err != nil {
		return err
	}
	alive := make(map[string]bool, len(live))
	for _, l := range live {
		alive[l] = true
	}
	for _, l := range lists {
		owner := strings.TrimPrefix(l, w.keys.processing(""))
		switch {
		case owner == w.id:
			if err := w.sweepOwn(ctx); err != nil {
				return err
			}
		case !alive[owner]:
			n, err := w.moveAll(ctx, l)
			w.stats.Recovered.Add(int64(n))
			if n > 0 {
				w.log.Info("recovered tasks of a dead worker", slog.String("dead_worker", owner), slog.Int("tasks", n))
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// moveAll moves every id of list to the head of the queue, oldest first,
// one LMOVE (atomic) per id, and returns how many it moved.
func (w *Workers) moveAll(ctx context.Context, list string) (int, error) {
	n := 0
	for {
		err := w.rdb.LMove(ctx, list, w.keys.queue(), "RIGHT", "LEFT").Err()
		if errors.Is(err, redis.Nil) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
	}
}

// requeueScript moves one id from a processing list to the head of the
// queue, if it is still in the list.
var requeueScript = redis.NewScript(`
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 1 then
  redis.call('LPUSH', KEYS[2], ARGV[1])
  return 1
end
return 0
`)

func (w *Workers) sweepOwn(ctx context.Context) error {
	proc := w.keys.processing(w.id)
	ids, err := w.rdb.LRange(ctx, proc, 0, -1).Result()
	if err != nil {
		return err
	}
	w.mu.Lock()
	orphans := map[string]struct{}{}
	var requeue []string
	for _, id := range ids {
		if w.inflight[id] > 0 {
			continue
		}
		if _, seen := w.suspects[id]; seen {
			requeue = append(requeue, id)
		} else {
			orphans[id] = struct{}{}
		}
	}
	w.suspects = orphans
	w.mu.Unlock()
	for _, id := range requeue {
		n, err := requeueScript.Run(ctx, w.rdb, []string{proc, w.keys.queue()}, id).Int64()
		if err != nil {
			return err
		}
		w.stats.Requeued.Add(n)
		if n > 0 {
			w.log.Info("requeued a task no goroutine held", slog.String("task", id))
		}
	}
	return nil
}
