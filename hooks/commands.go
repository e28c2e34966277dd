package hooks

import (
	"crypto/sha1"
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Flags describe what a command is. A command may have several.
type Flags uint16

const (
	// ReadOnly marks a command that does not modify data. It mirrors the
	// "readonly" flag Redis itself reports in COMMAND INFO.
	ReadOnly Flags = 1 << iota
	// Write marks a command that may modify data. It mirrors the "write" flag
	// Redis reports, and is also set on EVAL, EVALSHA and FCALL, which write
	// whatever their script writes.
	Write
	// Idempotent marks a command that may be sent again after it ran: the
	// repetition changes nothing in the data, and the reply still means what
	// the caller asked for. A counting reply (DEL, SADD, HSET, ZADD, SREM...)
	// counts what the last attempt changed, so a retried DEL may report 0.
	Idempotent
	// Blocking marks a command that may wait on the server for data or for
	// replicas (BLPOP, BLMOVE, XREAD BLOCK, WAIT, ...). It holds its pool
	// connection for the whole wait.
	Blocking
	// Slow marks a slow or administrative command: KEYS, FLUSHALL, FLUSHDB,
	// DEBUG, MIGRATE, SAVE, BGSAVE, SCRIPT, FUNCTION, CONFIG, MODULE, ACL,
	// admin CLUSTER subcommands, and the like.
	Slow
	// Script marks a command that runs a script or a function: EVAL, EVALSHA,
	// EVAL_RO, EVALSHA_RO, FCALL, FCALL_RO.
	Script
)

// flagNames are the names Flags.String prints, in bit order.
var flagNames = [...]string{"ReadOnly", "Write", "Idempotent", "Blocking", "Slow", "Script"}

// String lists the set flags joined by "|", or "0" when none is set.
func (f Flags) String() string {
	if f == 0 {
		return "0"
	}
	var b strings.Builder
	for i, name := range flagNames {
		if f&(1<<i) == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('|')
		}
		b.WriteString(name)
	}
	if rest := f &^ (1<<len(flagNames) - 1); rest != 0 {
		if b.Len() > 0 {
			b.WriteByte('|')
		}
		b.WriteString("0x")
		b.WriteString(strconv.FormatUint(uint64(rest), 16))
	}
	return b.String()
}

// Class is the timeout class a command falls in; the Timeouts hook picks a
// deadline per class.
type Class uint8

const (
	// ClassUnknown is a command the table does not know, or one that neither
	// reads nor writes data and is not slow (PING, MULTI, PUBLISH, ...).
	ClassUnknown Class = iota
	// ClassRead is a read-only command.
	ClassRead
	// ClassWrite is a command that may write.
	ClassWrite
	// ClassSlow is a slow or administrative command (the Slow flag).
	ClassSlow
	// ClassScript is a script or function call (the Script flag).
	ClassScript
	// ClassBlocking is a command that blocks on the server (the Blocking flag).
	ClassBlocking
)

// String returns the class name: "unknown", "read", "write", "slow",
// "script" or "blocking".
func (c Class) String() string {
	switch c {
	case ClassUnknown:
		return "unknown"
	case ClassRead:
		return "read"
	case ClassWrite:
		return "write"
	case ClassSlow:
		return "slow"
	case ClassScript:
		return "script"
	case ClassBlocking:
		return "blocking"
	default:
		return "class(" + strconv.Itoa(int(c)) + ")"
	}
}

// classOfFlags derives the class from flags: Blocking, then Script, then Slow,
// then Write, then ReadOnly.
func classOfFlags(f Flags) Class {
	switch {
	case f&Blocking != 0:
		return ClassBlocking
	case f&Script != 0:
		return ClassScript
	case f&Slow != 0:
		return ClassSlow
	case f&Write != 0:
		return ClassWrite
	case f&ReadOnly != 0:
		return ClassRead
	default:
		return ClassUnknown
	}
}

// CommandInfo is what the table knows of one command instance: its name and
// what its arguments make of it.
type CommandInfo struct {
	// Name is the lower-case command name as go-redis sends it ("get"). For
	// a command with subcommands it is the command ("config", not
	// "config get").
	Name string
	// Flags are the command's flags for these arguments: SET NX is not
	// Idempotent while SET is; XREAD is Blocking only with BLOCK.
	Flags Flags
	// Class is the timeout class derived from Flags.
	Class Class
	// BlockTimeout is, for a blocking command, the timeout written in its
	// arguments (BLPOP's seconds, XREAD's BLOCK milliseconds, WAIT's
	// milliseconds). Note that go-redis writes BLPOP-style timeouts in whole
	// seconds, rounded down and at least 1: BLPop(ctx, 1500*time.Millisecond)
	// blocks for 1s and reports 1s. It is 0 when BlockForever is set, and
	// also 0 when the argument cannot be read or is negative (the server
	// rejects those) or the table does not know where it is (a blocking
	// command added with WithCommand).
	BlockTimeout time.Duration
	// BlockForever is set for a blocking command whose timeout is 0: it may
	// wait forever.
	BlockForever bool
}

// Is reports whether all bits of f are set.
func (i CommandInfo) Is(f Flags) bool { return i.Flags&f == f }

// IsBlocking reports whether the command may block on the server.
func (i CommandInfo) IsBlocking() bool { return i.Flags&Blocking != 0 }

// IsIdempotent reports whether the command may be sent again after it may
// have run.
func (i CommandInfo) IsIdempotent() bool { return i.Flags&Idempotent != 0 }

// CommandTable classifies commands by name and arguments. It is immutable
// after construction and safe for concurrent use. A nil *CommandTable
// behaves as DefaultTable.
type CommandTable struct {
	cmds map[string]*cmdEntry
	// scripts holds script bodies (EVAL) and function names (FCALL) marked
	// idempotent; shas holds lower-case SHA1 digests (EVALSHA).
	scripts map[string]struct{}
	shas    map[string]struct{}
}

// cmdEntry is one command (or subcommand) of the table.
type cmdEntry struct {
	name  string // the command name reported in CommandInfo.Name
	flags Flags
	// refine adjusts flags by the arguments (SET NX, ZADD INCR, ...); nil
	// when the arguments do not matter.
	refine func(t *CommandTable, args []interface{}, f Flags) Flags
	block  cmdBlockSpec
	subs   map[string]*cmdEntry // subcommands of a container command
}

// cmdBlockKind says where a blocking command writes its timeout.
type cmdBlockKind uint8

const (
	cmdBlockNone      cmdBlockKind = iota
	cmdBlockSecLast                // seconds, last argument (BLPOP, BZPOPMIN)
	cmdBlockSecAt                  // seconds at pos (BLMOVE, BLMPOP, BRPOPLPUSH)
	cmdBlockMsAt                   // milliseconds at pos (WAIT, WAITAOF)
	cmdBlockMsKeyword              // "BLOCK <ms>" from pos on; blocking only when present (XREAD)
)

type cmdBlockSpec struct {
	kind cmdBlockKind
	pos  int8
	// stopAtStreams ends the keyword scan at STREAMS (XREAD, XREADGROUP).
	stopAtStreams bool
}

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

// Classify reports what cmd is, from its name and arguments. It does not
// allocate for a command the table knows whose name is a string or []byte
// of up to 64 bytes, whatever its case. An unknown command has no flags and
// ClassUnknown.
func (t *CommandTable) Classify(cmd redis.Cmder) CommandInfo {
	info, _ := t.classify(cmd)
	return info
}

// classify is Classify that also reports whether the table knows cmd.
func (t *CommandTable) classify(cmd redis.Cmder) (CommandInfo, bool) {
	t = t.orDefault()
	if cmd == nil {
		return CommandInfo{}, false
	}
	args := cmd.Args()
	if len(args) == 0 {
		return CommandInfo{}, false
	}
	e := t.entry(args)
	if e == nil {
		return CommandInfo{Name: cmd.Name()}, false
	}
	f := e.flags
	if e.refine != nil {
		f = e.refine(t, args, f)
	}
	info := CommandInfo{Name: e.name}
	switch e.block.kind {
	case cmdBlockNone:
	case cmdBlockMsKeyword:
		if pos, _ := e.blockArg(args); pos > 0 {
			f |= Blocking
			info.BlockTimeout, info.BlockForever = parseBlockTimeout(args, pos, false)
		}
	default:
		if f&Blocking != 0 {
			pos, sec := e.blockArg(args)
			info.BlockTimeout, info.BlockForever = parseBlockTimeout(args, pos, sec)
		}
	}
	info.Flags = f
	info.Class = classOfFlags(f)
	return info, true
}

// orDefault returns t, or the default table for a nil t.
func (t *CommandTable) orDefault() *CommandTable {
	if t == nil {
		if t = DefaultTable; t == nil {
			t = builtinTable
		}
	}
	return t
}

// entry returns the table's entry for the command args name (its
// subcommand's where the table lists it), or nil. args must not be empty.
func (t *CommandTable) entry(args []interface{}) *cmdEntry {
	e := lookupCmd(t.cmds, args[0])
	if e != nil && e.subs != nil && len(args) > 1 {
		if s := lookupCmd(e.subs, args[1]); s != nil {
			e = s
		}
	}
	return e
}

// blockArg returns the index in args of e's block timeout, and whether it
// is in seconds (else milliseconds). The index is -1 when e has none or,
// for a "BLOCK ms" command, when args have no BLOCK; it may be out of
// range when args are too short.
func (e *cmdEntry) blockArg(args []interface{}) (pos int, sec bool) {
	switch e.block.kind {
	case cmdBlockSecLast:
		return len(args) - 1, true
	case cmdBlockSecAt:
		return int(e.block.pos), true
	case cmdBlockMsAt:
		return int(e.block.pos), false
	case cmdBlockMsKeyword:
		if i := cmdKeywordIndex(args, int(e.block.pos), "block", e.block.stopAtStreams); i > 0 {
			return i + 1, false
		}
	}
	return -1, false
}

// setBlockArg replaces the block timeout argument of cmd, a blocking
// command the table knows, with sec (if the timeout is in seconds) or ms
// (if in milliseconds), in place: go-redis writes cmd.Args() when it
// sends the command, so the server sees the new value. It reports whether
// it found the argument.
func (t *CommandTable) setBlockArg(cmd redis.Cmder, sec, ms interface{}) bool {
	args := cmd.Args()
	if len(args) == 0 {
		return false
	}
	e := t.orDefault().entry(args)
	if e == nil {
		return false
	}
	pos, inSec := e.blockArg(args)
	if pos < 0 || pos >= len(args) {
		return false
	}
	if inSec {
		args[pos] = sec
	} else {
		args[pos] = ms
	}
	return true
}

// PipelineInfo summarizes the commands of a pipeline or a transaction.
type PipelineInfo struct {
	// Len is the number of commands.
	Len int
	// Unknown counts the commands the table does not know.
	Unknown int
	// Any holds the flags set on at least one command.
	Any Flags
	// All holds the flags set on every command. For an empty pipeline it
	// has every flag: there is nothing to object.
	All Flags
	// BlockTimeout is the longest block timeout among blocking commands.
	BlockTimeout time.Duration
	// BlockForever is set when a blocking command may wait forever.
	BlockForever bool
	classes      uint16
}

// IsIdempotent reports whether every command is idempotent, so the whole
// pipeline may be sent again. MULTI, EXEC and the other transaction
// commands are idempotent, so a transaction is idempotent when what it
// wraps is.
func (p PipelineInfo) IsIdempotent() bool { return p.All&Idempotent != 0 }

// IsBlocking reports whether any command may block on the server.
func (p PipelineInfo) IsBlocking() bool { return p.Any&Blocking != 0 }

// HasClass reports whether at least one command falls in class c.
func (p PipelineInfo) HasClass(c Class) bool { return c < 16 && p.classes&(1<<c) != 0 }

// ClassifyPipeline classifies each command of cmds and summarizes them. It
// allocates no more than Classify does.
func (t *CommandTable) ClassifyPipeline(cmds []redis.Cmder) PipelineInfo {
	p := PipelineInfo{Len: len(cmds), All: ^Flags(0)}
	for _, cmd := range cmds {
		i, known := t.classify(cmd)
		if !known {
			p.Unknown++
		}
		p.Any |= i.Flags
		p.All &= i.Flags
		p.classes |= 1 << i.Class
		if i.BlockForever {
			p.BlockForever = true
		}
		if i.BlockTimeout > p.BlockTimeout {
			p.BlockTimeout = i.BlockTimeout
		}
	}
	return p
}

// maxCmdNameLen bounds the names lower-cased on the stack.
const maxCmdNameLen = 64

// lookupCmd finds the entry for a command or subcommand name argument
// without allocating.
func lookupCmd(m map[string]*cmdEntry, arg interface{}) *cmdEntry {
	e, _ := lookupLower(m, arg)
	return e
}

// lookupLower looks a name argument (string, []byte or *string) up in a map
// keyed by lower-case names, ignoring ASCII case, without allocating:
// go-redis sends lower-case names, so the first map access usually hits;
// other names of up to maxCmdNameLen bytes are lower-cased into a stack
// buffer.
func lookupLower[V any](m map[string]V, arg interface{}) (e V, ok bool) {
	switch v := arg.(type) {
	case string:
		if e, ok = m[v]; ok || len(v) > maxCmdNameLen || !hasUpperASCII(v) {
			return e, ok
		}
		var buf [maxCmdNameLen]byte
		n := copy(buf[:], v)
		lowerASCII(buf[:n])
		e, ok = m[string(buf[:n])]
	case []byte:
		if len(v) > maxCmdNameLen {
			return e, false
		}
		var buf [maxCmdNameLen]byte
		n := copy(buf[:], v)
		lowerASCII(buf[:n])
		e, ok = m[string(buf[:n])]
	case *string:
		if v != nil {
			e, ok = lookupLower(m, *v)
		}
	}
	return e, ok
}

func hasUpperASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			return true
		}
	}
	return false
}

func lowerASCII(b []byte) {
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
}

// cmdArgIs reports whether a string, []byte or *string argument equals the
// lower-case word, ignoring ASCII case as Redis does.
func cmdArgIs(arg interface{}, word string) bool {
	switch v := arg.(type) {
	case string:
		return equalFoldASCII(v, word)
	case []byte:
		if len(v) != len(word) {
			return false
		}
		for i, c := range v {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != word[i] {
				return false
			}
		}
		return true
	case *string:
		return v != nil && equalFoldASCII(*v, word)
	default:
		return false
	}
}

// equalFoldASCII reports whether s equals the lower-case word, ignoring
// ASCII case only.
func equalFoldASCII(s, word string) bool {
	if len(s) != len(word) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != word[i] {
			return false
		}
	}
	return true
}

// cmdArgIsAny reports whether arg is one of the lower-case words.
func cmdArgIsAny(arg interface{}, words ...string) bool {
	switch v := arg.(type) {
	case string:
		for _, w := range words {
			if equalFoldASCII(v, w) {
				return true
			}
		}
		return false
	case []byte, *string:
		for _, w := range words {
			if cmdArgIs(v, w) {
				return true
			}
		}
		return false
	default:
		return false // numbers and other types are never keywords
	}
}

// cmdKeywordIndex returns the index of the first argument from start on equal
// to word (case-insensitive), or -1. With stopAtStreams the scan ends at a
// STREAMS argument.
func cmdKeywordIndex(args []interface{}, start int, word string, stopAtStreams bool) int {
	for i := start; i < len(args); i++ {
		if cmdArgIs(args[i], word) {
			return i
		}
		if stopAtStreams && cmdArgIs(args[i], "streams") {
			return -1
		}
	}
	return -1
}

// sameKeyArg reports whether two key arguments may name the same key. Keys of
// types other than string and []byte are assumed to match (conservative).
func sameKeyArg(a, b interface{}) bool {
	switch x := a.(type) {
	case string:
		switch y := b.(type) {
		case string:
			return x == y
		case []byte:
			return x == string(y)
		}
	case []byte:
		switch y := b.(type) {
		case string:
			return string(x) == y
		case []byte:
			return string(x) == string(y)
		}
	}
	return true
}

// cmdArgInt reads an integer argument as go-redis would write it.
func cmdArgInt(arg interface{}) (int64, bool) {
	switch v := arg.(type) {
	case int:
		return int64(v), true
	case int64:
		return v, true
	case int32:
		return int64(v), true
	case int16:
		return int64(v), true
	case int8:
		return int64(v), true
	case uint:
		return clampUint64(uint64(v)), true
	case uint64:
		return clampUint64(v), true
	case uint32:
		return int64(v), true
	case uint16:
		return int64(v), true
	case uint8:
		return int64(v), true
	case time.Duration:
		// go-redis writes a Duration as its nanoseconds.
		return int64(v), true
	case bool:
		if v {
			return 1, true
		}
		return 0, true
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	case []byte:
		n, err := strconv.ParseInt(string(v), 10, 64)
		return n, err == nil
	case *string:
		if v == nil {
			return 0, true
		}
		return cmdArgInt(*v)
	case *int:
		if v == nil {
			return 0, true
		}
		return int64(*v), true
	case *int64:
		if v == nil {
			return 0, true
		}
		return *v, true
	default:
		return 0, false
	}
}

func clampUint64(u uint64) int64 {
	if u > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(u)
}

// cmdArgFloat reads a numeric argument (integer or decimal) as a float64.
func cmdArgFloat(arg interface{}) (float64, bool) {
	switch v := arg.(type) {
	case float64:
		return v, true
	case float32:
		return float64(v), true
	case *float64:
		if v == nil {
			return 0, true
		}
		return *v, true
	case string:
		f, err := strconv.ParseFloat(v, 64)
		return f, err == nil
	case []byte:
		f, err := strconv.ParseFloat(string(v), 64)
		return f, err == nil
	case *string:
		if v == nil {
			return 0, true
		}
		return cmdArgFloat(*v)
	default:
		n, ok := cmdArgInt(arg)
		return float64(n), ok
	}
}

// parseBlockTimeout reads the timeout at args[pos]: seconds (a decimal, as
// BLPOP takes) when sec is set, whole milliseconds otherwise. A zero timeout
// blocks forever; an unreadable or negative one yields (0, false).
func parseBlockTimeout(args []interface{}, pos int, sec bool) (time.Duration, bool) {
	if pos < 0 || pos >= len(args) {
		return 0, false
	}
	if !sec {
		ms, ok := cmdArgInt(args[pos])
		switch {
		case !ok || ms < 0:
			return 0, false
		case ms == 0:
			return 0, true
		case ms > math.MaxInt64/int64(time.Millisecond):
			return math.MaxInt64, false
		}
		return time.Duration(ms) * time.Millisecond, false
	}
	s, ok := cmdArgFloat(args[pos])
	switch {
	case !ok || s < 0 || math.IsNaN(s):
		return 0, false
	case s == 0:
		return 0, true
	case s >= float64(math.MaxInt64)/float64(time.Second):
		return math.MaxInt64, false
	}
	return time.Duration(s * float64(time.Second)), false
}

// ---- argument-dependent rules ----
//
// Each rule receives the flags of the entry and returns them with
// Idempotent set or cleared for these arguments.

func idemIf(f Flags, ok bool) Flags {
	if ok {
		return f | Idempotent
	}
	return f &^ Idempotent
}

// refineSet: SET key value [NX|XX] [GET] [IFEQ v|IFNE v|IFDEQ d|IFDNE d]
// [EX|PX|EXAT|PXAT n|KEEPTTL]. NX (OK then nil), GET (the old value, then
// the new one) and the conditional forms change the reply or the effect on
// repetition. XX does not: the key exists after the first run, so the
// repeat answers OK again and writes the same value. A relative EX/PX
// restarts the TTL from the last attempt; that is accepted, as the value is
// the point of the command.
func refineSet(_ *CommandTable, args []interface{}, f Flags) Flags {
	for i := 3; i < len(args); i++ {
		if cmdArgIsAny(args[i], "nx", "get", "ifeq", "ifne", "ifdeq", "ifdne") {
			return f &^ Idempotent
		}
	}
	return f | Idempotent
}

// refineExpireAt: EXPIREAT/PEXPIREAT key time [NX|XX|GT|LT] and
// HEXPIREAT/HPEXPIREAT key time [NX|XX|GT|LT] FIELDS ...: NX, GT and LT
// report 1 then 0 when repeated; XX and no option repeat the same reply.
func refineExpireAt(_ *CommandTable, args []interface{}, f Flags) Flags {
	return idemIf(f, len(args) < 4 || !cmdArgIsAny(args[3], "nx", "gt", "lt"))
}

// refineZAdd: ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member ...: INCR
// adds the score again on repetition. The options end at the first score.
func refineZAdd(_ *CommandTable, args []interface{}, f Flags) Flags {
	for i := 2; i < len(args); i++ {
		switch {
		case cmdArgIs(args[i], "incr"):
			return f &^ Idempotent
		case cmdArgIsAny(args[i], "nx", "xx", "gt", "lt", "ch"):
		default:
			return f | Idempotent
		}
	}
	return f | Idempotent
}

// refineXAdd: XADD is idempotent only with IDMP or IDMPAUTO (the server
// drops the duplicate and returns the first ID). Otherwise a repeat either
// appends a second entry ("*") or, with an explicit ID, fails with "ID equal
// or smaller than the target stream top item" although the first attempt
// wrote: a retry would report failure for a write that happened.
func refineXAdd(_ *CommandTable, args []interface{}, f Flags) Flags {
	i := 2
	for i < len(args) {
		switch a := args[i]; {
		case cmdArgIsAny(a, "idmp", "idmpauto"):
			return f | Idempotent
		case cmdArgIsAny(a, "nomkstream", "keepref", "delref", "acked"):
			i++
		case cmdArgIsAny(a, "maxlen", "minid"):
			i++
			if i < len(args) && cmdArgIsAny(args[i], "=", "~") {
				i++
			}
			i++
		case cmdArgIs(a, "limit"):
			i += 2
		default:
			return f &^ Idempotent // the ID: options are over
		}
	}
	return f &^ Idempotent
}

// refineXTrim: XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT n]. Exact
// trimming reaches the threshold at once, so a repeat removes nothing;
// approximate trimming ("~") is capped by a LIMIT (explicit or the server's
// default), so a repeat may remove more.
func refineXTrim(_ *CommandTable, args []interface{}, f Flags) Flags {
	return idemIf(f, cmdKeywordIndex(args, 2, "~", false) < 0)
}

// refineLRem: LREM key count element: count 0 removes every occurrence, so
// a repeat removes nothing; another count removes up to count more.
func refineLRem(_ *CommandTable, args []interface{}, f Flags) Flags {
	n, ok := int64(0), false
	if len(args) > 2 {
		n, ok = cmdArgInt(args[2])
	}
	return idemIf(f, ok && n == 0)
}

// refineLTrim: LTRIM key start stop is idempotent in the forms that keep a
// prefix or a suffix: "0 N" (N >= 0), "0 -1" and "-M -1". Others (dropping
// head elements, for instance "1 -1") trim again on repetition.
func refineLTrim(_ *CommandTable, args []interface{}, f Flags) Flags {
	if len(args) < 4 {
		return f &^ Idempotent
	}
	start, ok1 := cmdArgInt(args[2])
	stop, ok2 := cmdArgInt(args[3])
	return idemIf(f, ok1 && ok2 && (start == 0 && stop >= -1 || start < 0 && stop == -1))
}

// refineKeyword returns a rule that makes the command idempotent exactly
// when word appears from args[from] on (COPY/RESTORE ... REPLACE).
func refineKeyword(from int, word string) func(*CommandTable, []interface{}, Flags) Flags {
	return func(_ *CommandTable, args []interface{}, f Flags) Flags {
		return idemIf(f, cmdKeywordIndex(args, from, word, false) >= 0)
	}
}

// refineFunctionRestore: FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]:
// APPEND (the default) fails on repetition.
func refineFunctionRestore(_ *CommandTable, args []interface{}, f Flags) Flags {
	return idemIf(f, len(args) > 3 && cmdArgIsAny(args[3], "flush", "replace"))
}

// refineDestNotSource returns a rule for "store" commands that recompute a
// destination from sources: idempotent unless the destination is also a
// source (ZUNIONSTORE d 2 d x adds x's scores again on repetition).
// dest is the destination's index and first the first source's. The
// sources are one key (n == 1), every argument from first on (n == 0), or
// as many as the count at args[-n] (n < 0, ZUNIONSTORE's numkeys).
func refineDestNotSource(dest, first, n int) func(*CommandTable, []interface{}, Flags) Flags {
	return func(_ *CommandTable, args []interface{}, f Flags) Flags {
		if dest >= len(args) || first >= len(args) {
			return f &^ Idempotent
		}
		last := len(args)
		switch {
		case n > 0:
			last = first + n
		case n < 0:
			if -n >= len(args) {
				return f &^ Idempotent
			}
			k, ok := cmdArgInt(args[-n])
			if !ok || k < 0 || int64(first)+k > int64(len(args)) {
				return f &^ Idempotent
			}
			last = first + int(k)
		}
		for i := first; i < last && i < len(args); i++ {
			if sameKeyArg(args[dest], args[i]) {
				return f &^ Idempotent
			}
		}
		return f | Idempotent
	}
}

// refineSort: SORT key [BY p] [LIMIT o c] [GET p ...] [ASC|DESC] [ALPHA]
// [STORE dest] is a read without STORE; with STORE it is idempotent unless
// dest is the sorted key (a LIMIT would cut the stored result again).
func refineSort(_ *CommandTable, args []interface{}, f Flags) Flags {
	for i := 2; i < len(args); {
		switch a := args[i]; {
		case cmdArgIsAny(a, "by", "get"):
			i += 2
		case cmdArgIs(a, "limit"):
			i += 3
		case cmdArgIs(a, "store"):
			return idemIf(f, i+1 < len(args) && !sameKeyArg(args[1], args[i+1]))
		default:
			i++
		}
	}
	return f | Idempotent
}

// refineGeoRadius returns the rule for GEORADIUS (options from args[6]) and
// GEORADIUSBYMEMBER (from args[5]): idempotent unless STORE or STOREDIST
// names the source key.
func refineGeoRadius(from int) func(*CommandTable, []interface{}, Flags) Flags {
	return func(_ *CommandTable, args []interface{}, f Flags) Flags {
		for i := from; i < len(args); {
			switch a := args[i]; {
			case cmdArgIs(a, "count"):
				i += 2
			case cmdArgIsAny(a, "store", "storedist"):
				if i+1 >= len(args) || sameKeyArg(args[1], args[i+1]) {
					return f &^ Idempotent
				}
				i += 2
			default:
				i++
			}
		}
		return f | Idempotent
	}
}

// refineEval: EVAL/FCALL are idempotent when their script body or function
// name (args[1]) was marked with WithIdempotentScript.
func refineEval(t *CommandTable, args []interface{}, f Flags) Flags {
	if len(args) < 2 || t.scripts == nil {
		return f
	}
	var ok bool
	switch v := args[1].(type) {
	case string:
		_, ok = t.scripts[v]
	case []byte:
		_, ok = t.scripts[string(v)]
	case *string:
		if v != nil {
			_, ok = t.scripts[*v]
		}
	}
	return idemIf(f, ok)
}

// refineEvalSha: EVALSHA is idempotent when its SHA1 was marked (directly
// or through the script body).
func refineEvalSha(t *CommandTable, args []interface{}, f Flags) Flags {
	if len(args) < 2 || t.shas == nil {
		return f
	}
	_, ok := lookupLower(t.shas, args[1])
	return idemIf(f, ok)
}

// ---- the built-in table ----

type cmdBuiltin struct {
	name   string
	flags  Flags
	refine func(*CommandTable, []interface{}, Flags) Flags
	block  cmdBlockSpec
	subs   []cmdBuiltin // subcommands; their own subs are ignored
}

// Shorthands for the table below.
const (
	tblRead      = ReadOnly | Idempotent // a read
	tblWrite     = Write                 // a write that must not be repeated
	tblWriteIdem = Write | Idempotent    // a write whose repetition changes nothing
	tblIdem      = Idempotent            // touches no data, safe to repeat
	tblBlockPop  = Write | Blocking      // a blocking pop or move
	tblSlow      = Slow                  // administrative, not safe to repeat
	tblSlowIdem  = Slow | Idempotent     // administrative, safe to repeat
)

func tblSecLast() cmdBlockSpec       { return cmdBlockSpec{kind: cmdBlockSecLast} }
func tblSecAt(pos int8) cmdBlockSpec { return cmdBlockSpec{kind: cmdBlockSecAt, pos: pos} }
func tblMsAt(pos int8) cmdBlockSpec  { return cmdBlockSpec{kind: cmdBlockMsAt, pos: pos} }
func tblMsBlockFrom(pos int8) cmdBlockSpec {
	return cmdBlockSpec{kind: cmdBlockMsKeyword, pos: pos, stopAtStreams: true}
}

// builtinCommands is the table of Redis 7.x commands (with a few of 7.2,
// 7.4 and 8.x that go-redis sends, and TS.READ for its BLOCK form). Names
// are lower case. A command missing here is unknown: not idempotent, not
// blocking, ClassUnknown.
var builtinCommands = []cmdBuiltin{
	// Strings.
	{name: "get", flags: tblRead},
	{name: "mget", flags: tblRead},
	{name: "getrange", flags: tblRead},
	{name: "substr", flags: tblRead},
	{name: "strlen", flags: tblRead},
	{name: "lcs", flags: tblRead},
	{name: "set", flags: tblWriteIdem, refine: refineSet},
	{name: "setex", flags: tblWriteIdem},  // like SET EX: the TTL restarts from the last attempt
	{name: "psetex", flags: tblWriteIdem}, // like SET PX
	{name: "mset", flags: tblWriteIdem},
	{name: "setrange", flags: tblWriteIdem}, // same bytes at the same offset, same length reply
	{name: "setnx", flags: tblWrite},        // 1 then 0
	{name: "msetnx", flags: tblWrite},       // 1 then 0
	{name: "getset", flags: tblWrite},       // a repeat returns the new value
	{name: "getdel", flags: tblWrite},       // a repeat returns nil
	{name: "getex", flags: tblWrite},        // a relative EX/PX moves the deadline; PERSIST flips
	{name: "append", flags: tblWrite},
	{name: "incr", flags: tblWrite},
	{name: "incrby", flags: tblWrite},
	{name: "incrbyfloat", flags: tblWrite},
	{name: "decr", flags: tblWrite},
	{name: "decrby", flags: tblWrite},
	{name: "delex", flags: tblWrite}, // conditional delete (8.4)
	{name: "digest", flags: tblRead}, // 8.4

	// Bitmaps.
	{name: "getbit", flags: tblRead},
	{name: "bitcount", flags: tblRead},
	{name: "bitpos", flags: tblRead},
	{name: "bitfield_ro", flags: tblRead},
	{name: "setbit", flags: tblWrite},   // the reply is the previous bit: a repeat reports the new one
	{name: "bitfield", flags: tblWrite}, // INCRBY adds again; SET returns the previous value
	{name: "bitop", flags: tblWriteIdem, refine: refineDestNotSource(2, 3, 0)},

	// HyperLogLog.
	{name: "pfadd", flags: tblWriteIdem}, // same registers; the reply says whether they changed
	{name: "pfcount", flags: tblRead},
	{name: "pfmerge", flags: tblWriteIdem}, // a union is the same when merged twice
	{name: "pfdebug", flags: Write | Slow},
	{name: "pfselftest", flags: tblSlowIdem},

	// Keys.
	{name: "del", flags: tblWriteIdem}, // the count is what the last attempt deleted
	{name: "unlink", flags: tblWriteIdem},
	{name: "exists", flags: tblRead},
	{name: "type", flags: tblRead},
	{name: "touch", flags: tblRead},
	{name: "ttl", flags: tblRead},
	{name: "pttl", flags: tblRead},
	{name: "expiretime", flags: tblRead},
	{name: "pexpiretime", flags: tblRead},
	{name: "expire", flags: tblWrite},  // relative: a repeat moves the deadline; NX/GT/LT flip the reply
	{name: "pexpire", flags: tblWrite}, // relative
	{name: "expireat", flags: tblWriteIdem, refine: refineExpireAt},
	{name: "pexpireat", flags: tblWriteIdem, refine: refineExpireAt},
	{name: "persist", flags: tblWriteIdem},
	{name: "randomkey", flags: tblRead},
	{name: "scan", flags: tblRead},
	{name: "keys", flags: tblRead | Slow},
	{name: "dump", flags: tblRead},
	{name: "rename", flags: tblWrite},   // a repeat fails with "no such key"
	{name: "renamenx", flags: tblWrite}, // likewise
	{name: "move", flags: tblWrite},     // 1 then 0
	{name: "copy", flags: tblWrite, refine: refineKeyword(3, "replace")},
	{name: "restore", flags: tblWrite, refine: refineKeyword(4, "replace")},
	{name: "restore-asking", flags: tblWrite, refine: refineKeyword(4, "replace")},
	{name: "sort", flags: tblWriteIdem, refine: refineSort},
	{name: "sort_ro", flags: tblRead},
	{name: "migrate", flags: Write | Slow}, // moves the key: a repeat answers NOKEY
	{name: "wait", flags: Blocking | Idempotent, block: tblMsAt(2)},
	{name: "waitaof", flags: Blocking | Idempotent, block: tblMsAt(3)},
	{name: "object", subs: []cmdBuiltin{
		{name: "encoding", flags: tblRead},
		{name: "freq", flags: tblRead},
		{name: "idletime", flags: tblRead},
		{name: "refcount", flags: tblRead},
		{name: "help", flags: tblIdem},
	}},

	// Lists.
	{name: "lindex", flags: tblRead},
	{name: "llen", flags: tblRead},
	{name: "lrange", flags: tblRead},
	{name: "lpos", flags: tblRead},
	{name: "lset", flags: tblWriteIdem},
	{name: "ltrim", flags: tblWriteIdem, refine: refineLTrim},
	{name: "lrem", flags: tblWrite, refine: refineLRem},
	{name: "lpush", flags: tblWrite},
	{name: "rpush", flags: tblWrite},
	{name: "lpushx", flags: tblWrite},
	{name: "rpushx", flags: tblWrite},
	{name: "linsert", flags: tblWrite},
	{name: "lpop", flags: tblWrite},
	{name: "rpop", flags: tblWrite},
	{name: "lmpop", flags: tblWrite},
	{name: "lmove", flags: tblWrite},
	{name: "lmovem", flags: tblWrite},
	{name: "rpoplpush", flags: tblWrite},
	{name: "blpop", flags: tblBlockPop, block: tblSecLast()},
	{name: "brpop", flags: tblBlockPop, block: tblSecLast()},
	{name: "brpoplpush", flags: tblBlockPop, block: tblSecAt(3)},
	{name: "blmove", flags: tblBlockPop, block: tblSecAt(5)},
	{name: "blmovem", flags: tblBlockPop, block: tblSecAt(5)},
	{name: "blmpop", flags: tblBlockPop, block: tblSecAt(1)},

	// Hashes.
	{name: "hget", flags: tblRead},
	{name: "hmget", flags: tblRead},
	{name: "hgetall", flags: tblRead},
	{name: "hkeys", flags: tblRead},
	{name: "hvals", flags: tblRead},
	{name: "hlen", flags: tblRead},
	{name: "hexists", flags: tblRead},
	{name: "hstrlen", flags: tblRead},
	{name: "hrandfield", flags: tblRead},
	{name: "hscan", flags: tblRead},
	{name: "hset", flags: tblWriteIdem}, // the count is what the last attempt added
	{name: "hmset", flags: tblWriteIdem},
	{name: "hdel", flags: tblWriteIdem},
	{name: "hsetnx", flags: tblWrite}, // 1 then 0
	{name: "hincrby", flags: tblWrite},
	{name: "hincrbyfloat", flags: tblWrite},
	{name: "httl", flags: tblRead},
	{name: "hpttl", flags: tblRead},
	{name: "hexpiretime", flags: tblRead},
	{name: "hpexpiretime", flags: tblRead},
	{name: "hexpire", flags: tblWrite},  // relative
	{name: "hpexpire", flags: tblWrite}, // relative
	{name: "hexpireat", flags: tblWriteIdem, refine: refineExpireAt},
	{name: "hpexpireat", flags: tblWriteIdem, refine: refineExpireAt},
	{name: "hpersist", flags: tblWriteIdem},
	{name: "hgetdel", flags: tblWrite},
	{name: "hgetex", flags: tblWrite},
	{name: "hsetex", flags: tblWrite}, // FNX/FXX flip the reply; a relative TTL moves

	// Sets.
	{name: "sismember", flags: tblRead},
	{name: "smismember", flags: tblRead},
	{name: "smembers", flags: tblRead},
	{name: "scard", flags: tblRead},
	{name: "srandmember", flags: tblRead},
	{name: "sscan", flags: tblRead},
	{name: "sinter", flags: tblRead},
	{name: "sintercard", flags: tblRead},
	{name: "sunion", flags: tblRead},
	{name: "sdiff", flags: tblRead},
	{name: "sadd", flags: tblWriteIdem},
	{name: "srem", flags: tblWriteIdem},
	{name: "sinterstore", flags: tblWriteIdem}, // set algebra is the same applied twice, even onto a source
	{name: "sunionstore", flags: tblWriteIdem},
	{name: "sdiffstore", flags: tblWriteIdem},
	{name: "smove", flags: tblWrite}, // 1 then 0: the reply says whether it moved
	{name: "spop", flags: tblWrite},

	// Sorted sets.
	{name: "zscore", flags: tblRead},
	{name: "zmscore", flags: tblRead},
	{name: "zcard", flags: tblRead},
	{name: "zcount", flags: tblRead},
	{name: "zlexcount", flags: tblRead},
	{name: "zrank", flags: tblRead},
	{name: "zrevrank", flags: tblRead},
	{name: "zrange", flags: tblRead},
	{name: "zrangebyscore", flags: tblRead},
	{name: "zrangebylex", flags: tblRead},
	{name: "zrevrange", flags: tblRead},
	{name: "zrevrangebyscore", flags: tblRead},
	{name: "zrevrangebylex", flags: tblRead},
	{name: "zrandmember", flags: tblRead},
	{name: "zscan", flags: tblRead},
	{name: "zunion", flags: tblRead},
	{name: "zinter", flags: tblRead},
	{name: "zintercard", flags: tblRead},
	{name: "zdiff", flags: tblRead},
	{name: "zadd", flags: tblWriteIdem, refine: refineZAdd},
	{name: "zrem", flags: tblWriteIdem},
	{name: "zremrangebyscore", flags: tblWriteIdem},
	{name: "zremrangebylex", flags: tblWriteIdem},
	{name: "zremrangebyrank", flags: tblWrite}, // ranks shift: a repeat removes more
	{name: "zincrby", flags: tblWrite},
	{name: "zpopmin", flags: tblWrite},
	{name: "zpopmax", flags: tblWrite},
	{name: "zmpop", flags: tblWrite},
	{name: "zunionstore", flags: tblWriteIdem, refine: refineDestNotSource(1, 3, -2)},
	{name: "zinterstore", flags: tblWriteIdem, refine: refineDestNotSource(1, 3, -2)},
	{name: "zdiffstore", flags: tblWriteIdem}, // a difference is the same applied twice
	{name: "zrangestore", flags: tblWriteIdem, refine: refineDestNotSource(1, 2, 1)},
	{name: "bzpopmin", flags: tblBlockPop, block: tblSecLast()},
	{name: "bzpopmax", flags: tblBlockPop, block: tblSecLast()},
	{name: "bzmpop", flags: tblBlockPop, block: tblSecAt(1)},

	// Geo.
	{name: "geoadd", flags: tblWriteIdem},
	{name: "geodist", flags: tblRead},
	{name: "geohash", flags: tblRead},
	{name: "geopos", flags: tblRead},
	{name: "geosearch", flags: tblRead},
	{name: "georadius_ro", flags: tblRead},
	{name: "georadiusbymember_ro", flags: tblRead},
	{name: "georadius", flags: tblWriteIdem, refine: refineGeoRadius(6)},
	{name: "georadiusbymember", flags: tblWriteIdem, refine: refineGeoRadius(5)},
	{name: "geosearchstore", flags: tblWriteIdem, refine: refineDestNotSource(1, 2, 1)},

	// Streams.
	{name: "xlen", flags: tblRead},
	{name: "xrange", flags: tblRead},
	{name: "xrevrange", flags: tblRead},
	{name: "xpending", flags: tblRead},
	{name: "xread", flags: tblRead, block: tblMsBlockFrom(1)},
	{name: "xreadgroup", flags: tblWrite, block: tblMsBlockFrom(4)}, // moves entries into the PEL
	{name: "xadd", flags: tblWrite, refine: refineXAdd},
	{name: "xack", flags: tblWriteIdem},
	{name: "xackdel", flags: tblWriteIdem},
	{name: "xdel", flags: tblWriteIdem},
	{name: "xdelex", flags: tblWriteIdem},
	{name: "xtrim", flags: tblWriteIdem, refine: refineXTrim},
	{name: "xsetid", flags: tblWriteIdem},
	{name: "xclaim", flags: tblWrite},     // bumps the delivery count
	{name: "xautoclaim", flags: tblWrite}, // likewise
	{name: "xgroup", subs: []cmdBuiltin{
		{name: "create", flags: tblWrite}, // a repeat fails with BUSYGROUP
		{name: "createconsumer", flags: tblWriteIdem},
		{name: "delconsumer", flags: tblWriteIdem},
		{name: "destroy", flags: tblWriteIdem},
		{name: "setid", flags: tblWriteIdem},
		{name: "help", flags: tblIdem},
	}},
	{name: "xinfo", subs: []cmdBuiltin{
		{name: "consumers", flags: tblRead},
		{name: "groups", flags: tblRead},
		{name: "stream", flags: tblRead},
		{name: "help", flags: tblIdem},
	}},

	// Pub/Sub.
	{name: "publish", flags: 0}, // each attempt delivers again
	{name: "spublish", flags: 0},
	{name: "subscribe", flags: tblIdem},
	{name: "unsubscribe", flags: tblIdem},
	{name: "psubscribe", flags: tblIdem},
	{name: "punsubscribe", flags: tblIdem},
	{name: "ssubscribe", flags: tblIdem},
	{name: "sunsubscribe", flags: tblIdem},
	{name: "pubsub", subs: []cmdBuiltin{
		{name: "channels", flags: tblIdem},
		{name: "numpat", flags: tblIdem},
		{name: "numsub", flags: tblIdem},
		{name: "shardchannels", flags: tblIdem},
		{name: "shardnumsub", flags: tblIdem},
		{name: "help", flags: tblIdem},
	}},

	// Scripting and functions.
	{name: "eval", flags: Write | Script, refine: refineEval},
	{name: "evalsha", flags: Write | Script, refine: refineEvalSha},
	{name: "fcall", flags: Write | Script, refine: refineEval},
	{name: "eval_ro", flags: tblRead | Script},
	{name: "evalsha_ro", flags: tblRead | Script},
	{name: "fcall_ro", flags: tblRead | Script},
	{name: "script", flags: tblSlow, subs: []cmdBuiltin{
		{name: "load", flags: tblSlowIdem},
		{name: "exists", flags: tblSlowIdem},
		{name: "flush", flags: tblSlowIdem},
		{name: "kill", flags: tblSlow}, // a repeat fails with NOTBUSY
		{name: "debug", flags: tblSlow},
		{name: "help", flags: tblSlowIdem},
	}},
	{name: "function", flags: tblSlow, subs: []cmdBuiltin{
		{name: "load", flags: Write | Slow, refine: refineKeyword(2, "replace")},
		{name: "restore", flags: Write | Slow, refine: refineFunctionRestore},
		{name: "delete", flags: Write | Slow}, // a repeat fails: no such library
		{name: "flush", flags: Write | Slow | Idempotent},
		{name: "dump", flags: tblSlowIdem},
		{name: "list", flags: tblSlowIdem},
		{name: "stats", flags: tblSlowIdem},
		{name: "kill", flags: tblSlow},
		{name: "help", flags: tblSlowIdem},
	}},

	// Transactions.
	{name: "multi", flags: tblIdem},
	{name: "exec", flags: tblIdem}, // as idempotent as the commands it runs
	{name: "discard", flags: tblIdem},
	{name: "watch", flags: tblIdem},
	{name: "unwatch", flags: tblIdem},

	// Connection.
	{name: "ping", flags: tblIdem},
	{name: "echo", flags: tblIdem},
	{name: "auth", flags: tblIdem},
	{name: "hello", flags: tblIdem},
	{name: "select", flags: tblIdem},
	{name: "quit", flags: tblIdem},
	{name: "reset", flags: tblIdem},
	{name: "client", subs: []cmdBuiltin{
		{name: "caching", flags: tblIdem},
		{name: "getname", flags: tblIdem},
		{name: "getredir", flags: tblIdem},
		{name: "id", flags: tblIdem},
		{name: "info", flags: tblIdem},
		{name: "list", flags: tblSlowIdem},
		{name: "kill", flags: tblSlow}, // a repeat finds no such client
		{name: "no-evict", flags: tblIdem},
		{name: "no-touch", flags: tblIdem},
		{name: "pause", flags: tblSlow}, // relative: a repeat extends the pause
		{name: "unpause", flags: tblIdem},
		{name: "reply", flags: 0},
		{name: "setname", flags: tblIdem},
		{name: "setinfo", flags: tblIdem},
		{name: "tracking", flags: tblIdem},
		{name: "trackinginfo", flags: tblIdem},
		{name: "unblock", flags: tblSlow}, // 1 then 0
		{name: "help", flags: tblIdem},
	}},

	// Server.
	{name: "info", flags: tblIdem},
	{name: "time", flags: tblIdem},
	{name: "dbsize", flags: tblRead},
	{name: "lastsave", flags: tblIdem},
	{name: "role", flags: tblIdem},
	{name: "lolwut", flags: tblRead},
	{name: "flushall", flags: tblWriteIdem | Slow},
	{name: "flushdb", flags: tblWriteIdem | Slow},
	{name: "swapdb", flags: tblWrite}, // a repeat swaps back
	{name: "save", flags: tblSlowIdem},
	{name: "bgsave", flags: tblSlow},       // a repeat fails: already in progress
	{name: "bgrewriteaof", flags: tblSlow}, // likewise
	{name: "shutdown", flags: tblSlow},
	{name: "debug", flags: tblSlow},
	{name: "monitor", flags: tblSlow},
	{name: "sync", flags: tblSlow},
	{name: "psync", flags: tblSlow},
	{name: "replconf", flags: tblSlow},
	{name: "replicaof", flags: tblSlowIdem},
	{name: "slaveof", flags: tblSlowIdem},
	{name: "failover", flags: tblSlow},
	{name: "readonly", flags: tblIdem},
	{name: "readwrite", flags: tblIdem},
	{name: "asking", flags: tblIdem},
	{name: "command", flags: tblSlowIdem, subs: []cmdBuiltin{
		{name: "count", flags: tblIdem},
		{name: "getkeys", flags: tblIdem},
		{name: "getkeysandflags", flags: tblIdem},
		{name: "docs", flags: tblSlowIdem},
		{name: "info", flags: tblSlowIdem},
		{name: "list", flags: tblSlowIdem},
		{name: "help", flags: tblIdem},
	}},
	{name: "config", flags: tblSlow, subs: []cmdBuiltin{
		{name: "get", flags: tblSlowIdem},
		{name: "set", flags: tblSlowIdem},
		{name: "resetstat", flags: tblSlowIdem},
		{name: "rewrite", flags: tblSlowIdem},
		{name: "help", flags: tblSlowIdem},
	}},
	{name: "acl", flags: tblSlow, subs: []cmdBuiltin{
		{name: "cat", flags: tblSlowIdem},
		{name: "deluser", flags: tblSlowIdem},
		{name: "dryrun", flags: tblSlowIdem},
		{name: "genpass", flags: tblSlowIdem},
		{name: "getuser", flags: tblSlowIdem},
		{name: "list", flags: tblSlowIdem},
		{name: "load", flags: tblSlowIdem},
		{name: "log", flags: tblSlowIdem},
		{name: "save", flags: tblSlowIdem},
		{name: "setuser", flags: tblSlowIdem},
		{name: "users", flags: tblSlowIdem},
		{name: "whoami", flags: tblSlowIdem},
		{name: "help", flags: tblSlowIdem},
	}},
	{name: "latency", flags: tblSlow, subs: []cmdBuiltin{
		{name: "doctor", flags: tblSlowIdem},
		{name: "graph", flags: tblSlowIdem},
		{name: "histogram", flags: tblSlowIdem},
		{name: "history", flags: tblSlowIdem},
		{name: "latest", flags: tblSlowIdem},
		{name: "reset", flags: tblSlowIdem},
		{name: "help", flags: tblSlowIdem},
	}},
	{name: "slowlog", flags: tblSlow, subs: []cmdBuiltin{
		{name: "get", flags: tblSlowIdem},
		{name: "len", flags: tblSlowIdem},
		{name: "reset", flags: tblSlowIdem},
		{name: "help", flags: tblSlowIdem},
	}},
	{name: "memory", subs: []cmdBuiltin{
		{name: "usage", flags: tblRead},
		{name: "doctor", flags: tblSlowIdem},
		{name: "malloc-stats", flags: tblSlowIdem},
		{name: "purge", flags: tblSlowIdem},
		{name: "stats", flags: tblSlowIdem},
		{name: "help", flags: tblIdem},
	}},
	{name: "module", flags: tblSlow, subs: []cmdBuiltin{
		{name: "list", flags: tblSlowIdem},
		{name: "load", flags: tblSlow}, // a repeat fails: already loaded
		{name: "loadex", flags: tblSlow},
		{name: "unload", flags: tblSlow},
		{name: "help", flags: tblSlowIdem},
	}},

	// Cluster.
	{name: "cluster", subs: []cmdBuiltin{
		{name: "info", flags: tblIdem},
		{name: "myid", flags: tblIdem},
		{name: "myshardid", flags: tblIdem},
		{name: "nodes", flags: tblIdem},
		{name: "shards", flags: tblIdem},
		{name: "slots", flags: tblIdem},
		{name: "links", flags: tblIdem},
		{name: "replicas", flags: tblIdem},
		{name: "slaves", flags: tblIdem},
		{name: "keyslot", flags: tblIdem},
		{name: "countkeysinslot", flags: tblIdem},
		{name: "getkeysinslot", flags: tblIdem},
		{name: "count-failure-reports", flags: tblIdem},
		{name: "help", flags: tblIdem},
		{name: "meet", flags: tblSlowIdem},
		{name: "replicate", flags: tblSlowIdem},
		{name: "reset", flags: tblSlowIdem},
		{name: "saveconfig", flags: tblSlowIdem},
		{name: "setslot", flags: tblSlowIdem},
		{name: "flushslots", flags: tblSlowIdem},
		{name: "addslots", flags: tblSlow}, // a repeat fails: slot busy
		{name: "addslotsrange", flags: tblSlow},
		{name: "delslots", flags: tblSlow}, // a repeat fails: slot not assigned
		{name: "delslotsrange", flags: tblSlow},
		{name: "forget", flags: tblSlow}, // a repeat fails: unknown node
		{name: "failover", flags: tblSlow},
		{name: "bumpepoch", flags: tblSlow},
		{name: "set-config-epoch", flags: tblSlow},
	}},

	// Modules go-redis drives whose blocking form matters.
	{name: "ts.read", flags: tblRead, block: cmdBlockSpec{kind: cmdBlockMsKeyword, pos: 3}},
}
