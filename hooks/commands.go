package hooks

import (
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// flagSet describe what a command is. A command may have several.
type flagSet uint16

const (
	// flagReadOnly marks a command that does not modify data. It mirrors the
	// "readonly" flag Redis itself reports in COMMAND INFO.
	flagReadOnly flagSet = 1 << iota
	// Write marks a command that may modify data. It mirrors the "write" flag
	// Redis reports, and is also set on EVAL, EVALSHA and FCALL, which write
	// whatever their script writes.
	flagWrite
	// Idempotent marks a command that may be sent again after it ran: the
	// repetition changes nothing in the data, and the reply still means what
	// the caller asked for. A counting reply (DEL, SADD, HSET, ZADD, SREM...)
	// counts what the last attempt changed, so a retried DEL may report 0.
	flagIdempotent
	// Blocking marks a command that may wait on the server for data or for
	// replicas (BLPOP, BLMOVE, XREAD BLOCK, WAIT, ...). It holds its pool
	// connection for the whole wait.
	flagBlocking
	// Slow marks a slow or administrative command: KEYS, FLUSHALL, FLUSHDB,
	// DEBUG, MIGRATE, SAVE, BGSAVE, SCRIPT, FUNCTION, CONFIG, MODULE, ACL,
	// admin CLUSTER subcommands, and the like.
	flagSlow
	// Script marks a command that runs a script or a function: EVAL, EVALSHA,
	// EVAL_RO, EVALSHA_RO, FCALL, FCALL_RO.
	flagScript
)

// flagNames are the names flagSet.String prints, in bit order.
var flagNames = [...]string{"ReadOnly", "Write", "Idempotent", "Blocking", "Slow", "Script"}

// String lists the set flags joined by "|", or "0" when none is set.
func (f flagSet) String() string {
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

// cmdClass is the timeout class a command falls in; the Timeouts hook picks a
// deadline per class.
type cmdClass uint8

const (
	// classUnknown is a command the table does not know, or one that neither
	// reads nor writes data and is not slow (PING, MULTI, PUBLISH, ...).
	classUnknown cmdClass = iota
	// classRead is a read-only command.
	classRead
	// classWrite is a command that may write.
	classWrite
	// classSlow is a slow or administrative command (the Slow flag).
	classSlow
	// classScript is a script or function call (the Script flag).
	classScript
	// classBlocking is a command that blocks on the server (the Blocking flag).
	classBlocking
)

// String returns the class name: "unknown", "read", "write", "slow",
// "script" or "blocking".
func (c cmdClass) String() string {
	switch c {
	case classUnknown:
		return "unknown"
	case classRead:
		return "read"
	case classWrite:
		return "write"
	case classSlow:
		return "slow"
	case classScript:
		return "script"
	case classBlocking:
		return "blocking"
	default:
		return "class(" + strconv.Itoa(int(c)) + ")"
	}
}

// classOfFlags derives the class from flags: Blocking, then Script, then Slow,
// then Write, then ReadOnly.
func classOfFlags(f flagSet) cmdClass {
	switch {
	case f&flagBlocking != 0:
		return classBlocking
	case f&flagScript != 0:
		return classScript
	case f&flagSlow != 0:
		return classSlow
	case f&flagWrite != 0:
		return classWrite
	case f&flagReadOnly != 0:
		return classRead
	default:
		return classUnknown
	}
}

// cmdInfo is what the table knows of one command instance: its name and
// what its arguments make of it.
type cmdInfo struct {
	// Name is the lower-case command name as go-redis sends it ("get"). For
	// a command with subcommands it is the command ("config", not
	// "config get").
	Name string
	// Flags are the command's flags for these arguments: SET NX is not
	// Idempotent while SET is; XREAD is Blocking only with BLOCK.
	Flags flagSet
	// cmdClass is the timeout class derived from Flags.
	Class cmdClass
	// BlockTimeout is, for a blocking command, the timeout written in its
	// arguments (BLPOP's seconds, XREAD's BLOCK milliseconds, WAIT's
	// milliseconds). Note that go-redis writes BLPOP-style timeouts in whole
	// seconds, rounded down and at least 1: BLPop(ctx, 1500*time.Millisecond)
	// blocks for 1s and reports 1s. It is 0 when BlockForever is set, and
	// also 0 when the argument cannot be read or is negative (the server
	// rejects those) or the table does not know where it is (a blocking
	// command added with NewCommandTable).
	BlockTimeout time.Duration
	// BlockForever is set for a blocking command whose timeout is 0: it may
	// wait forever.
	BlockForever bool
}

// Is reports whether all bits of f are set.
func (i cmdInfo) Is(f flagSet) bool { return i.Flags&f == f }

// IsBlocking reports whether the command may block on the server.
func (i cmdInfo) IsBlocking() bool { return i.Flags&flagBlocking != 0 }

// IsIdempotent reports whether the command may be sent again after it may
// have run.
func (i cmdInfo) IsIdempotent() bool { return i.Flags&flagIdempotent != 0 }

// CommandTable classifies commands by name and arguments. It is immutable
// after construction and safe for concurrent use. A nil *CommandTable
// behaves as the built-in table.
type CommandTable struct {
	cmds map[string]*cmdEntry
	// scripts holds script bodies (EVAL) and function names (FCALL) marked
	// idempotent; shas holds lower-case SHA1 digests (EVALSHA).
	scripts map[string]struct{}
	shas    map[string]struct{}
}

// cmdEntry is one command (or subcommand) of the table.
type cmdEntry struct {
	name  string // the command name reported in cmdInfo.Name
	flags flagSet
	// refine adjusts flags by the arguments (SET NX, ZADD INCR, ...); nil
	// when the arguments do not matter.
	refine func(t *CommandTable, args []interface{}, f flagSet) flagSet
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

// info reports what cmd is, from its name and arguments. It does not
// allocate for a command the table knows whose name is a string or []byte
// of up to 64 bytes, whatever its case. An unknown command has no flags and
// ClassUnknown.
func (t *CommandTable) info(cmd redis.Cmder) cmdInfo {
	info, _ := t.classify(cmd)
	return info
}

// classify is info that also reports whether the table knows cmd.
func (t *CommandTable) classify(cmd redis.Cmder) (cmdInfo, bool) {
	t = t.orDefault()
	if cmd == nil {
		return cmdInfo{}, false
	}
	if f := classifyObserver.Load(); f != nil {
		(*f)(cmd)
	}
	args := cmd.Args()
	if len(args) == 0 {
		return cmdInfo{}, false
	}
	e := t.entry(args)
	if e == nil {
		return cmdInfo{Name: cmd.Name()}, false
	}
	f := e.flags
	if e.refine != nil {
		f = e.refine(t, args, f)
	}
	info := cmdInfo{Name: e.name}
	switch e.block.kind {
	case cmdBlockNone:
	case cmdBlockMsKeyword:
		if pos, _ := e.blockArg(args); pos > 0 {
			f |= flagBlocking
			info.BlockTimeout, info.BlockForever = parseBlockTimeout(args, pos, false)
		}
	default:
		if f&flagBlocking != 0 {
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
		t = defaultTable
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

// pipelineInfo summarizes the commands of a pipeline or a transaction.
type pipelineInfo struct {
	// Len is the number of commands.
	Len int
	// Unknown counts the commands the table does not know.
	Unknown int
	// Any holds the flags set on at least one command.
	Any flagSet
	// All holds the flags set on every command. For an empty pipeline it
	// has every flag: there is nothing to object.
	All flagSet
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
func (p pipelineInfo) IsIdempotent() bool { return p.All&flagIdempotent != 0 }

// IsBlocking reports whether any command may block on the server.
func (p pipelineInfo) IsBlocking() bool { return p.Any&flagBlocking != 0 }

// HasClass reports whether at least one command falls in class c.
func (p pipelineInfo) HasClass(c cmdClass) bool { return c < 16 && p.classes&(1<<c) != 0 }

// classifyPipeline classifies each command of cmds and summarizes them. It
// allocates no more than info does.
func (t *CommandTable) classifyPipeline(cmds []redis.Cmder) pipelineInfo {
	p := pipelineInfo{Len: len(cmds), All: ^flagSet(0)}
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
