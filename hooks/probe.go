package hooks

import (
	"bufio"
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
)

// startProbe starts probing nb unless probes are off, the Breaker is
// closed, nb's node is unknown, or a probe of nb runs already. It is called
// under nb's gobreaker lock and nb.mu, so it only starts a goroutine.
func (b *Breaker) startProbe(nb *nodeBreaker) {
	if b.probeInterval <= 0 || nb.target.Load() == nil || !nb.probing.CompareAndSwap(false, true) {
		return
	}
	b.probeMu.Lock()
	defer b.probeMu.Unlock()
	if b.probeClosed {
		nb.probing.Store(false)
		return
	}
	b.probes.Add(1)
	go b.probe(nb)
}

// probe probes nb until its circuit is closed (by the probes or by a
// caller's half-open call), nb leaves the cache, or the Breaker is closed.
func (b *Breaker) probe(nb *nodeBreaker) {
	defer b.probes.Done()
	for {
		b.probeUntilClosed(nb)
		nb.probing.Store(false)
		// The circuit may have opened again while this probe was ending,
		// and found it still running: then go on.
		if nb.closed.Load() || nb.evicted.Load() || b.probeCtx.Err() != nil || !nb.probing.CompareAndSwap(false, true) {
			return
		}
	}
}

func (b *Breaker) probeUntilClosed(nb *nodeBreaker) {
	target := nb.target.Load()
	tick := time.NewTicker(b.probeInterval)
	defer tick.Stop()
	var successes uint32
	for {
		select {
		case <-b.probeCtx.Done():
			return
		case <-tick.C:
		}
		if nb.closed.Load() || nb.evicted.Load() {
			return
		}
		cb := nb.cb.Load()
		ctx, cancel := context.WithTimeout(b.probeCtx, b.probeInterval)
		err := ping(ctx, target)
		cancel()
		if err != nil {
			successes = 0
			continue
		}
		if successes++; successes >= b.halfOpenProbes {
			b.closeCircuit(nb, cb)
			return
		}
	}
}

// closeCircuit replaces nb's gobreaker cb, open or half-open, with a
// closed one, and reports the change. A cb already replaced or closed is
// left as it is.
func (b *Breaker) closeCircuit(nb *nodeBreaker, cb *gobreaker.CircuitBreaker[struct{}]) {
	nb.mu.Lock()
	if nb.cb.Load() != cb || nb.state == gobreaker.StateClosed {
		nb.mu.Unlock()
		return
	}
	from := nb.state
	nb.cb.Store(b.newCircuit(nb))
	nb.state = gobreaker.StateClosed
	nb.closed.Store(true)
	b.enqueue(nb.addr, from, gobreaker.StateClosed)
	nb.mu.Unlock()
	b.deliver()
}

// ping is one probe of the node o reaches: a connection of its own, made
// by o's Dialer (so with its TLS, or its Sentinel's master lookup), AUTH
// when o has credentials, and PING, all bounded by ctx. It returns nil when
// the node answers as a healthy node does: PONG, or an error reply that is
// not about the node's state (NOAUTH, say), as a caller's call would count.
func ping(ctx context.Context, o *redis.Options) error {
	var cmd []byte
	user, pass, err := probeCredentials(ctx, o)
	if err != nil {
		return err
	}
	replies := 1
	switch {
	case user != "" && pass != "":
		cmd, replies = appendCommand(cmd, "AUTH", user, pass), 2
	case pass != "":
		cmd, replies = appendCommand(cmd, "AUTH", pass), 2
	}
	cmd = appendCommand(cmd, "PING")

	conn, err := o.Dialer(ctx, o.Network, o.Addr)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := conn.Write(cmd); err != nil {
		return err
	}
	r := bufio.NewReader(conn)
	for i := 0; i < replies; i++ {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if msg, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "-"); ok {
			if _, fault := classify(probeReplyError(msg), false); fault {
				return probeReplyError(msg)
			}
		}
	}
	return nil
}

// probeCredentials returns what go-redis would authenticate o's
// connections with. A StreamingCredentialsProvider is not asked: the probe
// goes unauthenticated, and a NOAUTH answer still shows the node is up.
func probeCredentials(ctx context.Context, o *redis.Options) (user, pass string, err error) {
	switch {
	case o.StreamingCredentialsProvider != nil:
		return "", "", nil
	case o.CredentialsProviderContext != nil:
		return o.CredentialsProviderContext(ctx)
	case o.CredentialsProvider != nil:
		user, pass = o.CredentialsProvider()
		return user, pass, nil
	}
	return o.Username, o.Password, nil
}

// appendCommand appends args to b as a RESP array of bulk strings.
func appendCommand(b []byte, args ...string) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, "\r\n"...)
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, "\r\n"...)
		b = append(b, a...)
		b = append(b, "\r\n"...)
	}
	return b
}

// probeReplyError is an error reply to a probe; it is a redis.Error, so it
// classifies as the same reply to a command would.
type probeReplyError string

func (e probeReplyError) Error() string { return string(e) }

func (probeReplyError) RedisError() {}

// Close stops the probes and waits for them to end: a probe under way ends
// at once, unless its dial ignores the context (go-redis's own dialer with
// TLS), which ends by the client's DialTimeout. The Breaker goes on working
// without probes: an open circuit half-opens after OpenTimeout. Close is
// safe to call more than once and always returns nil.
func (b *Breaker) Close() error {
	b.probeMu.Lock()
	b.probeClosed = true
	b.probeMu.Unlock()
	b.probeStop()
	b.probes.Wait()
	return nil
}
