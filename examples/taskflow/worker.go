package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/batch"
	"github.com/redisguard/redisguard/health"
	"github.com/redisguard/redisguard/hooks"
)

// workerSettings tune a worker pool.
type workerSettings struct {
	Concurrency   int           // goroutines taking tasks
	Poll          time.Duration // BLMOVE timeout: how long one wait for a task lasts
	HeartbeatTTL  time.Duration // the heartbeat key's TTL; refreshed every TTL/3
	ReapInterval  time.Duration // how often dead workers' tasks are looked for
	ResultTTL     time.Duration // how long a finished task is kept
	MaxAttempts   int           // tries of one task before it is marked failed
	HandleTimeout time.Duration // bound on the Redis work of one task
}

// Workers is a pool of goroutines taking tasks from the queue with the
// reliable-queue pattern:
//
//  1. BLMOVE queue -> PREFIX:processing:WORKER (finite timeout, so a stop is
//     prompt): the task is never only in memory;
//  2. summarise it, writing progress events with the batch helpers;
//  3. commit it with commitScript (LREM from the processing list, then the
//     result): committed exactly once, even if the task was handed to
//     another worker meanwhile. Commits of several tasks go out together
//     through batch.Run, and the batch report says which to send again.
//
// A heartbeat (health.Heartbeat) says the worker is alive. The reaper moves
// the processing lists of workers whose heartbeat has expired back to the
// queue (LMOVE, one atomic step per task), and requeues tasks in this
// worker's own list that no goroutine holds (a lost BLMOVE reply, a task
// whose handling failed).
type Workers struct {
	id   string
	rdb  redis.UniversalClient
	keys keys
	set  workerSettings
	log  *slog.Logger
	hb   *health.Heartbeat

	quit          chan struct{} // closed by Stop
	loops         sync.WaitGroup
	loopsDone     chan struct{} // closed when every loop has returned
	commits       chan *commit
	committerDone chan struct{}
	reaperDone    chan struct{}

	mu       sync.Mutex
	inflight map[string]int      // task ids a goroutine or the committer holds
	suspects map[string]struct{} // own-list ids no one held at the last sweep

	stats workerStats
}

// workerStats are the pool's counters.
type workerStats struct {
	Taken, Committed, Superseded, Failed, Recovered, Requeued, CommitBatches, ReaperPasses atomic.Int64
	// What the pool rode out: waits for a task that failed and were tried
	// again after a backoff (of which the breaker refused, nothing sent),
	// tasks whose handling failed on a Redis step (left for the reaper to
	// requeue), and commit batches sent again.
	TakeErrors, TakeCircuitOpen, HandleErrors, CommitRetries atomic.Int64
}

// commit is one finished task waiting to be committed.
type commit struct {
	id, status, summary, errMsg string
	sentences                   int
	finished                    time.Time
	cmd                         *redis.Cmd
}

func newWorkers(rdb redis.UniversalClient, k keys, set workerSettings, log *slog.Logger) (*Workers, error) {
	host, _ := os.Hostname()
	if host == "" {
		host = "host"
	}
	id := fmt.Sprintf("%s-%d-%s", host, os.Getpid(), newID(3))
	hb, err := health.NewHeartbeat(rdb, k.heartbeatPrefix()+id, strconv.Itoa(set.Concurrency)+" goroutines", set.HeartbeatTTL, 0)
	if err != nil {
		return nil, fmt.Errorf("taskflow: %w", err)
	}
	return &Workers{
		id: id, rdb: rdb, keys: k, set: set, log: log.With(slog.String("worker", id)), hb: hb,
		quit: make(chan struct{}), loopsDone: make(chan struct{}),
		commits: make(chan *commit, set.Concurrency), committerDone: make(chan struct{}),
		reaperDone: make(chan struct{}),
		inflight:   map[string]int{}, suspects: map[string]struct{}{},
	}, nil
}

// ID is the worker's id (its heartbeat and processing list carry it).
func (w *Workers) ID() string { return w.id }

// Start registers the heartbeat (so no reaper takes this worker for dead)
// and starts the reaper, the committer and the goroutines.
func (w *Workers) Start(ctx context.Context) error {
	if err := w.hb.Beat(ctx); err != nil {
		return fmt.Errorf("taskflow: worker heartbeat: %w", err)
	}
	w.hb.Start()
	go w.reaper()
	go w.committer()
	w.loops.Add(w.set.Concurrency)
	for range w.set.Concurrency {
		go w.loop()
	}
	go func() { w.loops.Wait(); close(w.loopsDone) }()
	w.log.Info("taskflow workers started", slog.Int("goroutines", w.set.Concurrency))
	return nil
}

// Stop lets every goroutine finish the task it holds (each BLMOVE ends
// within Poll), commits what is finished, moves what is left in this
// worker's processing list back to the queue, and removes the heartbeat.
// ctx bounds the whole stop.
func (w *Workers) Stop(ctx context.Context) error {
	close(w.quit)
	var errs []error
	for _, ch := range []chan struct{}{w.loopsDone, w.committerDone, w.reaperDone} {
		select {
		case <-ch:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("taskflow: workers did not stop in time: %w", ctx.Err()))
		}
		if len(errs) > 0 {
			break
		}
	}
	n, err := w.moveAll(ctx, w.keys.processing(w.id))
	if err != nil {
		errs = append(errs, fmt.Errorf("taskflow: requeueing this worker's tasks: %w", err))
	}
	w.stats.Requeued.Add(int64(n))
	if err := w.hb.Stop(ctx); err != nil {
		errs = append(errs, err)
	}
	w.log.Info("taskflow workers stopped", slog.Int("requeued", n))
	return errors.Join(errs...)
}

func (w *Workers) stopping() bool {
	select {
	case <-w.quit:
		return true
	default:
		return false
	}
}

// wait sleeps d unless the pool stops first; it reports whether to go on.
func (w *Workers) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-w.quit:
		return false
	}
}

func (w *Workers) loop() {
	defer w.loops.Done()
	proc := w.keys.processing(w.id)
	failures := 0
	for !w.stopping() {
		// Not cancelled by Stop: a BLMOVE whose reply is on its way must
		// be read, or the task would sit in the processing list unseen.
		// The Timeouts hook bounds it to Poll plus its margin.
		id, err := w.rdb.BLMove(context.Background(), w.keys.queue(), proc, "LEFT", "RIGHT", w.set.Poll).Result()
		switch {
		case errors.Is(err, redis.Nil):
			failures = 0
			continue
		case err != nil:
			failures++
			w.stats.TakeErrors.Add(1)
			if errors.Is(err, hooks.ErrCircuitOpen) {
				w.stats.TakeCircuitOpen.Add(1)
			}
			w.log.Warn("taking a task failed", slog.String("error", err.Error()))
			if !w.wait(backoff(failures)) {
				return
			}
			continue
		}
		failures = 0
		w.stats.Taken.Add(1)
		w.hold(id)
		if c := w.handle(id); c != nil {
			w.commits <- c // the committer runs until every loop has returned
		} else {
			// Nothing to commit: the task was finished already, or a
			// Redis step failed (handle logged it).
			w.release(id)
		}
	}
}

func backoff(failures int) time.Duration {
	d := 50 * time.Millisecond << min(failures, 5)
	return min(d, time.Second)
}

func (w *Workers) hold(id string) {
	w.mu.Lock()
	w.inflight[id]++
	w.mu.Unlock()
}

func (w *Workers) release(id string) {
	w.mu.Lock()
	if w.inflight[id]--; w.inflight[id] <= 0 {
		delete(w.inflight, id)
	}
	w.mu.Unlock()
}

// handle does the work of one task and returns its commit, or nil when there
// is nothing to commit (the task is gone or finished; or a Redis step failed,
// in which case the id stays in the processing list and the reaper's sweep
// requeues it).
func (w *Workers) handle(id string) *commit {
	ctx, cancel := context.WithTimeout(context.Background(), w.set.HandleTimeout)
	defer cancel()
	proc, tk := w.keys.processing(w.id), w.keys.task(id)

	vals, err := w.rdb.HMGet(ctx, tk, "content", "max_sentences", "status").Result()
	if err != nil {
		w.stats.HandleErrors.Add(1)
		w.log.Warn("reading a task failed", slog.String("task", id), slog.String("error", err.Error()))
		return nil
	}
	content, _ := vals[0].(string)
	maxS, _ := vals[1].(string)
	status, _ := vals[2].(string)
	if vals[0] == nil || status == statusDone || status == statusFailed {
		// Expired, deleted, or finished already (the id was queued twice):
		// nothing to do but to drop the id.
		if err := w.rdb.LRem(ctx, proc, 1, id).Err(); err != nil {
			w.log.Warn("dropping a finished task's id failed", slog.String("task", id), slog.String("error", err.Error()))
		}
		return nil
	}

	var attempts *redis.IntCmd
	started := time.Now().UTC()
	if _, err := w.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, tk, "status", statusProcessing, "worker", w.id, "started_at", started.Format(time.RFC3339Nano))
		attempts = p.HIncrBy(ctx, tk, "attempts", 1)
		return nil
	}); err != nil {
		w.stats.HandleErrors.Add(1)
		w.log.Warn("marking a task as processing failed", slog.String("task", id), slog.String("error", err.Error()))
		return nil
	}
	if n := attempts.Val(); n > int64(w.set.MaxAttempts) {
		return &commit{id: id, status: statusFailed, finished: time.Now().UTC(),
			errMsg: fmt.Sprintf("gave up after %d attempts", n-1)}
	}

	max, _ := strconv.Atoi(maxS)
	sum := summarize(content, max)

	evs := []event{
		{TaskID: id, Stage: "started", Worker: w.id, At: started, Detail: "attempt " + strconv.FormatInt(attempts.Val(), 10)},
		{TaskID: id, Stage: "split", Worker: w.id, At: time.Now().UTC(), Detail: strconv.Itoa(sum.Sentences) + " sentences"},
		{TaskID: id, Stage: "ranked", Worker: w.id, At: time.Now().UTC(), Detail: "kept " + strconv.Itoa(sum.Chosen)},
	}
	// Progress is worth a round trip, not a failure: a batch that is not
	// written whole is logged, and the task goes on.
	res, err := batch.Run(ctx, w.rdb, evs, func(p redis.Pipeliner, e event) error {
		js := e.json()
		p.RPush(ctx, w.keys.events(id), js)
		p.Publish(ctx, w.keys.channel(), js)
		return nil
	}, batch.Options{})
	if err != nil {
		w.log.Warn("progress events not all written", slog.String("task", id),
			slog.Int("written", len(res.Written)), slog.Int("not_written", len(res.NotWritten)),
			slog.Int("unknown", len(res.Unknown)), slog.String("error", err.Error()))
	}
	return &commit{id: id, status: statusDone, summary: sum.Text, sentences: sum.Sentences, finished: time.Now().UTC()}
}

// committer commits finished tasks in batches until every loop has
// returned and nothing is left to commit. At stop it tries a failing batch
// three times, then leaves the tasks to be requeued.
func (w *Workers) committer() {
	defer close(w.committerDone)
	var pending []*commit
	failures := 0
	for {
		if len(pending) == 0 {
			select {
			case c := <-w.commits:
				pending = append(pending, c)
			case <-w.loopsDone:
				// No loop sends any more: commit what they sent last.
				if pending = w.drain(pending); len(pending) == 0 {
					return
				}
			}
		}
		pending = w.flush(w.drain(pending))
		if len(pending) == 0 {
			failures = 0
			continue
		}
		failures++
		w.stats.CommitRetries.Add(1)
		select {
		case <-w.loopsDone:
			if failures >= 3 {
				w.log.Warn("tasks left uncommitted at stop; they will be requeued", slog.Int("tasks", len(pending)))
				for _, c := range pending {
					w.release(c.id)
				}
				return
			}
		default:
		}
		time.Sleep(backoff(failures)) // at most 1 s; loops wait on the channel meanwhile
	}
}

// drain adds to pending every commit waiting in the channel.
func (w *Workers) drain(pending []*commit) []*commit {
	for {
		select {
		case c := <-w.commits:
			pending = append(pending, c)
		default:
			return pending
		}
	}
}

// flush commits pending through one batch and returns the commits to send
// again: those certainly not written, and those whose outcome is unknown
// (commitScript is safe to run twice).
func (w *Workers) flush(pending []*commit) []*commit {
	ctx, cancel := context.WithTimeout(context.Background(), w.set.HandleTimeout)
	defer cancel()
	proc := w.keys.processing(w.id)
	ttl := strconv.Itoa(int(w.set.ResultTTL / time.Second))
	res, err := batch.Run(ctx, w.rdb, pending, func(p redis.Pipeliner, c *commit) error {
		stage := "done"
		if c.status == statusFailed {
			stage = "failed"
		}
		ev := event{TaskID: c.id, Stage: stage, Worker: w.id, At: c.finished, Detail: c.errMsg}
		c.cmd = commitScript.Eval(ctx, p,
			[]string{proc, w.keys.task(c.id), w.keys.events(c.id)},
			c.id, w.id, c.status, c.summary, c.sentences, c.finished.Format(time.RFC3339Nano),
			ev.json(), ttl, w.keys.channel(), c.errMsg)
		return nil
	}, batch.Options{})
	w.stats.CommitBatches.Add(1)

	for _, i := range res.Written {
		c := pending[i]
		switch n, _ := c.cmd.Int64(); n {
		case 1, 2:
			if c.status == statusFailed {
				w.stats.Failed.Add(1)
			} else {
				w.stats.Committed.Add(1)
			}
		default:
			w.stats.Superseded.Add(1)
			w.log.Info("task finished here but taken over meanwhile; the other worker's result counts", slog.String("task", c.id))
		}
		w.release(c.id)
	}
	rejected := map[int]bool{}
	for _, ie := range res.Errors {
		rejected[ie.Index] = true
		w.log.Error("commit rejected by the server; the task will be requeued",
			slog.String("task", pending[ie.Index].id), slog.String("error", ie.Err.Error()))
		w.release(pending[ie.Index].id)
	}
	var again []*commit
	for _, i := range res.NotWritten {
		if !rejected[i] {
			again = append(again, pending[i])
		}
	}
	again = append(again, batch.Pick(pending, res.Unknown)...)
	if len(again) > 0 && err != nil {
		w.log.Warn("commit batch incomplete, sending again", slog.Int("tasks", len(again)),
			slog.Int("unknown", len(res.Unknown)), slog.String("error", err.Error()))
	}
	return again
}
