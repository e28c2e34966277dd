package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/redis/go-redis/v9"
)

// Task statuses, as stored in the task hash and returned by the API.
const (
	statusQueued     = "queued"
	statusProcessing = "processing"
	statusDone       = "done"
	statusFailed     = "failed"
)

// keys names every Redis key taskflow uses, under one prefix:
//
//	PREFIX:queue               list of task ids waiting for a worker
//	PREFIX:processing:WORKER   list of task ids a worker has taken (reliable queue)
//	PREFIX:workers:WORKER      a worker's heartbeat, with a TTL
//	PREFIX:task:ID             hash: status, content, summary, worker, attempts, completions, times
//	PREFIX:task:ID:events      list of the task's progress events (JSON)
//	PREFIX:events              pub/sub channel carrying every progress event
//	PREFIX:results             pub/sub channel the demo announces finished tasks' results on
type keys struct{ prefix string }

func (k keys) queue() string                   { return k.prefix + ":queue" }
func (k keys) processing(worker string) string { return k.prefix + ":processing:" + worker }
func (k keys) processingPattern() string       { return k.prefix + ":processing:*" }
func (k keys) heartbeatPrefix() string         { return k.prefix + ":workers:" }
func (k keys) task(id string) string           { return k.prefix + ":task:" + id }
func (k keys) events(id string) string         { return k.prefix + ":task:" + id + ":events" }
func (k keys) channel() string                 { return k.prefix + ":events" }
func (k keys) results() string                 { return k.prefix + ":results" }

// event is one progress record of a task.
type event struct {
	TaskID string    `json:"task_id"`
	Stage  string    `json:"stage"` // started, split, ranked, done, failed
	Worker string    `json:"worker"`
	At     time.Time `json:"at"`
	Detail string    `json:"detail,omitempty"`
}

func (e event) json() string {
	b, _ := json.Marshal(e) // plain fields: cannot fail
	return string(b)
}

// newID returns a random task or worker id.
func newID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// commitScript finishes a task exactly once. It removes the id from the
// worker's processing list, and only if it was there (this worker still
// owns the task: the reaper did not hand it to another worker meanwhile)
// writes the result, counts the completion, appends and publishes the final
// event and sets the result's TTL. It returns 1 when it committed, 2 when
// the task is already finished by this worker (an earlier run of this very
// commit whose reply was lost, so sending it again is safe), 0 when the
// task is no longer this worker's.
//
// KEYS: processing list, task hash, events list.
// ARGV: task id, worker, status, summary, sentences, finished_at, event JSON, TTL seconds, channel, error.
var commitScript = redis.NewScript(`
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 1 then
  redis.call('HSET', KEYS[2], 'status', ARGV[3], 'summary', ARGV[4], 'sentences', ARGV[5],
    'finished_at', ARGV[6], 'worker', ARGV[2], 'error', ARGV[10])
  redis.call('HINCRBY', KEYS[2], 'completions', 1)
  redis.call('RPUSH', KEYS[3], ARGV[7])
  redis.call('PUBLISH', ARGV[9], ARGV[7])
  local ttl = tonumber(ARGV[8])
  if ttl > 0 then
    redis.call('EXPIRE', KEYS[2], ttl)
    redis.call('EXPIRE', KEYS[3], ttl)
  end
  return 1
end
local st = redis.call('HMGET', KEYS[2], 'status', 'worker')
if (st[1] == 'done' or st[1] == 'failed') and st[2] == ARGV[2] then
  return 2
end
return 0
`)
