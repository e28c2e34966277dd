package hooks

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// decision is what Retry makes of an attempt's error.
type decision struct {
	outcome   outcome
	nodeFault bool
	// allowed: every command may be sent again for this error.
	allowed bool
}

func (r *Retry) decide(t *retryTarget, err error) decision {
	if !t.pipeline {
		o, fault := r.classify(err, false, t.cut)
		return decision{outcome: o, nodeFault: fault, allowed: mayResend(t.cmd, t.call.info, o) && !isShed(err)}
	}
	return r.decidePipeline(t, err)
}

// classify is the package's classify, with an open circuit counted as not
// sent when WaitOutOpenCircuit is set, and the end of an attempt that
// AttemptTimeout cut (cut) as a timeout that may have applied the call.
func (r *Retry) classify(err error, pipeline, cut bool) (outcome, bool) {
	o, fault := classify(err, pipeline)
	switch {
	case o != outcomeStopped:
	case r.waitOpen && errors.Is(err, ErrCircuitOpen):
		return outcomeNotSent, false
	case cut && errors.Is(err, context.DeadlineExceeded):
		return outcomeMaybeApplied, true
	}
	return o, fault
}

// mayResend reports whether cmd, of which the table says info, may be sent
// again after an error of outcome o.
func mayResend(cmd redis.Cmder, info cmdInfo, o outcome) bool {
	switch o {
	case outcomeNotSent:
		return true
	case outcomeRejected:
		// A NoRetry command (go-redis: it writes its reply to an io.Writer)
		// is sent again only when it never left.
		return !cmd.NoRetry()
	case outcomeMaybeApplied, outcomeOK, outcomeAnswer:
		// OK and answers: the command ran in this attempt.
		return !cmd.NoRetry() && info.IsIdempotent()
	default:
		return false
	}
}

// decidePipeline looks at the batch's error and at every command's own
// error: the batch is sent again only if each command may be, for the error
// it got (a command that succeeded ran, so it must be idempotent).
func (r *Retry) decidePipeline(t *retryTarget, err error) decision {
	cmds := t.cmds
	d := decision{allowed: true}
	d.outcome, d.nodeFault = r.classify(err, true, t.cut)
	if d.outcome == outcomeStopped || isShed(err) {
		d.allowed = false
		return d
	}
	if isTx(cmds) && txAborted(cmds, err) {
		return decideAbortedTx(cmds)
	}
	for i, c := range cmds {
		o, fault := r.classify(c.Err(), true, t.cut)
		if isFailure(o) && (!isFailure(d.outcome) || o > d.outcome) {
			d.outcome, d.nodeFault = o, fault
		}
		if o == outcomeStopped {
			d.outcome, d.allowed = outcomeStopped, false
			return d
		}
		if !mayResend(c, t.call.infos[i], o) {
			d.allowed = false
		}
	}
	if !isFailure(d.outcome) {
		d.allowed = false
	}
	return d
}

// decideAbortedTx decides for a transaction the server discarded with
// EXECABORT: nothing in it ran, so it may be sent again if every command
// refused while queued was refused for a state of the server (READONLY,
// LOADING, ...) and not for itself (a syntax error).
func decideAbortedTx(cmds []redis.Cmder) decision {
	d := decision{outcome: outcomeAnswer, allowed: true}
	for _, c := range cmds {
		e := c.Err()
		if e == nil || isExecAbort(e) {
			continue
		}
		o, fault := classify(e, true)
		switch o {
		case outcomeNotSent, outcomeRejected:
			if d.outcome == outcomeAnswer || o > d.outcome {
				d.outcome, d.nodeFault = o, fault
			}
			if o != outcomeNotSent && c.NoRetry() {
				d.allowed = false
			}
		default:
			return decision{outcome: outcomeAnswer}
		}
	}
	if d.outcome == outcomeAnswer {
		d.allowed = false
	}
	return d
}

// isTx reports whether cmds is a MULTI ... EXEC batch as go-redis builds it.
func isTx(cmds []redis.Cmder) bool {
	return len(cmds) >= 2 && cmds[0].Name() == "multi" && cmds[len(cmds)-1].Name() == "exec"
}

// txAborted reports whether the server discarded the transaction.
func txAborted(cmds []redis.Cmder, err error) bool {
	if isExecAbort(err) {
		return true
	}
	return isExecAbort(cmds[len(cmds)-1].Err())
}

// isFailure reports the outcomes a retry may be about.
func isFailure(o outcome) bool {
	return o == outcomeNotSent || o == outcomeRejected || o == outcomeMaybeApplied
}

// wrap returns the error a failed call ends with. For a batch it also
// gives each command that failed on the transport or the server's state its
// own classified error, since that is all an AutoPipeline caller sees.
func (r *Retry) wrap(t *retryTarget, d decision, maybe bool, attempts int, err error) error {
	return r.wrapErr(t, d, maybe, attempts, err, false)
}

// wrapErr is wrap; budget says that the retry budget refused the next
// re-send.
func (r *Retry) wrapErr(t *retryTarget, d decision, maybe bool, attempts int, err error, budget bool) error {
	o := d.outcome
	if maybe {
		o = outcomeMaybeApplied
	}
	if t.pipeline {
		wrapCmds(t.cmds, maybe, attempts)
	}
	return newRetryError(&RetryError{outcome: o, Command: t.commandName(), Attempts: attempts, Err: err, nodeFault: d.nodeFault, budget: budget}, t.netErr)
}

// spent ends a single command whose re-send by go-redis's cluster or ring
// loop a node's guard refused for want of a token (a budgetStop): cause is
// the error of the send before, the call's result. maybe says whether an
// earlier attempt may have applied the command.
func (r *Retry) spent(t *retryTarget, maybe bool, attempts int, cause error) error {
	d := r.decide(t, cause)
	t.noteNet(cause, d.outcome)
	r.budgetSpent.Add(1)
	return r.wrapErr(t, d, maybe || d.outcome == outcomeMaybeApplied, attempts, cause, true)
}

// wrapCmds replaces each transport or server-state error of a batch's
// commands by a *RetryError of the command's own outcome (maybe applied if
// an earlier attempt may have run the batch), so that every such error
// matches exactly one of ErrNotSent, ErrRejected and ErrMaybeApplied.
func wrapCmds(cmds []redis.Cmder, maybe bool, attempts int) {
	for _, c := range cmds {
		e := c.Err()
		if e == nil || e == redis.Nil {
			continue
		}
		var re *RetryError
		if errors.As(e, &re) {
			continue
		}
		o, fault := classify(e, true)
		if !isFailure(o) {
			continue
		}
		if maybe {
			o = outcomeMaybeApplied
		}
		c.SetErr(newRetryError(&RetryError{outcome: o, Command: c.Name(), Attempts: attempts, Err: e, nodeFault: fault}, nil))
	}
}

// resetCmd clears cmd's error and, for the value types go-redis commands
// commonly have, its value, so nothing from an earlier attempt survives a
// later one that fails before reading the reply.
func resetCmd(cmd redis.Cmder) {
	cmd.SetErr(nil)
	switch c := cmd.(type) {
	case interface{ SetVal(string) }:
		c.SetVal("")
	case interface{ SetVal(int64) }:
		c.SetVal(0)
	case interface{ SetVal(bool) }:
		c.SetVal(false)
	case interface{ SetVal(float64) }:
		c.SetVal(0)
	case interface{ SetVal(uint64) }:
		c.SetVal(0)
	case interface{ SetVal(interface{}) }:
		c.SetVal(nil)
	case interface{ SetVal([]byte) }:
		c.SetVal(nil)
	case interface{ SetVal(time.Duration) }:
		c.SetVal(0)
	case interface{ SetVal(time.Time) }:
		c.SetVal(time.Time{})
	case interface{ SetVal([]interface{}) }:
		c.SetVal(nil)
	case interface{ SetVal([]string) }:
		c.SetVal(nil)
	case interface{ SetVal([]int64) }:
		c.SetVal(nil)
	case interface{ SetVal([]uint64) }:
		c.SetVal(nil)
	case interface{ SetVal([]bool) }:
		c.SetVal(nil)
	case interface{ SetVal([]float64) }:
		c.SetVal(nil)
	case interface{ SetVal(map[string]string) }:
		c.SetVal(nil)
	case interface{ SetVal(map[string]int64) }:
		c.SetVal(nil)
	case interface{ SetVal(map[string]interface{}) }:
		c.SetVal(nil)
	case interface{ SetVal(map[string]struct{}) }:
		c.SetVal(nil)
	case interface{ SetVal([]redis.Z) }:
		c.SetVal(nil)
	case interface{ SetVal(*redis.ZWithKey) }:
		c.SetVal(nil)
	case interface{ SetVal([]redis.KeyValue) }:
		c.SetVal(nil)
	case interface{ SetVal([]redis.XMessage) }:
		c.SetVal(nil)
	case interface{ SetVal([]redis.XStream) }:
		c.SetVal(nil)
	case interface{ SetVal([]redis.GeoLocation) }:
		c.SetVal(nil)
	case interface{ SetVal([]*redis.GeoPos) }:
		c.SetVal(nil)
	case interface{ SetVal(string, []string) }:
		c.SetVal("", nil)
	case interface{ SetVal([]string, uint64) }:
		c.SetVal(nil, 0)
	}
}
