package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/batch"
	"github.com/redisguard/redisguard/health"
)

// doc is one text the demo submits.
type doc struct {
	content string
	max     int
}

// corpus is where the demo's texts come from.
var corpus = strings.Fields(`redis queue worker task summary pool connection timeout retry breaker
limiter heartbeat pipeline batch latency throughput client server command blocking list hash
channel event result status failure recovery deadline budget node cluster`)

// demoDoc builds text number i: 6 to 17 sentences of 5 to 12 words, the
// same every time.
func demoDoc(i int) doc {
	seed := uint32(i*2654435761 + 12345)
	next := func(n int) int {
		seed = seed*1664525 + 1013904223
		return int(seed>>8) % n
	}
	var b strings.Builder
	sentences := 6 + next(12)
	for s := range sentences {
		words := 5 + next(8)
		for w := range words {
			word := corpus[next(len(corpus))]
			if w == 0 {
				word = strings.ToUpper(word[:1]) + word[1:]
			}
			b.WriteString(word)
			if w < words-1 {
				b.WriteByte(' ')
			}
		}
		b.WriteString(". ")
		if s%5 == 4 {
			b.WriteString("\n")
		}
	}
	return doc{content: b.String(), max: 1 + i%4}
}

// outcome is what the demo learned about one task.
type outcome struct {
	id       string
	submitOK bool
	resp     *taskResponse
}

// runDemo submits o.demo tasks over HTTP, waits for all of them, checks each
// one and prints a summary. It reports whether every task completed exactly
// once with the right summary.
func runDemo(ctx context.Context, out io.Writer, p parts, k keys, o options, cut outage) bool {
	n := o.demo
	base := "http://" + p.API.Addr()
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	defer hc.CloseIdleConnections()
	fmt.Fprintf(out, "taskflow demo: %d tasks, %d worker goroutines, API at %s\n", n, o.workers.Concurrency, base)

	docs := make([]doc, n)
	for i := range docs {
		docs[i] = demoDoc(i)
	}

	// Follow the progress events as a dashboard would, from before the
	// first task is submitted.
	ev, err := followEvents(ctx, p.APIClient, k)
	if err != nil {
		fmt.Fprintf(out, "FAIL: subscribing to %s: %v\n", k.channel(), err)
		return false
	}
	defer ev.close()
	ann, err := followResults(ctx, p.APIClient, k)
	if err != nil {
		fmt.Fprintf(out, "FAIL: subscribing to %s: %v\n", k.results(), err)
		return false
	}
	defer ann.close()

	start := time.Now()
	res, took := submitAll(ctx, out, hc, base, p, k, o, docs)

	var seen *outageReport
	if cut != nil {
		probe := "none"
		if res[0].submitOK {
			probe = res[0].id
		}
		seen = runOutage(ctx, out, cut, o.outage, hc, base, probe)
	}

	waitAll(ctx, hc, base, ev, res, o.demoTimeout)
	t := tallyTasks(docs, res, took)
	leftover, lerr := leftoverIDs(ctx, p.WorkerClient, k, res)
	announced := announce(ctx, out, p.APIClient, k, res, ann)
	t.print(out, start, len(took))

	st := &p.Workers.stats
	fmt.Fprintf(out, "recovery:    %d tasks recovered from dead workers, %d requeued by the live worker, %d commits superseded\n",
		st.Recovered.Load(), st.Requeued.Load(), st.Superseded.Load())
	fmt.Fprintf(out, "commits:     %d tasks in %d batches\n", st.Committed.Load()+st.Failed.Load(), st.CommitBatches.Load())
	if lerr != nil {
		fmt.Fprintf(out, "queues:      could not check: %v\n", lerr)
	} else {
		fmt.Fprintf(out, "queues:      %d of the demo's task ids left in the queue or a processing list\n", leftover)
	}
	api, worker := p.APIMonitor.Check(ctx), p.WorkerMonitor.Check(ctx)
	if seen != nil {
		seen.printWorkers(out, st, api, worker)
	}
	for _, r := range []health.Report{api, worker} {
		fmt.Fprintf(out, "%-13s%s\n", r.Name+":", describe(r))
	}
	// What an operator's probe gets, over HTTP (shortened). /metrics is not
	// served: the metrics adapters live in their own modules (extra/), which
	// this example, in the core module, does not import.
	for _, path := range []string{"/health", "/api/v1/redis/pool-stats"} {
		fmt.Fprintf(out, "GET %s -> %s\n", path, fetchShort(ctx, hc, base+path, 240))
	}

	ok := t.doneOnce == n && leftover == 0 && lerr == nil && announced && (seen == nil || seen.recovered)
	if ok {
		fmt.Fprintf(out, "PASS: all %d tasks completed exactly once\n", n)
	} else {
		fmt.Fprintf(out, "FAIL: %d of %d tasks completed exactly once\n", t.doneOnce, n)
	}
	return ok
}

// submitAll submits the demo's tasks, three quarters one by one and the
// rest as one batch request, while (with -demo-crash) a worker that takes
// tasks and dies without finishing them runs beside. It returns each
// task's outcome and the ids the dead worker took.
func submitAll(ctx context.Context, out io.Writer, hc *http.Client, base string, p parts, k keys, o options, docs []doc) ([]outcome, map[string]bool) {
	submitted := make(chan struct{})
	ghostTook := make(chan []string, 1)
	if o.demoCrash > 0 {
		go func() { ghostTook <- deadWorker(p.WorkerClient, k, o.demoCrash, submitted) }()
	} else {
		ghostTook <- nil
	}

	n := len(docs)
	nb := n / 4
	ns := n - nb
	start := time.Now()
	res := make([]outcome, n)
	parallel(ns, 16, func(i int) {
		id, err := submitTask(ctx, hc, base, docs[i])
		res[i] = outcome{id: id, submitOK: err == nil}
		if err != nil {
			fmt.Fprintf(out, "submit %d: %v\n", i, err)
		}
	})
	fmt.Fprintf(out, "submitted %d tasks one by one over HTTP in %s\n", ns, time.Since(start).Round(time.Millisecond))
	if nb > 0 {
		br, code, err := submitBatch(ctx, hc, base, docs[ns:])
		switch {
		case err != nil:
			fmt.Fprintf(out, "batch:       POST /api/v1/summarize/batch: %v\n", err)
		default:
			for i, id := range br.TaskIDs {
				res[ns+i] = outcome{id: id, submitOK: br.Status[i] == statusQueued}
			}
			fmt.Fprintf(out, "batch:       %d tasks in one POST /api/v1/summarize/batch -> %d, %d queued\n", nb, code, br.Queued)
			fmt.Fprintf(out, "             task hashes, batch.Run:   %s\n", br.Hashes)
			fmt.Fprintf(out, "             queue ids,   batch.RPush: %s\n", br.Queue)
		}
	}
	close(submitted)
	took := <-ghostTook
	ghost := make(map[string]bool, len(took))
	for _, id := range took {
		ghost[id] = true
	}
	if o.demoCrash > 0 {
		fmt.Fprintf(out, "a simulated worker took %d tasks and died without finishing them (its heartbeat expires 1s after its last beat)\n", len(took))
	}
	return res, ghost
}

// waitAll waits for every submitted task to finish, or for timeout: the
// progress events say when, and the API is asked directly about tasks
// whose events are late. Then it reads every task back through the API.
func waitAll(ctx context.Context, hc *http.Client, base string, ev *events, res []outcome, timeout time.Duration) {
	ours := make(map[string]bool, len(res))
	for _, r := range res {
		if r.submitOK {
			ours[r.id] = true
		}
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
wait:
	for {
		remaining := ev.unfinished(ours)
		if len(remaining) == 0 {
			break
		}
		select {
		case <-ev.changed:
		case <-tick.C:
			if time.Since(ev.lastEvent()) < time.Second {
				continue
			}
			parallel(len(remaining), 16, func(j int) {
				if tr, err := getTask(ctx, hc, base, remaining[j]); err == nil && (tr.Status == statusDone || tr.Status == statusFailed) {
					ev.finish(remaining[j])
				}
			})
		case <-deadline.C:
			break wait
		case <-ctx.Done():
			break wait
		}
	}

	parallel(len(res), 16, func(i int) {
		if res[i].submitOK {
			if tr, err := getTask(ctx, hc, base, res[i].id); err == nil && (tr.Status == statusDone || tr.Status == statusFailed) {
				res[i].resp = tr
			}
		}
	})
}

// tally counts the demo's tasks by what became of them, and when the
// last task of the live and of the dead worker finished.
type tally struct {
	doneOnce, failed, twice, wrong, unfinished, notSubmitted int
	last, lastGhost                                          time.Time
}

// tallyTasks checks every task against its document's expected summary.
func tallyTasks(docs []doc, res []outcome, ghost map[string]bool) tally {
	var t tally
	for i, r := range res {
		switch {
		case !r.submitOK:
			t.notSubmitted++
		case r.resp == nil:
			t.unfinished++
		case r.resp.Status == statusFailed:
			t.failed++
		case r.resp.Completions > 1:
			t.twice++
		case r.resp.Summary != summarize(docs[i].content, docs[i].max).Text:
			t.wrong++
		case r.resp.Completions == 1:
			t.doneOnce++
		default:
			t.wrong++ // done with no completion counted
		}
		if r.resp != nil {
			at, err := time.Parse(time.RFC3339Nano, r.resp.FinishedAt)
			switch {
			case err != nil:
			case ghost[r.id] && at.After(t.lastGhost):
				t.lastGhost = at
			case !ghost[r.id] && at.After(t.last):
				t.last = at
			}
		}
	}
	return t
}

// print writes the throughput, recovery and per-outcome lines; took is
// how many tasks the dead worker took.
func (t tally) print(out io.Writer, start time.Time, took int) {
	n := t.doneOnce + t.failed + t.twice + t.wrong + t.unfinished + t.notSubmitted
	if !t.last.IsZero() {
		el := t.last.Sub(start)
		fmt.Fprintf(out, "throughput:  %d tasks finished %s after the first submit (%.0f tasks/s)\n",
			n-took, el.Round(time.Millisecond), float64(n-took)/el.Seconds())
	}
	if !t.lastGhost.IsZero() {
		fmt.Fprintf(out, "recovered:   the dead worker's %d tasks finished %s after the first submit, once its heartbeat expired\n",
			took, t.lastGhost.Sub(start).Round(time.Millisecond))
	}
	fmt.Fprintf(out, "tasks:       %d done exactly once, %d failed, %d completed more than once, %d wrong summaries, %d unfinished, %d not submitted\n",
		t.doneOnce, t.failed, t.twice, t.wrong, t.unfinished, t.notSubmitted)
}

// announcement is one finished task's result on the results channel.
type announcement struct {
	TaskID  string `json:"task_id"`
	Status  string `json:"status"`
	Summary string `json:"summary"`
}

// announce publishes every finished task's result with batch.Publish, as
// a notifier would, waits until the demo's own subscriber has received
// them, and prints both sides. It reports whether every result was written
// and received.
func announce(ctx context.Context, out io.Writer, rdb redis.UniversalClient, k keys, res []outcome, r *results) bool {
	var msgs []string
	for _, o := range res {
		if o.resp != nil {
			b, _ := json.Marshal(announcement{TaskID: o.id, Status: o.resp.Status, Summary: o.resp.Summary})
			msgs = append(msgs, string(b))
		}
	}
	// A subscription cut by an outage is made again on its next use: make
	// sure it is live before publishing (PUBLISH reaches only the
	// subscribers connected at that moment).
	for deadline := time.Now().Add(10 * time.Second); r.ps.Ping(ctx) != nil && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	pres, err := batch.Publish(ctx, rdb, k.results(), msgs, batch.Options{})
	for deadline := time.Now().Add(5 * time.Second); r.count() < len(pres.Written) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Fprintf(out, "announce:    %d results published on %s with batch.Publish: %s; the demo's subscriber received %d\n",
		len(msgs), k.results(), report(pres, err), r.count())
	return err == nil && r.count() == len(msgs)
}

// String puts a batch report on one line.
func (r batchReport) String() string {
	s := fmt.Sprintf("%d written, %d not written, %d unknown", r.Written, len(r.NotWritten), len(r.Unknown))
	if r.Error != "" {
		s += " (" + r.Error + ")"
	}
	return s
}

// describe puts a monitor's report on one line.
func describe(r health.Report) string {
	pl := r.Pool
	s := fmt.Sprintf("%s; pool max %d, created %d, in use %d, idle %d, hits %d, misses %d, timeouts %d, waits %d",
		r.Status, pl.MaxConnections, pl.CreatedConnections, pl.InUseConnections, pl.AvailableConnections,
		pl.Hits, pl.Misses, pl.Timeouts, pl.Waits)
	if l := r.Hooks.Limiter; l != nil {
		s += fmt.Sprintf("; limiter admitted %d, rejected %d, longest wait %s", l.Admitted, l.Rejected, l.MaxWaitSeen.Round(time.Microsecond))
	}
	if rt := r.Hooks.Retry; rt != nil {
		s += fmt.Sprintf("; retries %d", rt.Retries)
	}
	var br []string
	for addr, state := range r.Hooks.Breakers {
		br = append(br, addr+" "+string(state))
	}
	sort.Strings(br)
	if len(br) > 0 {
		s += "; breaker " + strings.Join(br, ", ")
	}
	return s
}

// deadWorker plays a worker that takes up to n tasks the way real workers
// do (BLMOVE into its processing list, with a heartbeat), then dies: it
// stops beating and never finishes them. It stops taking once the queue
// stays empty after every task was submitted. It returns the ids it took.
func deadWorker(rdb redis.UniversalClient, k keys, n int, submitted <-chan struct{}) []string {
	id := "demo-dead-worker-" + newID(3)
	ctx := context.Background()
	var took []string
	for len(took) < n {
		// The heartbeat a real worker would keep; this one lapses 1s after
		// the last task it took.
		if err := rdb.Set(ctx, k.heartbeatPrefix()+id, "about to die", time.Second).Err(); err != nil {
			return took
		}
		task, err := rdb.BLMove(ctx, k.queue(), k.processing(id), "LEFT", "RIGHT", time.Second).Result()
		if errors.Is(err, redis.Nil) {
			select {
			case <-submitted:
				return took
			default:
				continue
			}
		}
		if err != nil {
			return took
		}
		took = append(took, task)
	}
	return took
}

// leftoverIDs counts the demo's task ids still in the queue or in any
// processing list: after every task finished there must be none.
func leftoverIDs(ctx context.Context, rdb redis.UniversalClient, k keys, res []outcome) (int, error) {
	ours := make(map[string]bool, len(res))
	for _, r := range res {
		ours[r.id] = true
	}
	lists := []string{k.queue()}
	iter := rdb.Scan(ctx, 0, k.processingPattern(), 100).Iterator()
	for iter.Next(ctx) {
		lists = append(lists, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, l := range lists {
		ids, err := rdb.LRange(ctx, l, 0, -1).Result()
		if err != nil {
			return 0, err
		}
		for _, id := range ids {
			if ours[id] {
				n++
			}
		}
	}
	return n, nil
}
