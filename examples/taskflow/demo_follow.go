package main

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// events follows the progress channel and keeps the ids of finished tasks.
type events struct {
	ps      *redis.PubSub
	done    chan struct{}
	changed chan struct{} // signalled (without blocking) when a task finishes

	mu       sync.Mutex
	finished map[string]bool
	last     time.Time
}

func followEvents(ctx context.Context, rdb redis.UniversalClient, k keys) (*events, error) {
	ps := rdb.Subscribe(ctx, k.channel())
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := ps.Receive(rctx); err != nil { // the subscription is confirmed
		_ = ps.Close()
		return nil, err
	}
	e := &events{ps: ps, done: make(chan struct{}), changed: make(chan struct{}, 1), finished: map[string]bool{}, last: time.Now()}
	go func() {
		defer close(e.done)
		for m := range ps.Channel() {
			var ev event
			if json.Unmarshal([]byte(m.Payload), &ev) != nil {
				continue
			}
			e.mu.Lock()
			e.last = time.Now()
			e.mu.Unlock()
			if ev.Stage == "done" || ev.Stage == "failed" {
				e.finish(ev.TaskID)
			}
		}
	}()
	return e, nil
}

func (e *events) finish(id string) {
	e.mu.Lock()
	e.finished[id] = true
	e.mu.Unlock()
	select {
	case e.changed <- struct{}{}:
	default:
	}
}

func (e *events) lastEvent() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.last
}

// unfinished returns the ids of ours not finished yet.
func (e *events) unfinished(ours map[string]bool) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for id := range ours {
		if !e.finished[id] {
			out = append(out, id)
		}
	}
	return out
}

func (e *events) close() {
	_ = e.ps.Close() // ends the Channel loop
	<-e.done
}

// results follows the results channel and counts what it receives.
type results struct {
	ps       *redis.PubSub
	done     chan struct{}
	mu       sync.Mutex
	received map[string]bool
}

func followResults(ctx context.Context, rdb redis.UniversalClient, k keys) (*results, error) {
	ps := rdb.Subscribe(ctx, k.results())
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := ps.Receive(rctx); err != nil {
		_ = ps.Close()
		return nil, err
	}
	r := &results{ps: ps, done: make(chan struct{}), received: map[string]bool{}}
	go func() {
		defer close(r.done)
		for m := range ps.Channel() {
			var a announcement
			if json.Unmarshal([]byte(m.Payload), &a) == nil {
				r.mu.Lock()
				r.received[a.TaskID] = true
				r.mu.Unlock()
			}
		}
	}()
	return r, nil
}

func (r *results) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.received)
}

func (r *results) close() {
	_ = r.ps.Close()
	<-r.done
}
