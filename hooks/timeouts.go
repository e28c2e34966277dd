package hooks

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// TimeoutOptions configure NewTimeouts. A zero duration takes the default
// written next to its field; a negative one means no deadline from this
// hook for that class.
type TimeoutOptions struct {
	// Read is the deadline of read-only commands (GET, HGETALL, ...).
	// 0 means 3s.
	Read time.Duration
	// Write is the deadline of commands that may write (SET, LPUSH, ...).
	// 0 means 5s.
	Write time.Duration
	// Slow is the deadline of slow and administrative commands (KEYS,
	// FLUSHALL, DEBUG, MIGRATE, CONFIG, ...). 0 means 60s.
	Slow time.Duration
	// Script is the deadline of EVAL, EVALSHA, FCALL and their _RO forms.
	// 0 means 30s.
	Script time.Duration
	// Default is the deadline of every other command: commands the table
	// does not know, and those that neither read nor write data (PING,
	// PUBLISH, MULTI, ...). 0 means 5s.
	Default time.Duration
	// BlockingMargin is added to the wait a blocking command asks the
	// server for (BLPOP key 5 gets a deadline of 5 s + BlockingMargin), so
	// that the server's own answer at the end of the wait (redis.Nil, or an
	// element popped at that moment) reaches the client before the
	// deadline. go-redis itself gives a blocking command a read deadline of
	// its timeout + 10 s, so with ContextTimeoutEnabled a margin above 10 s
	// changes nothing. 0 means 5s. Negative: no margin; the deadline then falls when the
	// server's wait ends, and an element popped at that moment can be lost
	// with the connection.
	BlockingMargin time.Duration
	// BlockingCap bounds the wait a blocking command asks the server for.
	// A command that asks for a longer wait (BLPOP key 600) or an endless
	// one (BLPOP key 0, XREAD ... BLOCK 0, WAIT n 0) has its timeout
	// argument rewritten to BlockingCap before it is sent: the server
	// answers at the cap as it would at the end of any wait (redis.Nil for
	// BLPOP, BLMOVE, BZPOPMIN, XREAD..., the replicas reached so far for
	// WAIT), and its deadline is BlockingCap + BlockingMargin like any other
	// blocking command's. A caller that wants to wait longer loops. The
	// rewrite is in place, so cmd.Args() shows the wait the server was asked
	// for; a slice passed to Do with args... is changed too (do not share
	// one such slice between goroutines that send it). Seconds are
	// written as a whole number when the cap is whole seconds, else as a
	// decimal (Redis 6.0 or newer); the cap is rounded up to a millisecond.
	// Commands added with NewCommandTable whose timeout the table cannot find
	// are not rewritten. 0 or negative: no cap; a command that may block
	// forever then gets no deadline.
	BlockingCap time.Duration
	// PerCommand overrides the deadline of commands by name (case does not
	// matter; "config", not "config get"). It replaces the class deadline,
	// a blocking command's computed one included (BlockingCap still bounds
	// the wait the server is asked for). A value of 0 or less gives that
	// command no deadline from this hook.
	PerCommand map[string]time.Duration
	// Commands classifies commands. nil means the built-in table (see
	// NewCommandTable).
	Commands *CommandTable
	// StdContext derives each deadline with context.WithTimeout (five
	// allocations and a timer per command) instead of the pooled deadline
	// context described in the package documentation ("Deadlines"). Set it
	// if a hook added after Timeouts, or code it calls, may keep the context
	// after the command returns, or if the class deadline must also bound
	// the wait for a pool connection. The deadline then counts from when
	// Timeouts runs, for blocking commands too: time a blocking command
	// spends waiting for a Limiter permit comes off its BlockingMargin.
	StdContext bool
}

// defaultTimeoutOptions are the deadlines a zero TimeoutOptions field
// takes (the field docs repeat them).
var defaultTimeoutOptions = TimeoutOptions{
	Read:           3 * time.Second,
	Write:          5 * time.Second,
	Slow:           60 * time.Second,
	Script:         30 * time.Second,
	Default:        5 * time.Second,
	BlockingMargin: 5 * time.Second,
	BlockingCap:    0, // none
}

// Timeouts gives every command a deadline chosen by what the command is
// (its class in the command table, or TimeoutOptions.PerCommand), unless
// the caller's context already has an earlier one. A pipeline or a
// MULTI/EXEC gets the longest deadline any of its commands would get, and
// none if one of them gets none; the server runs the blocking commands of
// a pipeline one after the other, so their waits add up: a pipeline's
// deadline is at least the sum of its blocking commands' waits plus
// BlockingMargin. (go-redis reads a pipeline's replies with the client's
// ReadTimeout, not with a blocking command's own timeout: keep the waits
// of pipelined blocking commands well below ReadTimeout.)
//
// It needs ContextTimeoutEnabled: true on the client (Attach refuses it
// otherwise).
//
// See the package documentation, "Deadlines", for how the deadline is
// carried without an allocation, when it starts, and what that means for
// waits.
type Timeouts struct {
	read, write, slow, script, def time.Duration // < 0: none
	margin, cap                    time.Duration // cap <= 0: none
	capSec, capMs                  interface{}   // the cap as a block argument
	perCmd                         map[string]time.Duration
	table                          *CommandTable
	std                            bool
}

var (
	_ hookMethods = (*Timeouts)(nil)
	_ orderedHook = (*Timeouts)(nil)
)

// NewTimeouts applies the defaults to opt and returns the hook. A
// PerCommand key that is not a command name (empty, or with a subcommand)
// is an error.
func NewTimeouts(opt TimeoutOptions) (*Timeouts, error) {
	pick := func(v, d time.Duration) time.Duration {
		switch {
		case v == 0:
			return d
		case v < 0:
			return -1
		}
		return v
	}
	d := defaultTimeoutOptions
	t := &Timeouts{
		read:   pick(opt.Read, d.Read),
		write:  pick(opt.Write, d.Write),
		slow:   pick(opt.Slow, d.Slow),
		script: pick(opt.Script, d.Script),
		def:    pick(opt.Default, d.Default),
		margin: pick(opt.BlockingMargin, d.BlockingMargin),
		cap:    opt.BlockingCap,
		table:  opt.Commands,
		std:    opt.StdContext,
	}
	if t.margin < 0 {
		t.margin = 0
	}
	if opt.BlockingCap == 0 {
		t.cap = d.BlockingCap
	}
	if t.cap > 0 {
		t.cap, t.capSec, t.capMs = capArgs(t.cap)
	}
	if len(opt.PerCommand) > 0 {
		t.perCmd = make(map[string]time.Duration, len(opt.PerCommand))
		for name, v := range opt.PerCommand {
			key := strings.ToLower(strings.TrimSpace(name))
			if key == "" || strings.ContainsAny(key, " \t|") {
				return nil, fmt.Errorf("hooks: TimeoutOptions.PerCommand has %q; keys are command names such as \"get\" or \"config\"", name)
			}
			if v <= 0 {
				v = -1
			}
			t.perCmd[key] = v
		}
	}
	return t, nil
}

func (t *Timeouts) hookOrder() int { return orderTimeouts }

func (t *Timeouts) redisHook() redis.Hook { return rawHook{t} }

// capArgs rounds the cap up to a whole millisecond and returns it with
// the block arguments that ask for it: in seconds (a whole number, or a
// decimal with up to three places) and in milliseconds.
func capArgs(c time.Duration) (time.Duration, interface{}, interface{}) {
	ms := int64(c / time.Millisecond)
	if c%time.Millisecond != 0 {
		ms++
	}
	c = time.Duration(ms) * time.Millisecond
	var sec interface{} = int64(c / time.Second)
	if c%time.Second != 0 {
		sec = strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64)
	}
	return c, sec, ms
}

// blockWait returns the wait a blocking command asks the server for once
// the cap applies, whether that wait is endless (only without a cap), and
// whether the cap shortened it.
func (t *Timeouts) blockWait(info cmdInfo) (wait time.Duration, forever, capped bool) {
	if t.cap > 0 && (info.BlockForever || info.BlockTimeout > t.cap) {
		return t.cap, false, true
	}
	return info.BlockTimeout, info.BlockForever, false
}

// capBlock rewrites the block timeout argument of cmd, classified as
// info, to the cap if it asks for a longer or an endless wait.
func (t *Timeouts) capBlock(cmd redis.Cmder, info cmdInfo) {
	if info.Class != classBlocking {
		return
	}
	if _, _, capped := t.blockWait(info); capped {
		t.table.setBlockArg(cmd, t.capSec, t.capMs)
	}
}

// serverWait returns the wait of a command whose deadline is that wait +
// the margin: a blocking command with a known, finite wait (after the
// cap) and no PerCommand override.
func (t *Timeouts) serverWait(info cmdInfo) (time.Duration, bool) {
	if info.Class != classBlocking {
		return 0, false
	}
	if _, ok := t.perCmd[info.Name]; ok {
		return 0, false
	}
	wait, forever, _ := t.blockWait(info)
	return wait, !forever && wait > 0
}

// addSat adds two non-negative durations, saturating at the largest one.
func addSat(a, b time.Duration) time.Duration {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// forInfo returns the deadline of a command classified as info, or -1.
func (t *Timeouts) forInfo(info cmdInfo) time.Duration {
	if t.perCmd != nil {
		if d, ok := t.perCmd[info.Name]; ok {
			return d
		}
	}
	switch info.Class {
	case classRead:
		return t.read
	case classWrite:
		return t.write
	case classSlow:
		return t.slow
	case classScript:
		return t.script
	case classBlocking:
		// The deadline is the wait the server is asked for, after the
		// cap, plus the margin: never the wait alone, or the server's
		// answer at the end of the wait races the deadline.
		switch wait, forever, _ := t.blockWait(info); {
		case forever:
			return -1
		case wait > 0:
			return addSat(wait, t.margin)
		default:
			// A timeout the table could not read: the server will
			// answer with an error at once.
			return t.def
		}
	default:
		return t.def
	}
}

// pipelineTimeout returns the longest deadline any command of the batch
// c would get (MULTI and EXEC aside), or -1 if one of them gets none. The
// blocking commands' waits add up, as the server runs them one after the
// other: the deadline is at least their sum plus the margin. It caps the
// blocking commands' waits (see capBlock).
func (t *Timeouts) pipelineTimeout(c callInfo) time.Duration {
	longest, none, some := time.Duration(0), false, false
	waits, blocking := time.Duration(0), false
	for i, cmd := range c.cmds {
		info := c.infos[i]
		if info.Name == "multi" || info.Name == "exec" {
			continue
		}
		t.capBlock(cmd, info)
		if wait, ok := t.serverWait(info); ok {
			waits, blocking, some = addSat(waits, wait), true, true
			continue
		}
		d := t.forInfo(info)
		if d < 0 {
			none = true
		}
		longest, some = max(longest, d), true
	}
	switch {
	case none:
		return -1
	case !some:
		return t.def
	case blocking:
		longest = max(longest, addSat(waits, t.margin))
	}
	return longest
}

// dialHook returns next unchanged.
func (t *Timeouts) dialHook(next redis.DialHook) redis.DialHook { return next }

// processHook runs next with the command's deadline; a caller's earlier
// deadline wins.
func (t *Timeouts) processHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		info := callOf(ctx, t.table, cmd, nil).info
		t.capBlock(cmd, info)
		d := t.forInfo(info)
		if d < 0 {
			return next(ctx, cmd)
		}
		if t.std {
			dctx, cancel := context.WithTimeout(context.WithValue(ctx, callerCtxKey{}, ctx), d)
			err := next(dctx, cmd)
			cancel()
			return err
		}
		dctx := newDeadlineCtx(ctx, d, info.Flags&flagBlocking != 0)
		err := next(dctx, cmd)
		dctx.release()
		return err
	}
}

// processPipelineHook runs next with the longest deadline any command of
// the pipeline would get; a caller's earlier deadline wins.
func (t *Timeouts) processPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c := callOf(ctx, t.table, nil, cmds)
		d := t.pipelineTimeout(c)
		if d < 0 {
			return next(ctx, cmds)
		}
		if t.std {
			dctx, cancel := context.WithTimeout(context.WithValue(ctx, callerCtxKey{}, ctx), d)
			err := next(dctx, cmds)
			cancel()
			return err
		}
		dctx := newDeadlineCtx(ctx, d, c.any&flagBlocking != 0)
		err := next(dctx, cmds)
		dctx.release()
		return err
	}
}
