package hooks

import (
	"crypto/sha1"
	"encoding/hex"
	"strconv"
	"strings"
)

// TableOption configures NewCommandTable.
type TableOption func(*tableConfig)

type tableConfig struct {
	overrides []cmdOverride
	scripts   []string
}

type cmdOverride struct {
	name, sub string
	flags     Flags
}

// WithCommand adds a command to the table or replaces an entry. The name is
// case-insensitive; "config set" or "config|set" names a subcommand. The
// given flags are final: argument-dependent rules of the built-in entry
// (such as SET NX) no longer apply, but a built-in blocking command still
// reads its timeout from its arguments when f has Blocking (a new blocking
// command reports no timeout). Replacing a command that has subcommands
// keeps them; f then applies to the subcommands the table does not list.
// It panics on an empty name or on more than two words.
func WithCommand(name string, f Flags) TableOption {
	cmd, sub, err := splitCommandName(name)
	if err != "" {
		panic("hooks: WithCommand: " + err)
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

// WithIdempotentScript marks a script as safe to retry. s is a script body
// (matched against EVAL and EVAL_RO), a function name (FCALL and FCALL_RO),
// or a SHA1 of a script (EVALSHA and EVALSHA_RO, case-insensitive). For a
// body, its SHA1 is registered too, so a redis.Script built from the same
// source is idempotent whether it runs as EVALSHA or falls back to EVAL. It
// panics on an empty string.
func WithIdempotentScript(s string) TableOption {
	if s == "" {
		panic("hooks: WithIdempotentScript: empty script")
	}
	return func(c *tableConfig) { c.scripts = append(c.scripts, s) }
}

// DefaultTable is the built-in table. It is what a nil *CommandTable uses.
var DefaultTable = NewCommandTable()

// builtinTable backs a nil table if DefaultTable was set to nil.
var builtinTable = DefaultTable

// NewCommandTable returns the built-in table with opts applied in order.
func NewCommandTable(opts ...TableOption) *CommandTable {
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
			if o.flags&Blocking != 0 {
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
	if old := parent.subs[o.sub]; old != nil && o.flags&Blocking != 0 {
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
