package batch

import (
	"context"
	"errors"
	"net"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
)

// How the per-command errors of an executed pipeline are to be read depends
// on who ran it. The rules below follow go-redis v9.23 (redis.go:
// generalProcessPipelineFrom, pipelineProcessCmds, pipelineReadCmds,
// txPipelineProcessCmds; osscluster.go: processPipeline, processPipelineNode,
// processTxPipeline). In short:
//
//   - A plain client reads replies in order. When a read fails, the failing
//     command and every later one get the error, and on the way out every
//     command whose error is still nil gets it too: the commands whose
//     replies were read become indistinguishable from those that were not.
//     To keep the boundary, the batch gives every command a private
//     placeholder error (errNoReply) before Exec: go-redis only fills errors
//     that are nil, so after a failure the placeholder is still on exactly
//     the commands after the failing one.
//   - A cluster client leaves a command whose reply was read with its own
//     result, and gives every command it could not complete an error, so its
//     per-command errors are exact as they are.
//   - Anything else (a Ring, a wrapper) is read conservatively: after an
//     error, only the commands answered with a Redis error reply are known.
//
// go-redis may also send a pipeline again by itself (Options.MaxRetries on a
// Client, ClusterOptions.MaxRedirects on a cluster), after a timeout or EOF
// too. Then the last attempt's "could not connect" can hide an earlier
// attempt that was sent, so such an error proves nothing and the commands
// are Unknown, except a refusal by redisguard's hooks on a cluster: the node
// guard Attach adds gives a command that an earlier send of the call may
// have applied ErrMaybeApplied instead of a later refusal, so a refusal
// left on a command is certain. A MULTI/EXEC is only sent again when the earlier attempt
// cannot have run (the write failed, so EXEC never arrived whole, or a
// redirect), so for Tx that caution is not needed.

// errNoReply is the placeholder error a command carries until its reply is
// read. A command handed back to the caller with it got no reply.
var errNoReply = errors.New("batch: no reply was read for this command")

type mode uint8

const (
	modeSingle  mode = iota // one connection per pipeline: *redis.Client, *redis.Conn, *redis.Tx
	modeCluster             // *redis.ClusterClient
	modeRing                // *redis.Ring, *redis.AutoPipeliner: conservative, but hook refusals are certain
	modeOther               // anything else: conservative
)

// target is what the batch knows about the client it runs on.
type target struct {
	mode   mode
	resend bool // go-redis may send a failed plain pipeline again by itself
}

func targetOf(c Client) target {
	switch v := c.(type) {
	case *redis.Client:
		return target{mode: modeSingle, resend: v.Options().MaxRetries > 0}
	case *redis.Conn, *redis.Tx:
		// Their options are not readable: assume go-redis may retry.
		return target{mode: modeSingle, resend: true}
	case *redis.ClusterClient:
		return target{mode: modeCluster, resend: v.Options().MaxRedirects > 0}
	case *redis.Ring:
		return target{mode: modeRing, resend: true}
	case *redis.AutoPipeliner:
		if !v.Config().FullDuplex {
			// Its batches run through the client's pipeline hooks, above
			// go-redis's own retries, as a Ring's shard pipelines do. Full
			// duplex runs the hooks after the write: conservative.
			return target{mode: modeRing, resend: true}
		}
		return target{mode: modeOther, resend: true}
	default:
		return target{mode: modeOther, resend: true}
	}
}

// presets reports whether commands get the errNoReply placeholder before
// Exec. Only a plain (non-MULTI) pipeline on a single connection needs it.
func (t target) presets(tx bool) bool { return t.mode == modeSingle && !tx }

// Per-command outcomes.
const (
	cmdOK       uint8 = iota + 1 // a reply that is not an error (redis.Nil included)
	cmdRejected                  // an error reply: the server did not run it
	cmdUnknown                   // sent (or maybe sent), no reply
	cmdNotSent                   // certainly never reached the server
)

// isReplyErr reports whether err is an error reply from the server (or
// redis.Nil, which is an answer too).
func isReplyErr(err error) bool {
	var re redis.Error
	return errors.As(err, &re)
}

// refused reports whether err is a redisguard hook refusing to send:
// ErrLimited, ErrCircuitOpen, or the Limiter's wait for a permit ended by
// the context (see waitEnded). An error that also says an earlier attempt
// may have run (redisguard's Retry gave up after such an attempt) is not a
// refusal.
func refused(err error) bool {
	return (errors.Is(err, hooks.ErrLimited) || errors.Is(err, hooks.ErrCircuitOpen) || waitEnded(err)) &&
		!errors.Is(err, hooks.ErrMaybeApplied)
}

// waitEnded reports the Limiter's error for a command whose context ended
// while it waited for a permit: it matches hooks.ErrNotSent and the
// context's error. A dial that hit its own timeout also wraps
// context.DeadlineExceeded, and a retry hook may call it not sent after
// go-redis sent an earlier attempt, so a *net.OpError never counts.
func waitEnded(err error) bool {
	if !errors.Is(err, hooks.ErrNotSent) ||
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var op *net.OpError
	return !errors.As(err, &op)
}

// beforeWrite reports whether err can only happen before a command is
// written: no connection could be had, a hook refused to send, or
// redisguard's Retry found that no attempt left the client; and no earlier
// attempt may have run.
func beforeWrite(err error) bool {
	if errors.Is(err, hooks.ErrMaybeApplied) {
		return false
	}
	if refused(err) ||
		errors.Is(err, hooks.ErrNotSent) ||
		errors.Is(err, redis.ErrPoolTimeout) ||
		errors.Is(err, redis.ErrPoolExhausted) ||
		errors.Is(err, redis.ErrClosed) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// reply classifies a command from its own error alone, when the pipeline as
// a whole succeeded or the command's error is known to be its own.
func reply(err error) uint8 {
	switch {
	case err == nil || err == redis.Nil:
		return cmdOK
	case err == errNoReply:
		return cmdUnknown
	case isReplyErr(err):
		if errors.Is(err, redis.Nil) {
			return cmdOK
		}
		return cmdRejected
	default:
		return cmdUnknown
	}
}

// known classifies a command of a pipeline that failed when its own error
// cannot be trusted: an error reply is certain, anything else (nil
// included) is Unknown.
func known(err error) uint8 {
	if err != nil && isReplyErr(err) {
		return reply(err)
	}
	return cmdUnknown
}

// classify fills out[i] with the outcome of cmds[i] after Exec returned
// xerr. out has room for len(cmds).
func (t target) classify(cmds []redis.Cmder, xerr error, tx bool, out []uint8) {
	if xerr == nil {
		for i, c := range cmds {
			out[i] = reply(c.Err())
		}
		return
	}
	switch {
	case t.mode == modeSingle && !tx:
		t.classifySingle(cmds, xerr, out)
	case t.mode == modeSingle:
		classifySingleTx(cmds, xerr, out)
	case t.mode == modeCluster:
		t.classifyCluster(cmds, xerr, tx, out)
	case t.mode == modeRing:
		classifyRing(cmds, xerr, out)
	default:
		classifyOther(cmds, out)
	}
}

// classifySingle reads a plain pipeline on one connection whose commands
// carried errNoReply before Exec.
func (t target) classifySingle(cmds []redis.Cmder, xerr error, out []uint8) {
	first := -1 // the first command still carrying the placeholder
	for i, c := range cmds {
		if c.Err() == errNoReply {
			first = i
			break
		}
	}
	switch {
	case first == 0:
		// No reply was read at all, and no hook re-ran the pipeline (that
		// would have cleared the placeholders).
		kind := uint8(cmdUnknown)
		if refused(xerr) || (!t.resend && (beforeWrite(xerr) || isReplyErr(xerr))) {
			// A hook refused, or no connection (or its handshake) could be
			// had, and go-redis did not try again after an earlier attempt.
			kind = cmdNotSent
		}
		for i, c := range cmds {
			if err := c.Err(); err == errNoReply {
				out[i] = kind
			} else {
				out[i] = known(err)
			}
		}
	case first > 0:
		// Replies were read up to the command before first, which is the
		// one whose read failed; go-redis then gave the commands read
		// before it the same error.
		for i, c := range cmds[:first-1] {
			if err := c.Err(); isReplyErr(err) {
				out[i] = reply(err)
			} else {
				out[i] = cmdOK
			}
		}
		out[first-1] = reply(cmds[first-1].Err())
		for i := first; i < len(cmds); i++ {
			out[i] = known(cmds[i].Err()) // errNoReply: sent, no reply
		}
	case isReplyErr(xerr):
		// Every reply was read and Exec returned the first error reply.
		for i, c := range cmds {
			out[i] = reply(c.Err())
		}
	default:
		// No placeholder left: a hook that re-runs the pipeline cleared
		// them (redisguard's Retry does), or the very last reply failed.
		// The boundary is lost; error replies are certain, and the rest is
		// known not sent only if the last attempt was not and no earlier
		// one may have been.
		kind := uint8(cmdUnknown)
		if !t.resend && beforeWrite(xerr) {
			kind = cmdNotSent
		}
		for i, c := range cmds {
			if err := c.Err(); err != nil && isReplyErr(err) {
				out[i] = reply(err)
			} else {
				out[i] = kind
			}
		}
	}
}

// classifySingleTx reads a MULTI/EXEC on one connection.
func classifySingleTx(cmds []redis.Cmder, xerr error, out []uint8) {
	allNil := noErrors(cmds)
	switch {
	case isReplyErr(xerr) && allNil:
		// An error reply that no command carries: the connection handshake
		// was refused (or a hook answered for the server) before MULTI.
		fill(out[:len(cmds)], cmdNotSent)
	case isReplyErr(xerr):
		// EXEC ran and some commands failed inside it, or the transaction
		// was discarded (EXECABORT, a failed WATCH): then every command
		// carries an error reply and all are rejected.
		for i, c := range cmds {
			out[i] = reply(c.Err())
		}
	case beforeWrite(xerr):
		// Nothing of the transaction reached the server, or only a part
		// without its EXEC (go-redis sends a MULTI again only then).
		fill(out[:len(cmds)], cmdNotSent)
	default:
		// Sent, and EXEC's reply was not read whole: it may have run.
		fill(out[:len(cmds)], cmdUnknown)
	}
}

// classifyCluster reads a cluster pipeline or MULTI/EXEC: go-redis leaves a
// command answered before a failure with its own result and gives each
// command it could not complete an error.
func (t target) classifyCluster(cmds []redis.Cmder, xerr error, tx bool, out []uint8) {
	if noErrors(cmds) {
		// Nothing ran: a hook on the cluster client returned before
		// routing.
		kind := uint8(cmdUnknown)
		if refused(xerr) || beforeWrite(xerr) || isReplyErr(xerr) {
			kind = cmdNotSent
		}
		fill(out[:len(cmds)], kind)
		return
	}
	for i, c := range cmds {
		err := c.Err()
		switch {
		case err == nil || isReplyErr(err):
			out[i] = reply(err)
		case beforeWrite(err) && (tx || !t.resend || refused(err)) && !errors.Is(xerr, hooks.ErrMaybeApplied):
			out[i] = cmdNotSent
		default:
			out[i] = cmdUnknown
		}
	}
}

// classifyRing reads a Ring's pipeline or MULTI/EXEC conservatively, as
// classifyOther does, except for refusals by redisguard's hooks: a Ring
// sends a pipeline's part for each shard through that shard's client
// once, with no resend loop of its own (go-redis v9.23 ring.go:
// generalProcessPipeline), and the per-node hooks run above the shard
// client's own retry loop, so a command carrying a hook's refusal was not
// sent, unless an earlier attempt of Retry may have run it.
func classifyRing(cmds []redis.Cmder, xerr error, out []uint8) {
	maybe := errors.Is(xerr, hooks.ErrMaybeApplied)
	if noErrors(cmds) {
		// A hook on the Ring itself returned before routing.
		kind := uint8(cmdUnknown)
		if refused(xerr) {
			kind = cmdNotSent
		}
		fill(out[:len(cmds)], kind)
		return
	}
	for i, c := range cmds {
		if err := c.Err(); !maybe && err != nil && !isReplyErr(err) && refused(err) {
			out[i] = cmdNotSent
		} else {
			out[i] = known(err)
		}
	}
}

// classifyOther is the conservative reading for clients whose pipeline
// internals are not known: after a failure only error replies are certain.
func classifyOther(cmds []redis.Cmder, out []uint8) {
	for i, c := range cmds {
		out[i] = known(c.Err())
	}
}

// noErrors reports whether no command carries an error.
func noErrors(cmds []redis.Cmder) bool {
	for _, c := range cmds {
		if c.Err() != nil {
			return false
		}
	}
	return true
}

func fill(s []uint8, v uint8) {
	for i := range s {
		s[i] = v
	}
}
