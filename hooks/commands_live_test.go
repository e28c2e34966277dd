package hooks

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/internal/redistest"
)

// liveServerCommand is one command or subcommand as COMMAND reports it.
type liveServerCommand struct {
	flags map[string]bool
	subs  map[string]*liveServerCommand // by subcommand name ("get" for "config|get")
}

// liveServerCommands reads COMMAND (RESP2) into a map by lower-case name.
func liveServerCommands(t *testing.T, rdb *redis.Client) map[string]*liveServerCommand {
	t.Helper()
	reply, err := rdb.Do(context.Background(), "command").Slice()
	if err != nil {
		t.Fatalf("COMMAND: %v", err)
	}
	parse := func(v interface{}) (string, *liveServerCommand, []interface{}) {
		doc, ok := v.([]interface{})
		if !ok || len(doc) < 3 {
			t.Fatalf("unexpected COMMAND entry %#v", v)
		}
		name, _ := doc[0].(string)
		flags, _ := doc[2].([]interface{})
		c := &liveServerCommand{flags: map[string]bool{}}
		for _, f := range flags {
			s, _ := f.(string)
			c.flags[s] = true
		}
		var subs []interface{}
		if len(doc) >= 10 {
			subs, _ = doc[9].([]interface{})
		}
		return strings.ToLower(name), c, subs
	}
	out := map[string]*liveServerCommand{}
	for _, v := range reply {
		name, c, subs := parse(v)
		for _, sv := range subs {
			full, sc, _ := parse(sv)
			_, sub, ok := strings.Cut(full, "|")
			if !ok {
				t.Fatalf("subcommand %q of %q has no '|'", full, name)
			}
			if c.subs == nil {
				c.subs = map[string]*liveServerCommand{}
			}
			c.subs[sub] = sc
		}
		out[name] = c
	}
	if len(out) < 200 {
		t.Fatalf("COMMAND listed only %d commands", len(out))
	}
	return out
}

// Documented differences between the table and the server's flags.
var (
	// The server flags EVAL, EVALSHA and FCALL neither readonly nor write
	// ("may_replicate" at run time); the table marks them Write, as a
	// script may write.
	liveWriteExceptions = map[string]bool{"eval": true, "evalsha": true, "fcall": true}
	// WAIT and WAITAOF block the caller until replicas acknowledge or the
	// timeout ends; Redis 7.0 does not flag them "blocking".
	liveBlockingExceptions = map[string]bool{"wait": true, "waitaof": true}
	// XREAD and XREADGROUP are flagged "blocking" by the server but block
	// only with a BLOCK argument: the table decides by arguments.
	liveArgBlocking = map[string]bool{"xread": true, "xreadgroup": true}
)

// TestCommandTableMatchesServer compares every entry of the table with the
// flags a real redis-server reports in COMMAND: ReadOnly <=> "readonly",
// Write <=> "write", Blocking <=> "blocking", for commands and for the
// subcommands of container commands (CONFIG, CLIENT, ...), whose own flags
// are not compared since the server gives them none. It also checks the
// other way: every command and subcommand of the server is in the table,
// and every one flagged "blocking" is Blocking in the table.
func TestCommandTableMatchesServer(t *testing.T) {
	s := redistest.Start(t)
	rdb := s.Client(t, &redis.Options{Protocol: 2})
	server := liveServerCommands(t, rdb)

	compare := func(t *testing.T, name string, e *cmdEntry, sc *liveServerCommand) {
		if got, want := e.flags&flagReadOnly != 0, sc.flags["readonly"]; got != want {
			t.Errorf("%s: table ReadOnly=%v, server readonly=%v (server flags %v)", name, got, want, sortedKeys(sc.flags))
		}
		gotW, wantW := e.flags&flagWrite != 0, sc.flags["write"]
		if liveWriteExceptions[name] {
			if !gotW || wantW {
				t.Errorf("%s: listed exception (table Write, server not write) no longer holds: table %v, server %v", name, gotW, wantW)
			}
		} else if gotW != wantW {
			t.Errorf("%s: table Write=%v, server write=%v (server flags %v)", name, gotW, wantW, sortedKeys(sc.flags))
		}
		gotB, wantB := e.flags&flagBlocking != 0, sc.flags["blocking"]
		switch {
		case liveArgBlocking[name]:
			if !wantB || gotB || e.block.kind != cmdBlockMsKeyword {
				t.Errorf("%s: expected argument-dependent blocking: table flags %v, block kind %v, server blocking %v", name, e.flags, e.block.kind, wantB)
			}
		case liveBlockingExceptions[name]:
			if !gotB {
				t.Errorf("%s: table must mark it Blocking", name)
			}
			if !wantB {
				t.Logf("%s: Blocking in the table, not flagged blocking by this server (listed exception)", name)
			}
		case gotB != wantB:
			t.Errorf("%s: table Blocking=%v, server blocking=%v (server flags %v)", name, gotB, wantB, sortedKeys(sc.flags))
		}
	}

	tab := newCommandTable()
	names := make([]string, 0, len(tab.cmds))
	for name := range tab.cmds {
		names = append(names, name)
	}
	sort.Strings(names)
	checked := 0
	for _, name := range names {
		e := tab.cmds[name]
		t.Run(name, func(t *testing.T) {
			sc := server[name]
			if sc == nil {
				t.Skipf("%s: not a command of this server (newer Redis or a module); skipped", name)
			}
			if e.subs == nil {
				if sc.subs != nil {
					t.Errorf("%s: the server has subcommands %v, the table none", name, sortedKeys(sc.subs))
				}
				compare(t, name, e, sc)
				checked++
				return
			}
			t.Logf("%s: container command, its subcommands are compared instead", name)
			if sc.subs == nil {
				t.Errorf("%s: the table has subcommands, the server none", name)
				return
			}
			for sub, se := range e.subs {
				ssc := sc.subs[sub]
				if ssc == nil {
					t.Logf("%s|%s: not a subcommand of this server; skipped", name, sub)
					continue
				}
				compare(t, name+"|"+sub, se, ssc)
				checked++
			}
		})
	}

	t.Run("server commands are in the table", func(t *testing.T) {
		for name, sc := range server {
			e := tab.cmds[name]
			if e == nil {
				t.Errorf("%s: server command missing from the table (flags %v)", name, sortedKeys(sc.flags))
				continue
			}
			if sc.flags["blocking"] && e.flags&flagBlocking == 0 && !liveArgBlocking[name] {
				t.Errorf("%s: the server flags it blocking, the table does not", name)
			}
			for sub, ssc := range sc.subs {
				se := e.subs[sub]
				if se == nil {
					t.Errorf("%s|%s: server subcommand missing from the table", name, sub)
					continue
				}
				if ssc.flags["blocking"] && se.flags&flagBlocking == 0 {
					t.Errorf("%s|%s: the server flags it blocking, the table does not", name, sub)
				}
			}
		}
	})
	if checked < 300 {
		t.Errorf("only %d commands and subcommands were compared", checked)
	}
	t.Logf("compared %d commands and subcommands with the server", checked)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// liveIdemCase is one command run twice on a real server: after the same
// setup, the state after one run and after two runs must be equal for an
// idempotent command, and the repetition must be observable (a different
// state or a different reply) for one that is not.
type liveIdemCase struct {
	name      string
	setup     [][]interface{}
	cmd       []interface{}
	idem      bool
	sameReply bool // for an idempotent case: the reply must repeat too
}

func liveCmd(args ...interface{}) []interface{} { return args }

const (
	liveFuture   = "4102444800" // 2100-01-01, in seconds
	liveFutureMs = "4102444800000"
	liveLuaLib   = "#!lua name=lib\nredis.register_function('f', function() return 1 end)"
)

var (
	liveSetupList    = [][]interface{}{liveCmd("rpush", "l", "a", "b", "a", "c")}
	liveSetupSets    = [][]interface{}{liveCmd("sadd", "s", "a", "b", "c"), liveCmd("sadd", "t", "b", "c", "d")}
	liveSetupZSet    = [][]interface{}{liveCmd("zadd", "z", 1, "a", 2, "b", 3, "c")}
	liveSetupZStores = [][]interface{}{liveCmd("zadd", "a", 1, "x"), liveCmd("zadd", "b", 2, "x", 3, "y")}
	liveSetupGeo     = [][]interface{}{liveCmd("geoadd", "g", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania")}
	liveSetupStream  = [][]interface{}{liveCmd("xadd", "s", "1-0", "f", "v"), liveCmd("xadd", "s", "2-0", "f", "v"), liveCmd("xadd", "s", "3-0", "f", "v")}
	liveSetupGroup   = append(append([][]interface{}{}, liveSetupStream...),
		liveCmd("xgroup", "create", "s", "g", "0"),
		liveCmd("xreadgroup", "group", "g", "c", "count", 1, "streams", "s", ">"))
)

var liveIdemCases = []liveIdemCase{
	// Idempotent: strings and keys.
	{name: "set", cmd: liveCmd("set", "k", "v"), idem: true, sameReply: true},
	{name: "set xx", setup: [][]interface{}{liveCmd("set", "k", "old")}, cmd: liveCmd("set", "k", "v", "xx"), idem: true, sameReply: true},
	{name: "set exat", cmd: liveCmd("set", "k", "v", "exat", liveFuture), idem: true, sameReply: true},
	{name: "set keepttl", setup: [][]interface{}{liveCmd("set", "k", "old", "exat", liveFuture)}, cmd: liveCmd("set", "k", "v", "keepttl"), idem: true, sameReply: true},
	{name: "mset", cmd: liveCmd("mset", "a", "1", "b", "2"), idem: true, sameReply: true},
	{name: "setrange", setup: [][]interface{}{liveCmd("set", "k", "hello")}, cmd: liveCmd("setrange", "k", 1, "EL"), idem: true, sameReply: true},
	{name: "del", setup: [][]interface{}{liveCmd("set", "a", 1), liveCmd("set", "b", 2)}, cmd: liveCmd("del", "a", "b"), idem: true},
	{name: "unlink", setup: [][]interface{}{liveCmd("set", "a", 1)}, cmd: liveCmd("unlink", "a", "b"), idem: true},
	{name: "expireat", setup: [][]interface{}{liveCmd("set", "k", "v")}, cmd: liveCmd("expireat", "k", liveFuture), idem: true, sameReply: true},
	{name: "expireat xx", setup: [][]interface{}{liveCmd("set", "k", "v", "exat", "4102444000")}, cmd: liveCmd("expireat", "k", liveFuture, "xx"), idem: true, sameReply: true},
	{name: "pexpireat", setup: [][]interface{}{liveCmd("set", "k", "v")}, cmd: liveCmd("pexpireat", "k", liveFutureMs), idem: true, sameReply: true},
	{name: "persist", setup: [][]interface{}{liveCmd("set", "k", "v", "exat", liveFuture)}, cmd: liveCmd("persist", "k"), idem: true},
	{name: "copy replace", setup: [][]interface{}{liveCmd("set", "a", "v")}, cmd: liveCmd("copy", "a", "b", "replace"), idem: true, sameReply: true},
	{name: "sort store", setup: [][]interface{}{liveCmd("rpush", "l", 3, 1, 2)}, cmd: liveCmd("sort", "l", "store", "d"), idem: true, sameReply: true},
	{name: "bitop and", setup: [][]interface{}{liveCmd("set", "a", "ab"), liveCmd("set", "b", "cd")}, cmd: liveCmd("bitop", "and", "d", "a", "b"), idem: true, sameReply: true},
	{name: "pfadd", cmd: liveCmd("pfadd", "h", "a", "b", "c"), idem: true},
	{name: "pfmerge onto a source", setup: [][]interface{}{liveCmd("pfadd", "a", "x"), liveCmd("pfadd", "b", "y")}, cmd: liveCmd("pfmerge", "a", "a", "b"), idem: true, sameReply: true},
	// Hashes, sets, sorted sets.
	{name: "hset", cmd: liveCmd("hset", "h", "f", "v", "g", "w"), idem: true},
	{name: "hmset", cmd: liveCmd("hmset", "h", "f", "v"), idem: true, sameReply: true},
	{name: "hdel", setup: [][]interface{}{liveCmd("hset", "h", "f", "v", "g", "w")}, cmd: liveCmd("hdel", "h", "f"), idem: true},
	{name: "sadd", cmd: liveCmd("sadd", "s", "a", "b"), idem: true},
	{name: "srem", setup: liveSetupSets, cmd: liveCmd("srem", "s", "a"), idem: true},
	{name: "sinterstore onto a source", setup: liveSetupSets, cmd: liveCmd("sinterstore", "s", "s", "t"), idem: true, sameReply: true},
	{name: "sunionstore onto a source", setup: liveSetupSets, cmd: liveCmd("sunionstore", "s", "s", "t"), idem: true, sameReply: true},
	{name: "sdiffstore onto a source", setup: liveSetupSets, cmd: liveCmd("sdiffstore", "s", "s", "t"), idem: true, sameReply: true},
	{name: "zadd", cmd: liveCmd("zadd", "z", 1, "a", 2, "b"), idem: true},
	{name: "zadd gt ch", setup: liveSetupZSet, cmd: liveCmd("zadd", "z", "gt", "ch", 5, "a"), idem: true},
	{name: "zadd nx", setup: liveSetupZSet, cmd: liveCmd("zadd", "z", "nx", 9, "a", 9, "d"), idem: true},
	{name: "zrem", setup: liveSetupZSet, cmd: liveCmd("zrem", "z", "a"), idem: true},
	{name: "zremrangebyscore", setup: liveSetupZSet, cmd: liveCmd("zremrangebyscore", "z", 0, 1), idem: true},
	{name: "zremrangebylex", setup: [][]interface{}{liveCmd("zadd", "z", 0, "a", 0, "b", 0, "c")}, cmd: liveCmd("zremrangebylex", "z", "[a", "[b"), idem: true},
	{name: "zunionstore", setup: liveSetupZStores, cmd: liveCmd("zunionstore", "d", 2, "a", "b"), idem: true, sameReply: true},
	{name: "zinterstore", setup: liveSetupZStores, cmd: liveCmd("zinterstore", "d", 2, "a", "b"), idem: true, sameReply: true},
	{name: "zdiffstore onto a source", setup: liveSetupZStores, cmd: liveCmd("zdiffstore", "b", 2, "b", "a"), idem: true, sameReply: true},
	{name: "zrangestore", setup: liveSetupZSet, cmd: liveCmd("zrangestore", "d", "z", 0, 1), idem: true, sameReply: true},
	// Lists.
	{name: "lset", setup: liveSetupList, cmd: liveCmd("lset", "l", 1, "X"), idem: true, sameReply: true},
	{name: "ltrim 0 1", setup: liveSetupList, cmd: liveCmd("ltrim", "l", 0, 1), idem: true, sameReply: true},
	{name: "ltrim -2 -1", setup: liveSetupList, cmd: liveCmd("ltrim", "l", -2, -1), idem: true, sameReply: true},
	{name: "lrem 0", setup: liveSetupList, cmd: liveCmd("lrem", "l", 0, "a"), idem: true},
	// Geo.
	{name: "geoadd", cmd: liveCmd("geoadd", "g", "13.361389", "38.115556", "Palermo"), idem: true},
	{name: "georadius store", setup: liveSetupGeo, cmd: liveCmd("georadius", "g", 15, 37, 200, "km", "store", "d"), idem: true, sameReply: true},
	{name: "geosearchstore", setup: liveSetupGeo, cmd: liveCmd("geosearchstore", "d", "g", "fromlonlat", 15, 37, "byradius", 200, "km"), idem: true, sameReply: true},
	// Streams.
	{name: "xack", setup: liveSetupGroup, cmd: liveCmd("xack", "s", "g", "1-0"), idem: true},
	{name: "xdel", setup: liveSetupStream, cmd: liveCmd("xdel", "s", "1-0"), idem: true},
	{name: "xtrim maxlen exact", setup: liveSetupStream, cmd: liveCmd("xtrim", "s", "maxlen", 1), idem: true},
	{name: "xtrim minid exact", setup: liveSetupStream, cmd: liveCmd("xtrim", "s", "minid", "2-0"), idem: true},
	{name: "xsetid", setup: liveSetupStream, cmd: liveCmd("xsetid", "s", "9-0"), idem: true, sameReply: true},
	{name: "xgroup setid", setup: liveSetupGroup, cmd: liveCmd("xgroup", "setid", "s", "g", "0"), idem: true, sameReply: true},
	{name: "xgroup destroy", setup: liveSetupGroup, cmd: liveCmd("xgroup", "destroy", "s", "g"), idem: true},
	{name: "xgroup createconsumer", setup: liveSetupGroup, cmd: liveCmd("xgroup", "createconsumer", "s", "g", "c2"), idem: true},
	{name: "xgroup delconsumer", setup: liveSetupGroup, cmd: liveCmd("xgroup", "delconsumer", "s", "g", "c"), idem: true},
	// Scripts and functions.
	{name: "function load replace", cmd: liveCmd("function", "load", "replace", liveLuaLib), idem: true, sameReply: true},
	{name: "script load", cmd: liveCmd("script", "load", "return 1"), idem: true, sameReply: true},

	// Not idempotent: the state moves on.
	{name: "incr", cmd: liveCmd("incr", "k")},
	{name: "incrby", cmd: liveCmd("incrby", "k", 2)},
	{name: "incrbyfloat", cmd: liveCmd("incrbyfloat", "k", "1.5")},
	{name: "decr", cmd: liveCmd("decr", "k")},
	{name: "decrby", cmd: liveCmd("decrby", "k", 2)},
	{name: "append", cmd: liveCmd("append", "k", "x")},
	{name: "lpush", cmd: liveCmd("lpush", "l", "x")},
	{name: "rpush", cmd: liveCmd("rpush", "l", "x")},
	{name: "lpushx", setup: liveSetupList, cmd: liveCmd("lpushx", "l", "x")},
	{name: "rpushx", setup: liveSetupList, cmd: liveCmd("rpushx", "l", "x")},
	{name: "linsert", setup: liveSetupList, cmd: liveCmd("linsert", "l", "before", "b", "x")},
	{name: "lpop", setup: liveSetupList, cmd: liveCmd("lpop", "l")},
	{name: "rpop", setup: liveSetupList, cmd: liveCmd("rpop", "l")},
	{name: "lmpop", setup: liveSetupList, cmd: liveCmd("lmpop", 1, "l", "left")},
	{name: "lmove", setup: liveSetupList, cmd: liveCmd("lmove", "l", "m", "left", "right")},
	{name: "rpoplpush", setup: liveSetupList, cmd: liveCmd("rpoplpush", "l", "m")},
	{name: "blpop", setup: liveSetupList, cmd: liveCmd("blpop", "l", 1)},
	{name: "lrem 1", setup: liveSetupList, cmd: liveCmd("lrem", "l", 1, "a")},
	{name: "ltrim 1 -1", setup: liveSetupList, cmd: liveCmd("ltrim", "l", 1, -1)},
	{name: "ltrim 0 -2", setup: liveSetupList, cmd: liveCmd("ltrim", "l", 0, -2)},
	{name: "spop", setup: liveSetupSets, cmd: liveCmd("spop", "s")},
	{name: "zincrby", setup: liveSetupZSet, cmd: liveCmd("zincrby", "z", 1, "a")},
	{name: "zadd incr", setup: liveSetupZSet, cmd: liveCmd("zadd", "z", "incr", 1, "a")},
	{name: "zpopmin", setup: liveSetupZSet, cmd: liveCmd("zpopmin", "z")},
	{name: "zpopmax", setup: liveSetupZSet, cmd: liveCmd("zpopmax", "z")},
	{name: "zmpop", setup: liveSetupZSet, cmd: liveCmd("zmpop", 1, "z", "min")},
	{name: "bzpopmin", setup: liveSetupZSet, cmd: liveCmd("bzpopmin", "z", 1)},
	{name: "zremrangebyrank", setup: liveSetupZSet, cmd: liveCmd("zremrangebyrank", "z", 0, 0)},
	{name: "zunionstore onto a source", setup: liveSetupZStores, cmd: liveCmd("zunionstore", "a", 2, "a", "b")},
	{name: "zinterstore onto a source", setup: liveSetupZStores, cmd: liveCmd("zinterstore", "b", 2, "a", "b")},
	{name: "zrangestore onto itself", setup: liveSetupZSet, cmd: liveCmd("zrangestore", "z", "z", 1, -1)},
	{name: "bitop not onto itself", setup: [][]interface{}{liveCmd("set", "d", "ab")}, cmd: liveCmd("bitop", "not", "d", "d")},
	{name: "sort limit store onto itself", setup: [][]interface{}{liveCmd("rpush", "l", 3, 1, 2)}, cmd: liveCmd("sort", "l", "limit", 1, 10, "store", "l")},
	{name: "hincrby", cmd: liveCmd("hincrby", "h", "f", 1)},
	{name: "hincrbyfloat", cmd: liveCmd("hincrbyfloat", "h", "f", "0.5")},
	{name: "xadd *", cmd: liveCmd("xadd", "s", "*", "f", "v")},
	{name: "xreadgroup", setup: liveSetupGroup, cmd: liveCmd("xreadgroup", "group", "g", "c", "count", 1, "streams", "s", ">")},
	{name: "xclaim", setup: liveSetupGroup, cmd: liveCmd("xclaim", "s", "g", "c2", 0, "1-0")},
	{name: "xautoclaim", setup: liveSetupGroup, cmd: liveCmd("xautoclaim", "s", "g", "c2", 0, "0")},
	{name: "swapdb", setup: [][]interface{}{liveCmd("set", "k", "v")}, cmd: liveCmd("swapdb", 0, 1)},
	{name: "eval", cmd: liveCmd("eval", "return redis.call('incr', KEYS[1])", 1, "k")},

	// Not idempotent: the state is the same but the reply of the repeat
	// says something else (or is an error).
	{name: "set nx", cmd: liveCmd("set", "k", "v", "nx")},
	{name: "set get", setup: [][]interface{}{liveCmd("set", "k", "old")}, cmd: liveCmd("set", "k", "v", "get")},
	{name: "setnx", cmd: liveCmd("setnx", "k", "v")},
	{name: "msetnx", cmd: liveCmd("msetnx", "a", 1, "b", 2)},
	{name: "hsetnx", cmd: liveCmd("hsetnx", "h", "f", "v")},
	{name: "getset", setup: [][]interface{}{liveCmd("set", "k", "old")}, cmd: liveCmd("getset", "k", "v")},
	{name: "getdel", setup: [][]interface{}{liveCmd("set", "k", "v")}, cmd: liveCmd("getdel", "k")},
	{name: "setbit", cmd: liveCmd("setbit", "k", 7, 1)},
	{name: "smove", setup: liveSetupSets, cmd: liveCmd("smove", "s", "t", "a")},
	{name: "expireat nx", setup: [][]interface{}{liveCmd("set", "k", "v")}, cmd: liveCmd("expireat", "k", liveFuture, "nx")},
	{name: "expireat gt", setup: [][]interface{}{liveCmd("set", "k", "v", "exat", "4102444000")}, cmd: liveCmd("expireat", "k", liveFuture, "gt")},
	{name: "expireat lt", setup: [][]interface{}{liveCmd("set", "k", "v", "exat", "4102449999")}, cmd: liveCmd("expireat", "k", liveFuture, "lt")},
	{name: "copy", setup: [][]interface{}{liveCmd("set", "a", "v")}, cmd: liveCmd("copy", "a", "b")},
	{name: "rename", setup: [][]interface{}{liveCmd("set", "a", "v")}, cmd: liveCmd("rename", "a", "b")},
	{name: "renamenx", setup: [][]interface{}{liveCmd("set", "a", "v")}, cmd: liveCmd("renamenx", "a", "b")},
	{name: "move", setup: [][]interface{}{liveCmd("set", "a", "v")}, cmd: liveCmd("move", "a", 1)},
	{name: "xadd explicit id", cmd: liveCmd("xadd", "s", "5-0", "f", "v")},
	{name: "xgroup create", setup: liveSetupStream, cmd: liveCmd("xgroup", "create", "s", "g", "0")},
	{name: "function load", cmd: liveCmd("function", "load", liveLuaLib)},
	{name: "function delete", setup: [][]interface{}{liveCmd("function", "load", liveLuaLib)}, cmd: liveCmd("function", "delete", "lib")},
}

// TestIdempotencyOnServer runs each case on a real server to show that the
// table's Idempotent decisions hold: the data (DEBUG DIGEST, plus stream
// group state and the function libraries, which the digest leaves out) is
// the same after one run and after two for an idempotent command, and a
// second run is observable for the others.
func TestIdempotencyOnServer(t *testing.T) {
	s := redistest.Start(t, "--enable-debug-command", "yes")
	// One connection: state() uses SELECT.
	rdb := s.Client(t, &redis.Options{Protocol: 2, MaxRetries: -1, PoolSize: 1})
	ctx := context.Background()

	do := func(args []interface{}) string {
		v, err := rdb.Do(ctx, args...).Result()
		if err != nil && err != redis.Nil {
			return "error: " + err.Error()
		}
		return fmt.Sprint(v)
	}
	must := func(t *testing.T, args []interface{}) {
		t.Helper()
		if err := rdb.Do(ctx, args...).Err(); err != nil && err != redis.Nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	state := func(t *testing.T) string {
		t.Helper()
		var b strings.Builder
		b.WriteString(do(liveCmd("debug", "digest")))
		b.WriteString(" functions=" + do(liveCmd("function", "list")))
		for db := 0; db < 2; db++ {
			must(t, liveCmd("select", db))
			ks, err := rdb.Do(ctx, "keys", "*").StringSlice()
			if err != nil {
				t.Fatal(err)
			}
			sort.Strings(ks)
			for _, k := range ks {
				if do(liveCmd("type", k)) != "stream" {
					continue
				}
				fmt.Fprintf(&b, " %d/%s groups=%s", db, k, do(liveCmd("xinfo", "groups", k)))
				groups, _ := rdb.Do(ctx, "xinfo", "groups", k).Slice()
				for _, g := range groups {
					fields, _ := g.([]interface{})
					if len(fields) < 2 {
						continue
					}
					// Pending entries without their idle time: id, consumer, deliveries.
					rows, _ := rdb.Do(ctx, "xpending", k, fields[1], "-", "+", 100).Slice()
					for _, r := range rows {
						if e, ok := r.([]interface{}); ok && len(e) == 4 {
							fmt.Fprintf(&b, " pel=%v/%v/%v", e[0], e[1], e[3])
						}
					}
				}
			}
		}
		must(t, liveCmd("select", 0))
		return b.String()
	}

	for _, c := range liveIdemCases {
		t.Run(c.name, func(t *testing.T) {
			got := defaultTable.info(redis.NewCmd(ctx, c.cmd...)).IsIdempotent()
			if got != c.idem {
				t.Fatalf("table: %v idempotent=%v, the case expects %v", c.cmd, got, c.idem)
			}
			must(t, liveCmd("flushall"))
			must(t, liveCmd("function", "flush"))
			for _, st := range c.setup {
				must(t, st)
			}
			r1 := do(c.cmd)
			if strings.HasPrefix(r1, "error: ") {
				t.Fatalf("first run of %v failed: %s", c.cmd, r1)
			}
			s1 := state(t)
			r2 := do(c.cmd)
			s2 := state(t)
			if c.idem {
				if s1 != s2 {
					t.Errorf("%v is in the table as idempotent, but a second run changed the data:\n one: %s\n two: %s", c.cmd, s1, s2)
				}
				if c.sameReply && r1 != r2 {
					t.Errorf("%v: reply changed on repetition: %q then %q", c.cmd, r1, r2)
				}
				return
			}
			if s1 == s2 && r1 == r2 {
				t.Errorf("%v is in the table as not idempotent, but a second run was not observable (reply %q, data %s)", c.cmd, r1, s1)
			}
		})
	}
}
