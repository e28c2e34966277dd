package hooks

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/internal/redistest"
)

// docArg is one argument of a command as COMMAND DOCS describes it.
type docArg struct {
	name, typ, token   string
	optional, multiple bool
	args               []docArg // the arguments of a "block" or the choices of a "oneof"
}

// docCommand is one command or subcommand as COMMAND DOCS describes it.
type docCommand struct {
	args []docArg
	subs map[string]*docCommand // by subcommand name ("get" for "config|get")
}

// docFields reads a RESP2 map (a flat list of names and values).
func docFields(t *testing.T, v interface{}) map[string]interface{} {
	t.Helper()
	list, ok := v.([]interface{})
	if !ok || len(list)%2 != 0 {
		t.Fatalf("COMMAND DOCS: not a map: %#v", v)
	}
	m := make(map[string]interface{}, len(list)/2)
	for i := 0; i < len(list); i += 2 {
		k, _ := list[i].(string)
		m[k] = list[i+1]
	}
	return m
}

func docArgs(t *testing.T, v interface{}) []docArg {
	t.Helper()
	list, _ := v.([]interface{})
	out := make([]docArg, 0, len(list))
	for _, av := range list {
		f := docFields(t, av)
		a := docArg{args: docArgs(t, f["arguments"])}
		a.name, _ = f["name"].(string)
		a.typ, _ = f["type"].(string)
		a.token, _ = f["token"].(string)
		flags, _ := f["flags"].([]interface{})
		for _, fl := range flags {
			a.optional = a.optional || fl == "optional"
			a.multiple = a.multiple || fl == "multiple"
		}
		out = append(out, a)
	}
	return out
}

// docCommands reads COMMAND DOCS (RESP2) into a map by lower-case name.
func docCommands(t *testing.T, v interface{}) map[string]*docCommand {
	t.Helper()
	m := docFields(t, v)
	out := make(map[string]*docCommand, len(m))
	for name, dv := range m {
		f := docFields(t, dv)
		c := &docCommand{args: docArgs(t, f["arguments"])}
		if subs, ok := f["subcommands"]; ok {
			c.subs = map[string]*docCommand{}
			for full, sc := range docCommands(t, subs) {
				_, sub, ok := strings.Cut(full, "|")
				if !ok {
					t.Fatalf("COMMAND DOCS: subcommand %q of %q has no '|'", full, name)
				}
				c.subs[sub] = sc
			}
		}
		out[strings.ToLower(name)] = c
	}
	return out
}

// docWidth is how many words an argument takes, and whether that number is
// fixed (not optional, not repeated, every choice of a oneof as wide).
func docWidth(a docArg) (int, bool) {
	if a.optional || a.multiple {
		return 0, false
	}
	n := 0
	if a.token != "" {
		n = 1
	}
	switch a.typ {
	case "pure-token":
		return n, true
	case "block":
		for _, c := range a.args {
			w, ok := docWidth(c)
			if !ok {
				return 0, false
			}
			n += w
		}
		return n, true
	case "oneof":
		w0 := -1
		for _, c := range a.args {
			w, ok := docWidth(c)
			if !ok || w0 >= 0 && w != w0 {
				return 0, false
			}
			w0 = w
		}
		return n + w0, w0 >= 0
	default:
		return n + 1, true
	}
}

// docBlockSpec derives from a blocking command's arguments (COMMAND DOCS)
// where the table must look for its timeout. pos is the index in the
// command's args of the first argument (1 for a command, 2 for a
// subcommand). The timeout is the argument named "timeout" or introduced
// by the BLOCK token. COMMAND DOCS gives no unit, only a type; in the
// blocking commands of Redis 7 a "double" timeout is in seconds (BLPOP and
// kin) and an "integer" one in milliseconds (WAIT, WAITAOF, XREAD BLOCK).
func docBlockSpec(args []docArg, pos int) (cmdBlockSpec, error) {
	fixed, optStart := true, -1
	for i, a := range args {
		if fixed && optStart < 0 && a.optional {
			optStart = pos // where the options begin
		}
		if a.name != "timeout" && a.token != "BLOCK" {
			w, ok := docWidth(a)
			fixed = fixed && ok
			pos += w
			continue
		}
		sec := a.typ == "double"
		if !sec && a.typ != "integer" {
			return cmdBlockSpec{}, fmt.Errorf("timeout argument %q of type %q", a.name, a.typ)
		}
		switch {
		case a.optional && a.token == "BLOCK" && !sec && optStart > 0:
			streams := false
			for _, b := range args[i+1:] {
				streams = streams || b.token == "STREAMS"
			}
			return cmdBlockSpec{kind: cmdBlockMsKeyword, pos: int8(optStart), stopAtStreams: streams}, nil
		case a.optional || a.multiple || a.token != "":
			return cmdBlockSpec{}, fmt.Errorf("timeout argument %q in a form the table has no kind for", a.name)
		case fixed && sec:
			return cmdBlockSpec{kind: cmdBlockSecAt, pos: int8(pos)}, nil
		case fixed:
			return cmdBlockSpec{kind: cmdBlockMsAt, pos: int8(pos)}, nil
		case sec && i == len(args)-1:
			return cmdBlockSpec{kind: cmdBlockSecLast}, nil
		default:
			return cmdBlockSpec{}, fmt.Errorf("timeout argument %q after arguments of varying number, not last", a.name)
		}
	}
	return cmdBlockSpec{}, fmt.Errorf("no timeout argument")
}

// liveDocsDifferences lists where the table's timeout position departs
// from the one derived from COMMAND DOCS on purpose, by command name. It
// is empty: for every blocking command of the server the two agree. The
// other deliberate differences, on the Blocking flag, are those of
// TestCommandTableMatchesServer (liveBlockingExceptions, liveArgBlocking).
var liveDocsDifferences = map[string]string{}

// TestBlockTimeoutArgsMatchServer holds the table's blocking commands to
// what a real redis-server says of them. For every command or subcommand
// that COMMAND INFO flags "blocking" and every one the table marks Blocking
// or gives a timeout position, it derives from COMMAND DOCS where the
// timeout is (which argument, or the last, or after a BLOCK keyword) and
// in which unit, and compares that with the table's entry; it also checks
// the entry's Blocking flag against the server's "blocking" flag, except
// where TestCommandTableMatchesServer lists the difference as deliberate.
func TestBlockTimeoutArgsMatchServer(t *testing.T) {
	s := redistest.Start(t)
	rdb := s.Client(t, &redis.Options{Protocol: 2})
	info := liveServerCommands(t, rdb)
	reply, err := rdb.Do(context.Background(), "command", "docs").Result()
	if err != nil {
		t.Fatalf("COMMAND DOCS: %v", err)
	}
	docs := docCommands(t, reply)
	if len(docs) != len(info) {
		t.Fatalf("COMMAND DOCS lists %d commands, COMMAND INFO %d", len(docs), len(info))
	}

	tab := newCommandTable()
	names := map[string]bool{}
	for name, e := range tab.cmds {
		if e.flags&flagBlocking != 0 || e.block.kind != cmdBlockNone {
			names[name] = true
		}
		for sub, se := range e.subs {
			if se.flags&flagBlocking != 0 || se.block.kind != cmdBlockNone {
				names[name+"|"+sub] = true
			}
		}
	}
	for name, c := range info {
		if c.flags["blocking"] {
			names[name] = true
		}
		for sub, sc := range c.subs {
			if sc.flags["blocking"] {
				names[name+"|"+sub] = true
			}
		}
	}

	checked := 0
	for _, name := range sortedKeys(names) {
		t.Run(name, func(t *testing.T) {
			cmd, sub, isSub := strings.Cut(name, "|")
			e, dc, sc := tab.cmds[cmd], docs[cmd], info[cmd]
			pos := 1
			if isSub {
				pos = 2
				e = nil
				if p := tab.cmds[cmd]; p != nil {
					e = p.subs[sub]
				}
				dc, sc = nil, nil
				if docs[cmd] != nil && info[cmd] != nil {
					dc, sc = docs[cmd].subs[sub], info[cmd].subs[sub]
				}
			}
			if dc == nil || sc == nil {
				t.Skipf("%s: not a command of this server (newer Redis or a module); skipped", name)
			}
			if e == nil {
				t.Fatalf("%s: the server flags it blocking, the table does not know it", name)
			}
			checked++
			want, err := docBlockSpec(dc.args, pos)
			if err != nil {
				t.Fatalf("%s: COMMAND DOCS: %v", name, err)
			}
			if reason, ok := liveDocsDifferences[name]; ok {
				t.Logf("%s: listed difference (%s): table %+v, COMMAND DOCS %+v", name, reason, e.block, want)
			} else if e.block != want {
				t.Errorf("%s: table timeout %+v, COMMAND DOCS says %+v", name, e.block, want)
			}
			gotB, serverB := e.flags&flagBlocking != 0, sc.flags["blocking"]
			switch {
			case want.kind == cmdBlockMsKeyword:
				if gotB || !liveArgBlocking[name] {
					t.Errorf("%s: blocks only with BLOCK, so the table must decide by arguments (flags %v, listed in liveArgBlocking %v)", name, e.flags, liveArgBlocking[name])
				}
			case !gotB:
				t.Errorf("%s: COMMAND DOCS gives it a timeout and the server flags it blocking=%v, the table does not mark it Blocking", name, serverB)
			case !serverB && !liveBlockingExceptions[name]:
				t.Errorf("%s: Blocking in the table, not flagged blocking by the server, and not a listed exception", name)
			}
		})
	}
	if checked < 10 {
		t.Errorf("only %d blocking commands were compared", checked)
	}
	t.Logf("compared the timeouts of %d blocking commands with COMMAND DOCS", checked)
}

// TestDocBlockSpec checks the derivation TestBlockTimeoutArgsMatchServer
// relies on, on argument lists written as COMMAND DOCS writes them, so that
// a derivation that always agreed with the table would not go unnoticed.
func TestDocBlockSpec(t *testing.T) {
	key := docArg{name: "key", typ: "key"}
	keys := docArg{name: "key", typ: "key", multiple: true}
	sec := docArg{name: "timeout", typ: "double"}
	ms := docArg{name: "timeout", typ: "integer"}
	side := docArg{name: "wherefrom", typ: "oneof", args: []docArg{
		{name: "left", typ: "pure-token", token: "LEFT"}, {name: "right", typ: "pure-token", token: "RIGHT"}}}
	count := docArg{name: "count", typ: "integer", token: "COUNT", optional: true}
	block := docArg{name: "milliseconds", typ: "integer", token: "BLOCK", optional: true}
	streams := docArg{name: "streams", typ: "block", token: "STREAMS", args: []docArg{keys, {name: "id", typ: "string", multiple: true}}}
	group := docArg{name: "group_consumer", typ: "block", token: "GROUP", args: []docArg{{name: "group", typ: "string"}, {name: "consumer", typ: "string"}}}
	for _, c := range []struct {
		name string
		args []docArg
		want cmdBlockSpec
		bad  bool
	}{
		{name: "blpop", args: []docArg{keys, sec}, want: tblSecLast()},
		{name: "blmove", args: []docArg{key, key, side, side, sec}, want: tblSecAt(5)},
		{name: "blmpop", args: []docArg{sec, {name: "numkeys", typ: "integer"}, keys}, want: tblSecAt(1)},
		{name: "wait", args: []docArg{{name: "numreplicas", typ: "integer"}, ms}, want: tblMsAt(2)},
		{name: "xread", args: []docArg{count, block, streams}, want: tblMsBlockFrom(1)},
		{name: "xreadgroup", args: []docArg{group, count, block, {name: "noack", typ: "pure-token", token: "NOACK", optional: true}, streams}, want: tblMsBlockFrom(4)},
		{name: "block first, without streams", args: []docArg{block, count}, want: cmdBlockSpec{kind: cmdBlockMsKeyword, pos: 1}},
		{name: "ms timeout after keys", args: []docArg{keys, ms}, bad: true},
		{name: "timeout in the middle after keys", args: []docArg{keys, sec, key}, bad: true},
		{name: "optional timeout without BLOCK", args: []docArg{{name: "timeout", typ: "double", optional: true}}, bad: true},
		{name: "string timeout", args: []docArg{{name: "timeout", typ: "string"}}, bad: true},
		{name: "no timeout", args: []docArg{keys}, bad: true},
	} {
		got, err := docBlockSpec(c.args, 1)
		switch {
		case c.bad && err == nil:
			t.Errorf("%s: derived %+v, want an error", c.name, got)
		case !c.bad && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case !c.bad && got != c.want:
			t.Errorf("%s: derived %+v, want %+v", c.name, got, c.want)
		}
	}
}
