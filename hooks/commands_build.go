package hooks

import (
	"crypto/sha1"
	"encoding/hex"
	"strconv"
	"strings"
)

// Command describes a command for NewCommandTable: a command of a module
// the built-in table does not know (JSON.SET, FT.SEARCH), or a built-in
// one whose entry it replaces. Its flags are final: argument-dependent
// rules of the built-in entry (such as SET NX) no longer apply, but a
// built-in blocking command still reads its timeout from its arguments
// when Blocking is set (a new blocking command reports no timeout, so
// Timeouts gives it no deadline unless TimeoutOptions.PerCommand does).
// Replacing a command that has subcommands keeps them; the flags then apply
// to the subcommands the table does not list.
type Command struct {
	// Name is the command, case-insensitive: "json.set"; "config set" or
	// "config|set" names a subcommand. NewCommandTable panics on an empty
	// name or one of more than two words.
	Name string
	// ReadOnly marks a command that does not modify data (Redis's
	// "readonly" flag in COMMAND INFO): Timeouts gives it the Read
	// deadline, and ReplicaReads may send it to a replica.
	ReadOnly bool
	// Write marks a command that may modify data (Redis's "write" flag):
	// Timeouts gives it the Write deadline.
	Write bool
	// Idempotent marks a command that may be sent again after it may have
	// run: the repetition changes nothing in the data, and the reply still
	// means what the caller asked for. Only such commands are retried after
	// a read timeout or a broken connection.
	Idempotent bool
	// Blocking marks a command that may wait on the server for data or for
	// replicas; it holds its pool connection for the whole wait, and draws
	// from the Limiter's MaxBlocking budget.
	Blocking bool
	// Slow marks a slow or administrative command (the Slow deadline).
	Slow bool
	// Script marks a command that runs a script or a function (the Script
	// deadline).
	Script bool
}

// flags returns c's flags.
func (c Command) flags() flagSet {
	var f flagSet
	for _, b := range []struct {
		set bool
		f   flagSet
	}{{c.ReadOnly, flagReadOnly}, {c.Write, flagWrite}, {c.Idempotent, flagIdempotent},
		{c.Blocking, flagBlocking}, {c.Slow, flagSlow}, {c.Script, flagScript}} {
		if b.set {
			f |= b.f
		}
	}
	return f
}

// NewCommandTable returns the built-in command table with cmds added or
// replacing entries, in order, and with idempotentScripts marked safe to
// retry. Pass it as the Commands option of every hook, so that all of them
// see the same commands.
//
// Each of idempotentScripts is a script body (matched against EVAL and
// EVAL_RO), a function name (FCALL and FCALL_RO), or the SHA1 of a script
// (EVALSHA and EVALSHA_RO, case-insensitive). For a body its SHA1 is
// registered too, so a redis.Script built from the same source is
// idempotent whether it runs as EVALSHA or falls back to EVAL. It panics on
// an empty script.
func NewCommandTable(cmds []Command, idempotentScripts ...string) *CommandTable {
	opts := make([]tableOption, 0, len(cmds)+len(idempotentScripts))
	for _, c := range cmds {
		opts = append(opts, withCommand(c.Name, c.flags()))
	}
	for _, s := range idempotentScripts {
		opts = append(opts, withIdempotentScript(s))
	}
	return newCommandTable(opts...)
}

// tableOption configures newCommandTable.
type tableOption func(*tableConfig)

type tableConfig struct {
	overrides []cmdOverride
	scripts   []string
}

type cmdOverride struct {
	name, sub string
	flags     flagSet
}

// withCommand adds a command to the table or replaces an entry (see
// Command). It panics on an empty name or on more than two words.
func withCommand(name string, f flagSet) tableOption {
	cmd, sub, err := splitCommandName(name)
	if err != "" {
		panic("hooks: NewCommandTable: " + err)
	}
	return func(c *tableConfig) {
		c.overrides = append(c.overrides, cmdOverride{name: cmd, sub: sub, flags: f})
	}
}

func splitCommandName(name string) (cmd, sub, err string) {
	fields := strings.FieldsFunc(strings.ToLower(name), func(r rune) bool { return r == ' ' || r == '|' })
	switch len(fields) {
	case 1:
		return fields[0], "", ""
	case 2:
		return fields[0], fields[1], ""
	case 0:
		return "", "", "empty command name"
	default:
		return "", "", "command name " + strconv.Quote(name) + " has more than two words"
	}
}

// withIdempotentScript marks a script as safe to retry (see
// NewCommandTable). It panics on an empty string.
func withIdempotentScript(s string) tableOption {
	if s == "" {
		panic("hooks: NewCommandTable: empty script")
	}
	return func(c *tableConfig) { c.scripts = append(c.scripts, s) }
}

// defaultTable is the built-in table. It is what a nil *CommandTable uses.
var defaultTable = newCommandTable()

// newCommandTable returns the built-in table with opts applied in order.
func newCommandTable(opts ...tableOption) *CommandTable {
	var cfg tableConfig
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	t := &CommandTable{cmds: make(map[string]*cmdEntry, len(builtinCommands)+len(cfg.overrides))}
	for i := range builtinCommands {
		b := &builtinCommands[i]
		e := &cmdEntry{name: b.name, flags: b.flags, refine: b.refine, block: b.block}
		if len(b.subs) > 0 {
			e.subs = make(map[string]*cmdEntry, len(b.subs))
			for j := range b.subs {
				s := &b.subs[j]
				e.subs[s.name] = &cmdEntry{name: b.name, flags: s.flags, refine: s.refine, block: s.block}
			}
		}
		t.cmds[b.name] = e
	}
	for _, o := range cfg.overrides {
		t.apply(o)
	}
	for _, s := range cfg.scripts {
		if t.scripts == nil {
			t.scripts = make(map[string]struct{})
			t.shas = make(map[string]struct{})
		}
		t.scripts[s] = struct{}{}
		if isSHA1Hex(s) {
			t.shas[strings.ToLower(s)] = struct{}{}
		} else {
			sum := sha1.Sum([]byte(s))
			t.shas[hex.EncodeToString(sum[:])] = struct{}{}
		}
	}
	return t
}

func (t *CommandTable) apply(o cmdOverride) {
	parent := t.cmds[o.name]
	if o.sub == "" {
		e := &cmdEntry{name: o.name, flags: o.flags}
		if parent != nil {
			e.subs = parent.subs
			if o.flags&flagBlocking != 0 {
				e.block = parent.block
			}
		}
		t.cmds[o.name] = e
		return
	}
	if parent == nil {
		parent = &cmdEntry{name: o.name}
		t.cmds[o.name] = parent
	}
	subs := make(map[string]*cmdEntry, len(parent.subs)+1)
	for k, v := range parent.subs {
		subs[k] = v
	}
	e := &cmdEntry{name: o.name, flags: o.flags}
	if old := parent.subs[o.sub]; old != nil && o.flags&flagBlocking != 0 {
		e.block = old.block
	}
	subs[o.sub] = e
	// Replace the parent rather than mutate it in place.
	np := *parent
	np.subs = subs
	t.cmds[o.name] = &np
}

func isSHA1Hex(s string) bool {
	if len(s) != 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !ishex(s[i]) {
			return false
		}
	}
	return true
}

// ishex reports whether c is a hexadecimal digit.
func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
