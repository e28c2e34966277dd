package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/redisguard/redisguard/examples/internal/exampleredis"
	"github.com/redisguard/redisguard/fxmodule"
	"github.com/redisguard/redisguard/health"
	"github.com/redisguard/redisguard/hooks"
	"github.com/redisguard/redisguard/profiles"
)

// outage takes Redis away from the app and brings it back.
//
// On the embedded server the demo stops the server itself and restarts it
// on the same address with the same data. A server named by the environment
// is not the demo's to stop: the demo never restarts it. Its clients talk
// to it through a TCP relay of the demo's own instead, and the outage cuts
// the relay: every connection is closed and new ones are refused, which is
// what the clients see when a server goes down, while the server and
// everything else using it carry on.
type outage interface {
	what() string // one line saying what goes away
	down()
	up() error
	close()
}

type embeddedOutage struct{ t *exampleredis.Target }

func (e embeddedOutage) what() string {
	return "the embedded Redis is stopped (connections closed, new ones refused) and restarted on the same address with its data"
}
func (e embeddedOutage) down()     { e.t.Down() }
func (e embeddedOutage) up() error { return e.t.Up() }
func (e embeddedOutage) close()    {}

// relayConfigs returns both sides' configurations from the environment,
// pointed at a relay to the server they name. It refuses what the relay
// cannot stand in for: a cluster, Sentinel, a unix socket or TLS.
func relayConfigs() (fxmodule.Configs, *relay, error) {
	api, err := profiles.FromEnv(profiles.API())
	if err != nil {
		return fxmodule.Configs{}, nil, err
	}
	worker, err := profiles.FromEnv(profiles.Worker())
	if err != nil {
		return fxmodule.Configs{}, nil, err
	}
	if api.Mode() != profiles.ModeSingle {
		return fxmodule.Configs{}, nil, fmt.Errorf("-outage needs a single server; the environment names a %s", api.Mode())
	}
	if api.TLS || api.TLSConfig != nil {
		return fxmodule.Configs{}, nil, errors.New("-outage cannot relay a TLS connection")
	}
	opts, err := api.ClientOptions()
	if err != nil {
		return fxmodule.Configs{}, nil, err
	}
	if opts.Network == "unix" {
		return fxmodule.Configs{}, nil, errors.New("-outage cannot relay a unix socket")
	}
	r, err := newRelay(opts.Addr)
	if err != nil {
		return fxmodule.Configs{}, nil, err
	}
	for _, c := range []*profiles.Config{&api, &worker} {
		if c.URL != "" {
			u, err := url.Parse(c.URL)
			if err != nil {
				r.close()
				return fxmodule.Configs{}, nil, fmt.Errorf("REDIS_URL=%s: %w", profiles.RedactURL(c.URL), err)
			}
			u.Host = r.addr
			c.URL = u.String()
		} else {
			c.Addr = r.addr
		}
	}
	return fxmodule.Configs{API: api, Worker: worker}, r, nil
}

// relay copies bytes between its clients and one server, and can be cut.
type relay struct {
	target string
	addr   string // where it listens; the same across cuts

	mu    sync.Mutex
	ln    net.Listener // nil while cut
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newRelay(target string) (*relay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting the outage relay: %w", err)
	}
	r := &relay{target: target, addr: ln.Addr().String(), conns: map[net.Conn]struct{}{}}
	r.serve(ln)
	return r, nil
}

func (r *relay) what() string {
	return fmt.Sprintf("the server at %s is not the demo's to stop: the demo's clients reach it through a relay at %s, and the relay is cut (connections closed, new ones refused); the server keeps running",
		r.target, r.addr)
}

func (r *relay) serve(ln net.Listener) {
	r.mu.Lock()
	r.ln = ln
	r.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				r.pipe(c)
			}()
		}
	}()
}

// pipe relays one client connection until either side closes or a cut.
func (r *relay) pipe(c net.Conn) {
	s, err := net.DialTimeout("tcp", r.target, 5*time.Second)
	if err != nil {
		_ = c.Close()
		return
	}
	if !r.track(c, s) {
		return
	}
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		_ = dst.Close()
		_ = src.Close()
		done <- struct{}{}
	}
	go cp(s, c)
	go cp(c, s)
	<-done
	<-done
	r.mu.Lock()
	delete(r.conns, c)
	delete(r.conns, s)
	r.mu.Unlock()
}

// track records both ends, or closes them when the relay is cut.
func (r *relay) track(c, s net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ln == nil {
		_ = c.Close()
		_ = s.Close()
		return false
	}
	r.conns[c], r.conns[s] = struct{}{}, struct{}{}
	return true
}

// down closes the listener and every connection.
func (r *relay) down() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ln != nil {
		_ = r.ln.Close()
		r.ln = nil
	}
	for c := range r.conns {
		_ = c.Close()
	}
}

// up listens again on the same address.
func (r *relay) up() error {
	ln, err := net.Listen("tcp", r.addr)
	if err != nil {
		return fmt.Errorf("reopening the outage relay on %s: %w", r.addr, err)
	}
	r.serve(ln)
	return nil
}

// close cuts the relay for good and waits for its goroutines.
func (r *relay) close() {
	r.down()
	r.wg.Wait()
}

// outageReport is what the API showed while Redis was away and after.
type outageReport struct {
	recovered bool // the API and /health answered 200 again
}

// probe is one request of the outage's probe loop.
type probe struct {
	code    int
	latency time.Duration
	breaker bool // the body says the breaker refused: hooks: circuit open
}

func probeOnce(ctx context.Context, hc *http.Client, url string) probe {
	t0 := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return probe{}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return probe{latency: time.Since(t0)}
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	_ = resp.Body.Close()
	return probe{code: resp.StatusCode, latency: time.Since(t0),
		breaker: strings.Contains(string(b), hooks.ErrCircuitOpen.Error())}
}

// runOutage takes Redis away for d while probing the API the way a client
// and a load balancer would (a task read, /health) every 100 ms, brings it
// back, probes until both answer 200 again, and prints what the API showed.
func runOutage(ctx context.Context, out io.Writer, cut outage, d time.Duration, hc *http.Client, base, taskID string) *outageReport {
	fmt.Fprintf(out, "outage:      for %s %s\n", d, cut.what())
	taskURL, healthURL := base+"/api/v1/tasks/"+taskID, base+"/health"
	var reads, failed, refused, health503 int
	var slowest time.Duration
	first503 := time.Duration(-1)
	t0 := time.Now()
	cut.down()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for time.Since(t0) < d {
		p := probeOnce(ctx, hc, taskURL)
		reads++
		if p.code != http.StatusOK && p.code != http.StatusNotFound {
			failed++
			slowest = max(slowest, p.latency)
			if p.breaker {
				refused++
			}
		}
		if h := probeOnce(ctx, hc, healthURL); h.code == http.StatusServiceUnavailable {
			health503++
			if first503 < 0 {
				first503 = time.Since(t0)
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return &outageReport{}
		}
	}
	fmt.Fprintf(out, "API saw:     %d task reads while Redis was away: %d failed with 503 (%d of them refused at once by the open breaker, %q), the slowest failure took %s\n",
		reads, failed, refused, hooks.ErrCircuitOpen.Error(), slowest.Round(time.Millisecond))
	if first503 >= 0 {
		fmt.Fprintf(out, "             /health answered 503 %d times, the first %s after Redis went away\n", health503, first503.Round(time.Millisecond))
	} else {
		fmt.Fprintf(out, "             /health never answered 503\n")
	}

	if err := cut.up(); err != nil {
		fmt.Fprintf(out, "FAIL: bringing Redis back: %v\n", err)
		return &outageReport{}
	}
	tUp := time.Now()
	var apiBack, healthBack time.Duration = -1, -1
	for deadline := tUp.Add(30 * time.Second); (apiBack < 0 || healthBack < 0) && time.Now().Before(deadline); {
		if p := probeOnce(ctx, hc, taskURL); apiBack < 0 && (p.code == http.StatusOK || p.code == http.StatusNotFound) {
			apiBack = time.Since(tUp)
		}
		if h := probeOnce(ctx, hc, healthURL); healthBack < 0 && h.code == http.StatusOK {
			healthBack = time.Since(tUp)
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return &outageReport{}
		}
	}
	rep := &outageReport{recovered: apiBack >= 0 && healthBack >= 0}
	if rep.recovered {
		fmt.Fprintf(out, "back:        Redis back after %s; task reads answered again %s later, /health 200 again %s later (the breaker lets traffic through once its probe is answered)\n",
			tUp.Sub(t0).Round(time.Millisecond), apiBack.Round(time.Millisecond), healthBack.Round(time.Millisecond))
	} else {
		fmt.Fprintf(out, "FAIL: the API did not recover within 30s of Redis coming back (task reads %v, /health %v)\n", apiBack >= 0, healthBack >= 0)
	}
	return rep
}

// printWorkers says what the workers rode out.
func (r *outageReport) printWorkers(out io.Writer, st *workerStats, api, worker health.Report) {
	fmt.Fprintf(out, "workers saw: %d waits for a task failed and were tried again after a backoff (%d refused by the open breaker, nothing sent); %d tasks hit a failed Redis step and were requeued; %d commit batches were sent again\n",
		st.TakeErrors.Load(), st.TakeCircuitOpen.Load(), st.HandleErrors.Load(), st.CommitRetries.Load())
	for _, rp := range []health.Report{api, worker} {
		if rt := rp.Hooks.Retry; rt != nil {
			fmt.Fprintf(out, "             %s client's Retry hook: %d commands sent again, %d of them then answered, %d gave up, %d not retried (not safe to send twice)\n",
				rp.Name, rt.Retries, rt.Recovered, rt.GaveUp, rt.NotRetried)
		}
	}
}
