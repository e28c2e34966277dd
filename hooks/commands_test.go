package hooks

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// offlinePipe returns a pipeline of a client that points nowhere: its
// methods build real go-redis commands (with go-redis's own argument
// types) without any I/O, since the pipeline is never executed.
func offlinePipe(t testing.TB) redis.Pipeliner {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb.Pipeline()
}

type classifyCase struct {
	name    string
	cmd     redis.Cmder
	flags   flagSet
	class   cmdClass
	timeout time.Duration
	forever bool
}

func runClassifyCases(t *testing.T, tab *CommandTable, cases []classifyCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := tab.info(c.cmd)
			if got.Flags != c.flags {
				t.Errorf("%v: flags = %v, want %v", c.cmd.Args(), got.Flags, c.flags)
			}
			if got.Class != c.class {
				t.Errorf("%v: class = %v, want %v", c.cmd.Args(), got.Class, c.class)
			}
			if got.BlockTimeout != c.timeout || got.BlockForever != c.forever {
				t.Errorf("%v: block = (%v, forever %v), want (%v, forever %v)",
					c.cmd.Args(), got.BlockTimeout, got.BlockForever, c.timeout, c.forever)
			}
			name := c.cmd.Args()[0]
			if b, ok := name.([]byte); ok {
				name = string(b)
			}
			if want := strings.ToLower(fmt.Sprint(name)); got.Name != want {
				t.Errorf("name = %q, want %q", got.Name, want)
			}
		})
	}
}

// TestBuiltinEntries checks every entry of the built-in table, one subtest
// per command and subcommand, for consistency: names are lower case and
// unique, ReadOnly and Write exclude each other, reads are idempotent,
// Blocking entries know where their timeout is, and Classify finds the
// entry by its name in any case with the entry's own flags.
func TestBuiltinEntries(t *testing.T) {
	ctx := context.Background()
	seen := map[string]bool{}
	check := func(t *testing.T, b cmdBuiltin, args ...interface{}) {
		if b.name != strings.ToLower(b.name) || b.name == "" || strings.ContainsAny(b.name, " |") {
			t.Fatalf("bad name %q", b.name)
		}
		if b.flags&flagReadOnly != 0 && b.flags&flagWrite != 0 {
			t.Errorf("flags %v: ReadOnly and Write", b.flags)
		}
		if b.flags&flagReadOnly != 0 && b.flags&flagIdempotent == 0 {
			t.Errorf("flags %v: a read must be idempotent", b.flags)
		}
		if b.flags&flagBlocking != 0 && b.block.kind == cmdBlockNone {
			t.Errorf("flags %v: Blocking without a timeout position", b.flags)
		}
		if b.flags&flagBlocking == 0 && b.block.kind != cmdBlockNone && b.block.kind != cmdBlockMsKeyword {
			t.Errorf("timeout position without Blocking")
		}
		if b.flags&flagScript != 0 && !strings.HasPrefix(b.name, "eval") && !strings.HasPrefix(b.name, "fcall") {
			t.Errorf("Script on a non-script command")
		}
		for _, upper := range []bool{false, true} {
			a := append([]interface{}(nil), args...)
			if upper {
				for i, v := range a {
					a[i] = strings.ToUpper(v.(string))
				}
			}
			info := defaultTable.info(redis.NewCmd(ctx, a...))
			if info.Name != args[0] {
				t.Errorf("%v: name %q, want %q", a, info.Name, args[0])
			}
			if b.refine == nil && b.block.kind == cmdBlockNone && info.Flags != b.flags {
				t.Errorf("%v: flags %v, want %v", a, info.Flags, b.flags)
			}
			if info.Class != classOfFlags(info.Flags) {
				t.Errorf("%v: class %v does not follow flags %v", a, info.Class, info.Flags)
			}
		}
	}
	for _, b := range builtinCommands {
		t.Run(b.name, func(t *testing.T) {
			if seen[b.name] {
				t.Fatalf("duplicate entry")
			}
			seen[b.name] = true
			check(t, b, b.name)
		})
		subSeen := map[string]bool{}
		for _, s := range b.subs {
			t.Run(b.name+"|"+s.name, func(t *testing.T) {
				if subSeen[s.name] {
					t.Fatalf("duplicate subcommand")
				}
				subSeen[s.name] = true
				if len(s.subs) != 0 {
					t.Fatalf("nested subcommands are not supported")
				}
				check(t, s, b.name, s.name)
			})
		}
	}
}

// TestCommandFlags states, command by command, the flags the retry rules of
// the design depend on, built with go-redis's own constructors.
func TestCommandFlags(t *testing.T) {
	ctx := context.Background()
	p := offlinePipe(t)
	future := time.Unix(4102444800, 0) // 2100-01-01
	R, W, WI, I := flagReadOnly|flagIdempotent, flagWrite, flagWrite|flagIdempotent, flagIdempotent
	runClassifyCases(t, defaultTable, []classifyCase{
		// Reads.
		{name: "get", cmd: p.Get(ctx, "k"), flags: R, class: classRead},
		{name: "mget", cmd: p.MGet(ctx, "a", "b"), flags: R, class: classRead},
		{name: "hgetall", cmd: p.HGetAll(ctx, "h"), flags: R, class: classRead},
		{name: "zrange", cmd: p.ZRange(ctx, "z", 0, -1), flags: R, class: classRead},
		{name: "xrange", cmd: p.XRange(ctx, "s", "-", "+"), flags: R, class: classRead},
		{name: "pfcount", cmd: p.PFCount(ctx, "h"), flags: R, class: classRead},
		{name: "scan", cmd: p.Scan(ctx, 0, "*", 10), flags: R, class: classRead},
		{name: "keys is slow", cmd: p.Keys(ctx, "*"), flags: R | flagSlow, class: classSlow},
		{name: "object encoding", cmd: p.ObjectEncoding(ctx, "k"), flags: R, class: classRead},
		{name: "xinfo stream", cmd: p.XInfoStream(ctx, "s"), flags: R, class: classRead},

		// Writes whose repetition changes nothing.
		{name: "set", cmd: p.Set(ctx, "k", "v", 0), flags: WI, class: classWrite},
		{name: "set ex", cmd: p.Set(ctx, "k", "v", 10*time.Second), flags: WI, class: classWrite},
		{name: "set px", cmd: p.Set(ctx, "k", "v", 1500*time.Millisecond), flags: WI, class: classWrite},
		{name: "set keepttl", cmd: p.Set(ctx, "k", "v", redis.KeepTTL), flags: WI, class: classWrite},
		{name: "set exat", cmd: p.SetArgs(ctx, "k", "v", redis.SetArgs{ExpireAt: future}), flags: WI, class: classWrite},
		{name: "setex", cmd: p.SetEx(ctx, "k", "v", time.Minute), flags: WI, class: classWrite},
		{name: "mset", cmd: p.MSet(ctx, "a", 1, "b", 2), flags: WI, class: classWrite},
		{name: "setrange", cmd: p.SetRange(ctx, "k", 2, "xy"), flags: WI, class: classWrite},
		{name: "del", cmd: p.Del(ctx, "a", "b"), flags: WI, class: classWrite},
		{name: "unlink", cmd: p.Unlink(ctx, "a"), flags: WI, class: classWrite},
		{name: "hset", cmd: p.HSet(ctx, "h", "f", "v"), flags: WI, class: classWrite},
		{name: "hmset", cmd: p.HMSet(ctx, "h", "f", "v"), flags: WI, class: classWrite},
		{name: "hdel", cmd: p.HDel(ctx, "h", "f"), flags: WI, class: classWrite},
		{name: "sadd", cmd: p.SAdd(ctx, "s", "a"), flags: WI, class: classWrite},
		{name: "srem", cmd: p.SRem(ctx, "s", "a"), flags: WI, class: classWrite},
		{name: "zadd", cmd: p.ZAdd(ctx, "z", redis.Z{Score: 1, Member: "a"}), flags: WI, class: classWrite},
		{name: "zadd nx ch", cmd: p.ZAddArgs(ctx, "z", redis.ZAddArgs{NX: true, Ch: true, Members: []redis.Z{{Score: 1, Member: "incr"}}}), flags: WI, class: classWrite},
		{name: "zrem", cmd: p.ZRem(ctx, "z", "a"), flags: WI, class: classWrite},
		{name: "persist", cmd: p.Persist(ctx, "k"), flags: WI, class: classWrite},
		{name: "expireat", cmd: p.ExpireAt(ctx, "k", future), flags: WI, class: classWrite},
		{name: "pexpireat", cmd: p.PExpireAt(ctx, "k", future), flags: WI, class: classWrite},
		{name: "pfadd", cmd: p.PFAdd(ctx, "h", "a"), flags: WI, class: classWrite},
		{name: "pfmerge", cmd: p.PFMerge(ctx, "d", "a", "b"), flags: WI, class: classWrite},
		{name: "xack", cmd: p.XAck(ctx, "s", "g", "1-0"), flags: WI, class: classWrite},
		{name: "xdel", cmd: p.XDel(ctx, "s", "1-0"), flags: WI, class: classWrite},
		{name: "lset", cmd: p.LSet(ctx, "l", 0, "v"), flags: WI, class: classWrite},
		{name: "geoadd", cmd: p.GeoAdd(ctx, "g", &redis.GeoLocation{Name: "m", Longitude: 1, Latitude: 2}), flags: WI, class: classWrite},
		{name: "sinterstore onto a source", cmd: p.SInterStore(ctx, "s", "s", "t"), flags: WI, class: classWrite},
		{name: "flushdb is slow", cmd: p.FlushDB(ctx), flags: WI | flagSlow, class: classSlow},
		{name: "flushall is slow", cmd: p.FlushAll(ctx), flags: WI | flagSlow, class: classSlow},

		// Writes that must not be repeated.
		{name: "incr", cmd: p.Incr(ctx, "k"), flags: W, class: classWrite},
		{name: "incrby", cmd: p.IncrBy(ctx, "k", 2), flags: W, class: classWrite},
		{name: "incrbyfloat", cmd: p.IncrByFloat(ctx, "k", 2), flags: W, class: classWrite},
		{name: "decr", cmd: p.Decr(ctx, "k"), flags: W, class: classWrite},
		{name: "decrby", cmd: p.DecrBy(ctx, "k", 2), flags: W, class: classWrite},
		{name: "append", cmd: p.Append(ctx, "k", "x"), flags: W, class: classWrite},
		{name: "setnx", cmd: p.SetNX(ctx, "k", "v", 0), flags: W, class: classWrite},
		{name: "set nx ex", cmd: p.SetNX(ctx, "k", "v", time.Second), flags: W, class: classWrite},
		{name: "set get", cmd: p.SetArgs(ctx, "k", "v", redis.SetArgs{Get: true}), flags: W, class: classWrite},
		{name: "set ifeq", cmd: p.SetArgs(ctx, "k", "v", redis.SetArgs{Mode: "IFEQ", MatchValue: "old"}), flags: W, class: classWrite},
		{name: "getset", cmd: p.GetSet(ctx, "k", "v"), flags: W, class: classWrite},
		{name: "getex", cmd: p.GetEx(ctx, "k", time.Second), flags: W, class: classWrite},
		{name: "getdel", cmd: p.GetDel(ctx, "k"), flags: W, class: classWrite},
		{name: "msetnx", cmd: p.MSetNX(ctx, "a", 1), flags: W, class: classWrite},
		{name: "setbit", cmd: p.SetBit(ctx, "k", 7, 1), flags: W, class: classWrite},
		{name: "expire", cmd: p.Expire(ctx, "k", time.Minute), flags: W, class: classWrite},
		{name: "pexpire", cmd: p.PExpire(ctx, "k", time.Minute), flags: W, class: classWrite},
		{name: "lpush", cmd: p.LPush(ctx, "l", "v"), flags: W, class: classWrite},
		{name: "rpush", cmd: p.RPush(ctx, "l", "v"), flags: W, class: classWrite},
		{name: "lpushx", cmd: p.LPushX(ctx, "l", "v"), flags: W, class: classWrite},
		{name: "rpushx", cmd: p.RPushX(ctx, "l", "v"), flags: W, class: classWrite},
		{name: "linsert", cmd: p.LInsert(ctx, "l", "before", "a", "b"), flags: W, class: classWrite},
		{name: "lpop", cmd: p.LPop(ctx, "l"), flags: W, class: classWrite},
		{name: "rpop", cmd: p.RPop(ctx, "l"), flags: W, class: classWrite},
		{name: "lmove", cmd: p.LMove(ctx, "a", "b", "left", "right"), flags: W, class: classWrite},
		{name: "rpoplpush", cmd: p.RPopLPush(ctx, "a", "b"), flags: W, class: classWrite},
		{name: "lmpop", cmd: p.LMPop(ctx, "left", 1, "l"), flags: W, class: classWrite},
		{name: "spop", cmd: p.SPop(ctx, "s"), flags: W, class: classWrite},
		{name: "smove", cmd: p.SMove(ctx, "s", "t", "a"), flags: W, class: classWrite},
		{name: "zpopmin", cmd: p.ZPopMin(ctx, "z"), flags: W, class: classWrite},
		{name: "zpopmax", cmd: p.ZPopMax(ctx, "z"), flags: W, class: classWrite},
		{name: "zincrby", cmd: p.ZIncrBy(ctx, "z", 1, "a"), flags: W, class: classWrite},
		{name: "zadd incr", cmd: p.ZAddArgsIncr(ctx, "z", redis.ZAddArgs{Members: []redis.Z{{Score: 1, Member: "a"}}}), flags: W, class: classWrite},
		{name: "zremrangebyrank", cmd: p.ZRemRangeByRank(ctx, "z", 0, 0), flags: W, class: classWrite},
		{name: "hincrby", cmd: p.HIncrBy(ctx, "h", "f", 1), flags: W, class: classWrite},
		{name: "hincrbyfloat", cmd: p.HIncrByFloat(ctx, "h", "f", 1), flags: W, class: classWrite},
		{name: "hsetnx", cmd: p.HSetNX(ctx, "h", "f", "v"), flags: W, class: classWrite},
		{name: "rename", cmd: p.Rename(ctx, "a", "b"), flags: W, class: classWrite},
		{name: "xadd auto id", cmd: p.XAdd(ctx, &redis.XAddArgs{Stream: "s", Values: []string{"f", "v"}}), flags: W, class: classWrite},
		{name: "xadd explicit id", cmd: p.XAdd(ctx, &redis.XAddArgs{Stream: "s", ID: "5-0", Values: []string{"f", "v"}}), flags: W, class: classWrite},
		{name: "xclaim", cmd: p.XClaim(ctx, &redis.XClaimArgs{Stream: "s", Group: "g", Consumer: "c", Messages: []string{"1-0"}}), flags: W, class: classWrite},
		{name: "xreadgroup without block", cmd: p.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "c", Streams: []string{"s", ">"}, Block: -1}), flags: W, class: classWrite},
		{name: "xgroup create", cmd: p.XGroupCreate(ctx, "s", "g", "0"), flags: W, class: classWrite},
		{name: "xgroup destroy", cmd: p.XGroupDestroy(ctx, "s", "g"), flags: WI, class: classWrite},
		{name: "publish", cmd: p.Publish(ctx, "ch", "m"), flags: 0, class: classUnknown},
		{name: "spublish", cmd: p.SPublish(ctx, "ch", "m"), flags: 0, class: classUnknown},
		{name: "swapdb", cmd: p.SwapDB(ctx, 0, 1), flags: W, class: classWrite},

		// Scripts.
		{name: "eval", cmd: p.Eval(ctx, "return 1", nil), flags: flagWrite | flagScript, class: classScript},
		{name: "evalsha", cmd: p.EvalSha(ctx, strings.Repeat("ab", 20), nil), flags: flagWrite | flagScript, class: classScript},
		{name: "fcall", cmd: p.FCall(ctx, "f", nil), flags: flagWrite | flagScript, class: classScript},
		{name: "eval_ro", cmd: p.EvalRO(ctx, "return 1", nil), flags: R | flagScript, class: classScript},
		{name: "evalsha_ro", cmd: p.EvalShaRO(ctx, strings.Repeat("ab", 20), nil), flags: R | flagScript, class: classScript},
		{name: "fcall_ro", cmd: p.FCallRO(ctx, "f", nil), flags: R | flagScript, class: classScript},

		// Slow and administrative.
		{name: "config get", cmd: p.ConfigGet(ctx, "maxclients"), flags: flagSlow | I, class: classSlow},
		{name: "config set", cmd: p.ConfigSet(ctx, "maxclients", "10"), flags: flagSlow | I, class: classSlow},
		{name: "script load", cmd: p.ScriptLoad(ctx, "return 1"), flags: flagSlow | I, class: classSlow},
		{name: "script kill", cmd: p.ScriptKill(ctx), flags: flagSlow, class: classSlow},
		{name: "function load", cmd: p.FunctionLoad(ctx, "#!lua name=l"), flags: flagWrite | flagSlow, class: classSlow},
		{name: "function load replace", cmd: p.FunctionLoadReplace(ctx, "#!lua name=l"), flags: flagWrite | flagSlow | I, class: classSlow},
		{name: "function delete", cmd: p.FunctionDelete(ctx, "l"), flags: flagWrite | flagSlow, class: classSlow},
		{name: "save", cmd: p.Save(ctx), flags: flagSlow | I, class: classSlow},
		{name: "bgsave", cmd: p.BgSave(ctx), flags: flagSlow, class: classSlow},
		{name: "debug", cmd: redis.NewCmd(ctx, "debug", "sleep", 0), flags: flagSlow, class: classSlow},
		{name: "migrate", cmd: p.Migrate(ctx, "h", "1", "k", 0, time.Second), flags: flagWrite | flagSlow, class: classSlow},
		{name: "client list", cmd: p.ClientList(ctx), flags: flagSlow | I, class: classSlow},
		{name: "cluster info", cmd: p.ClusterInfo(ctx), flags: I, class: classUnknown},

		// Connection and transactions: idempotent, no class of their own.
		{name: "ping", cmd: p.Ping(ctx), flags: I, class: classUnknown},
		{name: "echo", cmd: p.Echo(ctx, "x"), flags: I, class: classUnknown},
		{name: "multi", cmd: redis.NewStatusCmd(ctx, "multi"), flags: I, class: classUnknown},
		{name: "exec", cmd: redis.NewSliceCmd(ctx, "exec"), flags: I, class: classUnknown},
		{name: "discard", cmd: redis.NewStatusCmd(ctx, "discard"), flags: I, class: classUnknown},
		{name: "watch", cmd: redis.NewStatusCmd(ctx, "watch", "k"), flags: I, class: classUnknown},
		{name: "unwatch", cmd: redis.NewStatusCmd(ctx, "unwatch"), flags: I, class: classUnknown},

		// Names go-redis itself sends in upper or mixed case.
		{name: "HEXPIRE (upper case from go-redis)", cmd: p.HExpire(ctx, "h", time.Minute, "f"), flags: W, class: classWrite},
		{name: "HEXPIREAT (upper case from go-redis)", cmd: p.HExpireAt(ctx, "h", future, "f"), flags: WI, class: classWrite},
		{name: "HGETDEL", cmd: p.HGetDel(ctx, "h", "f"), flags: W, class: classWrite},
	})
}

// TestArgumentDependentFlags covers every rule that reads arguments, both
// ways, with go-redis constructors and with raw commands in other cases
// and argument types.
func TestArgumentDependentFlags(t *testing.T) {
	ctx := context.Background()
	p := offlinePipe(t)
	future := time.Unix(4102444800, 0)
	W, WI := flagWrite, flagWrite|flagIdempotent
	runClassifyCases(t, defaultTable, []classifyCase{
		// SET.
		{name: "set xx (repeat answers OK again)", cmd: p.SetXX(ctx, "k", "v", 0), flags: WI, class: classWrite},
		{name: "set NX upper", cmd: redis.NewStatusCmd(ctx, "SET", "k", "v", "NX"), flags: W, class: classWrite},
		{name: "set nx as bytes", cmd: redis.NewStatusCmd(ctx, "set", "k", "v", []byte("Nx")), flags: W, class: classWrite},
		{name: "set value named nx", cmd: redis.NewStatusCmd(ctx, "set", "k", "nx"), flags: WI, class: classWrite},
		{name: "set key named get", cmd: redis.NewStatusCmd(ctx, "set", "get", "v", "ex", 10), flags: WI, class: classWrite},
		{name: "set ifne", cmd: redis.NewStatusCmd(ctx, "set", "k", "v", "ifne", "x"), flags: W, class: classWrite},
		// EXPIREAT options.
		{name: "expireat nx", cmd: redis.NewBoolCmd(ctx, "expireat", "k", future.Unix(), "nx"), flags: W, class: classWrite},
		{name: "expireat gt", cmd: redis.NewBoolCmd(ctx, "expireat", "k", future.Unix(), "GT"), flags: W, class: classWrite},
		{name: "expireat lt", cmd: redis.NewBoolCmd(ctx, "expireat", "k", future.Unix(), "lt"), flags: W, class: classWrite},
		{name: "expireat xx", cmd: redis.NewBoolCmd(ctx, "expireat", "k", future.Unix(), "xx"), flags: WI, class: classWrite},
		{name: "hexpireat nx", cmd: p.HExpireAtWithArgs(ctx, "h", future, redis.HExpireArgs{NX: true}, "f"), flags: W, class: classWrite},
		// ZADD.
		{name: "zadd INCR raw", cmd: redis.NewFloatCmd(ctx, "ZADD", "z", "XX", "INCR", "1", "m"), flags: W, class: classWrite},
		{name: "zadd member named incr", cmd: redis.NewIntCmd(ctx, "zadd", "z", "gt", 1.0, "incr"), flags: WI, class: classWrite},
		// XADD.
		{name: "xadd idmp", cmd: p.XAdd(ctx, &redis.XAddArgs{Stream: "s", ProducerID: "p", IdempotentID: "i", Values: []string{"f", "v"}}), flags: WI, class: classWrite},
		{name: "xadd idmpauto with trim", cmd: p.XAdd(ctx, &redis.XAddArgs{Stream: "s", ProducerID: "p", IdempotentAuto: true, MaxLen: 10, Approx: true, Values: []string{"f", "v"}}), flags: WI, class: classWrite},
		{name: "xadd trim then field named idmp", cmd: p.XAdd(ctx, &redis.XAddArgs{Stream: "s", NoMkStream: true, MaxLen: 10, Values: []string{"idmp", "p", "x"}}), flags: W, class: classWrite},
		// XTRIM.
		{name: "xtrim maxlen exact", cmd: p.XTrimMaxLen(ctx, "s", 10), flags: WI, class: classWrite},
		{name: "xtrim minid exact", cmd: p.XTrimMinID(ctx, "s", "5-0"), flags: WI, class: classWrite},
		{name: "xtrim maxlen approx", cmd: p.XTrimMaxLenApprox(ctx, "s", 10, 0), flags: W, class: classWrite},
		// LREM, LTRIM.
		{name: "lrem 0", cmd: p.LRem(ctx, "l", 0, "a"), flags: WI, class: classWrite},
		{name: "lrem 1", cmd: p.LRem(ctx, "l", 1, "a"), flags: W, class: classWrite},
		{name: "lrem -2", cmd: p.LRem(ctx, "l", -2, "a"), flags: W, class: classWrite},
		{name: "lrem string 0", cmd: redis.NewIntCmd(ctx, "LREM", "l", "0", "a"), flags: WI, class: classWrite},
		{name: "ltrim keep first 100", cmd: p.LTrim(ctx, "l", 0, 99), flags: WI, class: classWrite},
		{name: "ltrim keep all", cmd: p.LTrim(ctx, "l", 0, -1), flags: WI, class: classWrite},
		{name: "ltrim keep last 100", cmd: p.LTrim(ctx, "l", -100, -1), flags: WI, class: classWrite},
		{name: "ltrim drop head", cmd: p.LTrim(ctx, "l", 1, -1), flags: W, class: classWrite},
		{name: "ltrim drop tail", cmd: p.LTrim(ctx, "l", 0, -2), flags: W, class: classWrite},
		{name: "ltrim middle", cmd: p.LTrim(ctx, "l", 2, 5), flags: W, class: classWrite},
		// COPY, RESTORE.
		{name: "copy", cmd: p.Copy(ctx, "a", "b", 0, false), flags: W, class: classWrite},
		{name: "copy replace", cmd: p.Copy(ctx, "a", "b", 0, true), flags: WI, class: classWrite},
		{name: "restore", cmd: p.Restore(ctx, "k", 0, "payload"), flags: W, class: classWrite},
		{name: "restore replace", cmd: p.RestoreReplace(ctx, "k", 0, "payload"), flags: WI, class: classWrite},
		// SORT.
		{name: "sort", cmd: p.Sort(ctx, "l", &redis.Sort{Get: []string{"store"}, Offset: 0, Count: 5}), flags: WI, class: classWrite},
		{name: "sort store", cmd: p.SortStore(ctx, "l", "d", &redis.Sort{Alpha: true}), flags: WI, class: classWrite},
		{name: "sort store onto itself", cmd: p.SortStore(ctx, "l", "l", &redis.Sort{Offset: 1, Count: 10}), flags: W, class: classWrite},
		// Destination among the sources.
		{name: "zunionstore", cmd: p.ZUnionStore(ctx, "d", &redis.ZStore{Keys: []string{"a", "b"}}), flags: WI, class: classWrite},
		{name: "zunionstore onto a source", cmd: p.ZUnionStore(ctx, "a", &redis.ZStore{Keys: []string{"a", "b"}}), flags: W, class: classWrite},
		{name: "zinterstore onto a source", cmd: p.ZInterStore(ctx, "b", &redis.ZStore{Keys: []string{"a", "b"}, Weights: []float64{1, 2}}), flags: W, class: classWrite},
		{name: "zunionstore weights not keys", cmd: redis.NewIntCmd(ctx, "zunionstore", "d", 1, "a", "weights", "d"), flags: WI, class: classWrite},
		{name: "zunionstore bad numkeys", cmd: redis.NewIntCmd(ctx, "zunionstore", "d", "x", "a"), flags: W, class: classWrite},
		{name: "zrangestore", cmd: p.ZRangeStore(ctx, "d", redis.ZRangeArgs{Key: "z", Start: 0, Stop: 1}), flags: WI, class: classWrite},
		{name: "zrangestore onto itself", cmd: p.ZRangeStore(ctx, "z", redis.ZRangeArgs{Key: "z", Start: 1, Stop: -1}), flags: W, class: classWrite},
		{name: "bitop and", cmd: p.BitOpAnd(ctx, "d", "a", "b"), flags: WI, class: classWrite},
		{name: "bitop not onto itself", cmd: p.BitOpNot(ctx, "d", "d"), flags: W, class: classWrite},
		{name: "bitop bytes keys", cmd: redis.NewIntCmd(ctx, "bitop", "xor", []byte("d"), "a", []byte("d")), flags: W, class: classWrite},
		{name: "georadius store", cmd: p.GeoRadiusStore(ctx, "g", 1, 2, &redis.GeoRadiusQuery{Radius: 1, Unit: "km", Count: 3, Store: "d"}), flags: WI, class: classWrite},
		{name: "georadius storedist onto itself", cmd: p.GeoRadiusStore(ctx, "g", 1, 2, &redis.GeoRadiusQuery{Radius: 1, Unit: "km", StoreDist: "g"}), flags: W, class: classWrite},
		{name: "georadiusbymember store onto itself", cmd: p.GeoRadiusByMemberStore(ctx, "g", "m", &redis.GeoRadiusQuery{Radius: 1, Unit: "km", Store: "g"}), flags: W, class: classWrite},
		{name: "geosearchstore", cmd: p.GeoSearchStore(ctx, "g", "d", &redis.GeoSearchStoreQuery{GeoSearchQuery: redis.GeoSearchQuery{Member: "m", Radius: 1, RadiusUnit: "km"}}), flags: WI, class: classWrite},
		{name: "geosearchstore onto itself", cmd: p.GeoSearchStore(ctx, "g", "g", &redis.GeoSearchStoreQuery{GeoSearchQuery: redis.GeoSearchQuery{Member: "m", Radius: 1, RadiusUnit: "km"}}), flags: W, class: classWrite},
		// FUNCTION RESTORE policies.
		{name: "function restore", cmd: p.FunctionRestore(ctx, "dump"), flags: flagWrite | flagSlow, class: classSlow},
		{name: "function restore replace", cmd: redis.NewStringCmd(ctx, "function", "restore", "dump", "REPLACE"), flags: flagWrite | flagSlow | flagIdempotent, class: classSlow},
		{name: "function restore append", cmd: redis.NewStringCmd(ctx, "function", "restore", "dump", "append"), flags: flagWrite | flagSlow, class: classSlow},
		// Subcommands: name in any case, unknown subcommand falls back to the container.
		{name: "CONFIG GET upper", cmd: redis.NewCmd(ctx, "CONFIG", "GET", "maxclients"), flags: flagSlow | flagIdempotent, class: classSlow},
		{name: "config unknown sub", cmd: redis.NewCmd(ctx, "config", "frobnicate"), flags: flagSlow, class: classSlow},
		{name: "config without sub", cmd: redis.NewCmd(ctx, "config"), flags: flagSlow, class: classSlow},
		{name: "xgroup createconsumer", cmd: p.XGroupCreateConsumer(ctx, "s", "g", "c"), flags: WI, class: classWrite},
		{name: "memory usage", cmd: p.MemoryUsage(ctx, "k"), flags: flagReadOnly | flagIdempotent, class: classRead},
	})
}

// TestBlockTimeouts checks the timeout read from every blocking command as
// go-redis writes it (formatSec: whole seconds, rounded down, at least 1;
// milliseconds for XREAD BLOCK, WAIT and WAITAOF) and as a user may write it
// by hand (upper-case names, fractional seconds as strings, []byte).
func TestBlockTimeouts(t *testing.T) {
	ctx := context.Background()
	p := offlinePipe(t)
	B := flagWrite | flagBlocking
	XR := flagReadOnly | flagIdempotent | flagBlocking
	XG := flagWrite | flagBlocking
	WT := flagBlocking | flagIdempotent
	s := time.Second
	ms := time.Millisecond
	runClassifyCases(t, defaultTable, []classifyCase{
		{name: "blpop 2s", cmd: p.BLPop(ctx, 2*s, "q"), flags: B, class: classBlocking, timeout: 2 * s},
		{name: "blpop 1.5s is sent as 1", cmd: p.BLPop(ctx, 1500*ms, "a", "b"), flags: B, class: classBlocking, timeout: s},
		{name: "blpop 200ms is sent as 1", cmd: p.BLPop(ctx, 200*ms, "q"), flags: B, class: classBlocking, timeout: s},
		{name: "blpop 0", cmd: p.BLPop(ctx, 0, "q"), flags: B, class: classBlocking, forever: true},
		{name: "brpop 3s", cmd: p.BRPop(ctx, 3*s, "q"), flags: B, class: classBlocking, timeout: 3 * s},
		{name: "brpop 0", cmd: p.BRPop(ctx, 0, "q"), flags: B, class: classBlocking, forever: true},
		{name: "brpoplpush 4s", cmd: p.BRPopLPush(ctx, "a", "b", 4*s), flags: B, class: classBlocking, timeout: 4 * s},
		{name: "brpoplpush 0", cmd: p.BRPopLPush(ctx, "a", "b", 0), flags: B, class: classBlocking, forever: true},
		{name: "blmove 5s", cmd: p.BLMove(ctx, "a", "b", "left", "right", 5*s), flags: B, class: classBlocking, timeout: 5 * s},
		{name: "blmove 0", cmd: p.BLMove(ctx, "a", "b", "left", "right", 0), flags: B, class: classBlocking, forever: true},
		{name: "blmovem 6s", cmd: p.BLMoveM(ctx, "a", "b", "LEFT", "RIGHT", 6*s, redis.LMoveMArgs{Count: 2}), flags: B, class: classBlocking, timeout: 6 * s},
		{name: "blmpop 7s", cmd: p.BLMPop(ctx, 7*s, "left", 2, "a", "b"), flags: B, class: classBlocking, timeout: 7 * s},
		{name: "blmpop 0", cmd: p.BLMPop(ctx, 0, "left", 2, "a"), flags: B, class: classBlocking, forever: true},
		{name: "bzpopmin 8s", cmd: p.BZPopMin(ctx, 8*s, "z"), flags: B, class: classBlocking, timeout: 8 * s},
		{name: "bzpopmin 0", cmd: p.BZPopMin(ctx, 0, "z"), flags: B, class: classBlocking, forever: true},
		{name: "bzpopmax 9s", cmd: p.BZPopMax(ctx, 9*s, "z", "y"), flags: B, class: classBlocking, timeout: 9 * s},
		{name: "bzmpop 10s", cmd: p.BZMPop(ctx, 10*s, "min", 1, "z"), flags: B, class: classBlocking, timeout: 10 * s},
		{name: "bzmpop 0", cmd: p.BZMPop(ctx, 0, "max", 1, "z"), flags: B, class: classBlocking, forever: true},
		{name: "xread block 1500ms", cmd: p.XRead(ctx, &redis.XReadArgs{Streams: []string{"s", "$"}, Count: 5, Block: 1500 * ms}), flags: XR, class: classBlocking, timeout: 1500 * ms},
		{name: "xread block 0 (go-redis zero value)", cmd: p.XRead(ctx, &redis.XReadArgs{Streams: []string{"s", "$"}}), flags: XR, class: classBlocking, forever: true},
		{name: "xread without block", cmd: p.XRead(ctx, &redis.XReadArgs{Streams: []string{"s", "0"}, Block: -1}), flags: flagReadOnly | flagIdempotent, class: classRead},
		{name: "xread stream named block", cmd: p.XReadStreams(ctx, "block", "0"), flags: flagReadOnly | flagIdempotent, class: classRead},
		{name: "xreadgroup block 2s", cmd: p.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "c", Streams: []string{"s", ">"}, Block: 2 * s, NoAck: true}), flags: XG, class: classBlocking, timeout: 2 * s},
		{name: "xreadgroup block 0", cmd: p.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "c", Streams: []string{"s", ">"}}), flags: XG, class: classBlocking, forever: true},
		{name: "xreadgroup consumer named streams", cmd: p.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "block", Consumer: "streams", Streams: []string{"s", ">"}, Block: 300 * ms}), flags: XG, class: classBlocking, timeout: 300 * ms},
		{name: "xreadgroup group named block, no block", cmd: p.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "block", Consumer: "c", Streams: []string{"s", ">"}, Block: -1}), flags: flagWrite, class: classWrite},
		{name: "wait 500ms", cmd: p.(*redis.Pipeline).Wait(ctx, 1, 500*ms), flags: WT, class: classBlocking, timeout: 500 * ms},
		{name: "wait 0", cmd: p.(*redis.Pipeline).Wait(ctx, 1, 0), flags: WT, class: classBlocking, forever: true},
		{name: "waitaof 250ms (sent as waitAOF)", cmd: p.(*redis.Pipeline).WaitAOF(ctx, 1, 0, 250*ms), flags: WT, class: classBlocking, timeout: 250 * ms},
		{name: "waitaof 0", cmd: p.(*redis.Pipeline).WaitAOF(ctx, 1, 0, 0), flags: WT, class: classBlocking, forever: true},
		{name: "ts.read block", cmd: p.TSReadWithArgs(ctx, "block", "-", &redis.TSReadOptions{Block: true, Timeout: 700 * ms}), flags: XR, class: classBlocking, timeout: 700 * ms},
		{name: "ts.read key named block, no block", cmd: p.TSReadWithArgs(ctx, "block", "-", nil), flags: flagReadOnly | flagIdempotent, class: classRead},

		// Hand-built commands.
		{name: "BLPOP string 1.5", cmd: redis.NewStringSliceCmd(ctx, "BLPOP", "q", "1.5"), flags: B, class: classBlocking, timeout: 1500 * ms},
		{name: "BLPOP string 0", cmd: redis.NewStringSliceCmd(ctx, "BLPOP", "q", "0"), flags: B, class: classBlocking, forever: true},
		{name: "blpop string 0.0", cmd: redis.NewStringSliceCmd(ctx, "blpop", "q", "0.0"), flags: B, class: classBlocking, forever: true},
		{name: "blpop float64 0.25", cmd: redis.NewStringSliceCmd(ctx, "bLpOp", "q", 0.25), flags: B, class: classBlocking, timeout: 250 * ms},
		{name: "blpop bytes 2.5", cmd: redis.NewStringSliceCmd(ctx, []byte("BLPOP"), "q", []byte("2.5")), flags: B, class: classBlocking, timeout: 2500 * ms},
		{name: "blpop int 3", cmd: redis.NewStringSliceCmd(ctx, "blpop", "q", 3), flags: B, class: classBlocking, timeout: 3 * s},
		{name: "blpop negative", cmd: redis.NewStringSliceCmd(ctx, "blpop", "q", "-1"), flags: B, class: classBlocking},
		{name: "blpop unreadable", cmd: redis.NewStringSliceCmd(ctx, "blpop", "q", "soon"), flags: B, class: classBlocking},
		{name: "blpop no timeout arg", cmd: redis.NewStringSliceCmd(ctx, "blpop"), flags: B, class: classBlocking},
		{name: "blpop huge", cmd: redis.NewStringSliceCmd(ctx, "blpop", "q", "1e30"), flags: B, class: classBlocking, timeout: time.Duration(1<<63 - 1)},
		{name: "BLMOVE string 0.5", cmd: redis.NewStringCmd(ctx, "BLMOVE", "a", "b", "LEFT", "RIGHT", "0.5"), flags: B, class: classBlocking, timeout: 500 * ms},
		{name: "BZMPOP string 1.25", cmd: redis.NewCmd(ctx, "BZMPOP", "1.25", 1, "z", "MIN"), flags: B, class: classBlocking, timeout: 1250 * ms},
		{name: "XREAD BLOCK string", cmd: redis.NewCmd(ctx, "XREAD", "COUNT", "1", "BLOCK", "1200", "STREAMS", "s", "$"), flags: XR, class: classBlocking, timeout: 1200 * ms},
		{name: "XREAD BLOCK bytes 0", cmd: redis.NewCmd(ctx, "xread", []byte("BLOCK"), []byte("0"), "streams", "s", "$"), flags: XR, class: classBlocking, forever: true},
		{name: "XREAD block after streams is an id", cmd: redis.NewCmd(ctx, "xread", "streams", "block", "5"), flags: flagReadOnly | flagIdempotent, class: classRead},
		{name: "WAIT string", cmd: redis.NewIntCmd(ctx, "WAIT", "1", "100"), flags: WT, class: classBlocking, timeout: 100 * ms},
		{name: "WAIT string 0", cmd: redis.NewIntCmd(ctx, "WAIT", "1", "0"), flags: WT, class: classBlocking, forever: true},
	})
}

func TestUnknownCommands(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		cmd  redis.Cmder
		name string
	}{
		{redis.NewCmd(ctx, "frobnicate", "k"), "frobnicate"},
		{redis.NewCmd(ctx, "FT.SEARCH", "idx", "*"), "ft.search"},
		{redis.NewCmd(ctx, []byte("NOSUCH")), "nosuch"},
		{redis.NewCmd(ctx, strings.Repeat("X", 100)), strings.Repeat("x", 100)},
		{redis.NewCmd(ctx, 42), "42"},
		{redis.NewCmd(ctx), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := defaultTable.info(c.cmd)
			want := cmdInfo{Name: c.name}
			if got != want {
				t.Fatalf("Classify(%v) = %+v, want %+v", c.cmd.Args(), got, want)
			}
			if got.IsIdempotent() || got.IsBlocking() || got.Class != classUnknown {
				t.Fatalf("unknown command must be neither idempotent nor blocking")
			}
		})
	}
	if got := defaultTable.info(nil); got != (cmdInfo{}) {
		t.Fatalf("Classify(nil) = %+v", got)
	}
}

func TestNilTableIsDefault(t *testing.T) {
	ctx := context.Background()
	var nilTable *CommandTable
	for _, cmd := range []redis.Cmder{
		redis.NewStatusCmd(ctx, "set", "k", "v", "nx"),
		redis.NewStringSliceCmd(ctx, "blpop", "q", 2),
		redis.NewCmd(ctx, "nosuch"),
	} {
		if got, want := nilTable.info(cmd), defaultTable.info(cmd); got != want {
			t.Errorf("%v: nil table %+v, default %+v", cmd.Args(), got, want)
		}
	}
	if got := nilTable.classifyPipeline([]redis.Cmder{redis.NewCmd(ctx, "get", "k")}); !got.IsIdempotent() {
		t.Errorf("nil table pipeline: %+v", got)
	}
}

func TestWithCommand(t *testing.T) {
	ctx := context.Background()
	tab := newCommandTable(
		withCommand("MYMOD.GET", flagReadOnly|flagIdempotent),
		withCommand("incr", flagWrite|flagIdempotent),
		withCommand("set", flagWrite),                                  // argument rules no longer apply
		withCommand("Config Set", flagSlow),                            // a subcommand, by "cmd sub"
		withCommand("client|KILL", flagSlow|flagIdempotent),            // a subcommand, by "cmd|sub"
		withCommand("mymod queue", flagWrite|flagBlocking),             // a subcommand of a new container
		withCommand("blpop", flagWrite|flagBlocking|flagIdempotent),    // keeps reading its timeout
		withCommand("brpop", flagWrite),                                // no longer blocking
		withCommand("xread", flagReadOnly|flagIdempotent|flagBlocking), // always blocking now
		withCommand("publish", 0),
		withCommand("publish", flagWrite), // the last option wins
	)
	runClassifyCases(t, tab, []classifyCase{
		{name: "added command, any case", cmd: redis.NewCmd(ctx, "mymod.get", "k"), flags: flagReadOnly | flagIdempotent, class: classRead},
		{name: "added command upper", cmd: redis.NewCmd(ctx, "MyMod.Get", "k"), flags: flagReadOnly | flagIdempotent, class: classRead},
		{name: "overridden incr", cmd: redis.NewIntCmd(ctx, "incr", "k"), flags: flagWrite | flagIdempotent, class: classWrite},
		{name: "set nx with fixed flags", cmd: redis.NewStatusCmd(ctx, "set", "k", "v", "nx"), flags: flagWrite, class: classWrite},
		{name: "plain set with fixed flags", cmd: redis.NewStatusCmd(ctx, "set", "k", "v"), flags: flagWrite, class: classWrite},
		{name: "config set overridden", cmd: redis.NewCmd(ctx, "config", "set", "a", "b"), flags: flagSlow, class: classSlow},
		{name: "config get untouched", cmd: redis.NewCmd(ctx, "config", "get", "a"), flags: flagSlow | flagIdempotent, class: classSlow},
		{name: "client kill overridden", cmd: redis.NewCmd(ctx, "client", "kill", "id", 1), flags: flagSlow | flagIdempotent, class: classSlow},
		{name: "client setname untouched", cmd: redis.NewCmd(ctx, "client", "setname", "x"), flags: flagIdempotent, class: classUnknown},
		{name: "new container sub", cmd: redis.NewCmd(ctx, "MYMOD", "QUEUE"), flags: flagWrite | flagBlocking, class: classBlocking},
		{name: "new container other sub", cmd: redis.NewCmd(ctx, "mymod", "other"), flags: 0, class: classUnknown},
		{name: "blpop keeps its timeout", cmd: redis.NewCmd(ctx, "blpop", "q", 4), flags: flagWrite | flagBlocking | flagIdempotent, class: classBlocking, timeout: 4 * time.Second},
		{name: "brpop not blocking", cmd: redis.NewCmd(ctx, "brpop", "q", 4), flags: flagWrite, class: classWrite},
		{name: "xread blocking without BLOCK", cmd: redis.NewCmd(ctx, "xread", "streams", "s", "0"), flags: flagReadOnly | flagIdempotent | flagBlocking, class: classBlocking},
		{name: "xread block timeout still read", cmd: redis.NewCmd(ctx, "xread", "block", 50, "streams", "s", "0"), flags: flagReadOnly | flagIdempotent | flagBlocking, class: classBlocking, timeout: 50 * time.Millisecond},
		{name: "publish last option wins", cmd: redis.NewCmd(ctx, "publish", "c", "m"), flags: flagWrite, class: classWrite},
	})

	// The default table is not affected by another table's options.
	runClassifyCases(t, defaultTable, []classifyCase{
		{name: "default incr", cmd: redis.NewIntCmd(ctx, "incr", "k"), flags: flagWrite, class: classWrite},
		{name: "default set nx", cmd: redis.NewStatusCmd(ctx, "set", "k", "v", "nx"), flags: flagWrite, class: classWrite},
		{name: "default config set", cmd: redis.NewCmd(ctx, "config", "set", "a", "b"), flags: flagSlow | flagIdempotent, class: classSlow},
		{name: "default unknown", cmd: redis.NewCmd(ctx, "mymod.get", "k"), flags: 0, class: classUnknown},
	})

	for _, name := range []string{"", " ", "a b c", "|"} {
		t.Run("panics on "+strconvQuote(name), func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil {
					t.Fatalf("WithCommand(%q) did not panic", name)
				} else if !strings.HasPrefix(r.(string), "hooks: ") {
					t.Fatalf("panic %q does not start with the package name", r)
				}
			}()
			withCommand(name, flagWrite)
		})
	}
}

func strconvQuote(s string) string { return "\"" + s + "\"" }

func TestWithIdempotentScript(t *testing.T) {
	ctx := context.Background()
	p := offlinePipe(t)
	const body = "return redis.call('SET', KEYS[1], ARGV[1])"
	const other = "return redis.call('INCR', KEYS[1])"
	sum := sha1.Sum([]byte(body))
	bodySHA := hex.EncodeToString(sum[:])
	sum = sha1.Sum([]byte(other))
	otherSHA := hex.EncodeToString(sum[:])
	explicit := strings.Repeat("AbCdEf0123", 4) // a SHA given directly, mixed case

	tab := newCommandTable(
		withIdempotentScript(body),
		withIdempotentScript(explicit),
		withIdempotentScript("myfunc"),
	)
	S := flagWrite | flagScript
	SI := flagWrite | flagScript | flagIdempotent
	script := redis.NewScript(body)
	runClassifyCases(t, tab, []classifyCase{
		{name: "eval marked body", cmd: p.Eval(ctx, body, []string{"k"}, "v"), flags: SI, class: classScript},
		{name: "eval other body", cmd: p.Eval(ctx, other, []string{"k"}), flags: S, class: classScript},
		{name: "evalsha of marked body", cmd: p.EvalSha(ctx, bodySHA, []string{"k"}, "v"), flags: SI, class: classScript},
		{name: "EVALSHA upper-case sha of marked body", cmd: redis.NewCmd(ctx, "EVALSHA", strings.ToUpper(bodySHA), 1, "k", "v"), flags: SI, class: classScript},
		{name: "evalsha bytes sha", cmd: redis.NewCmd(ctx, "evalsha", []byte(bodySHA), 0), flags: SI, class: classScript},
		{name: "evalsha other", cmd: p.EvalSha(ctx, otherSHA, nil), flags: S, class: classScript},
		{name: "evalsha explicit sha, lower case", cmd: p.EvalSha(ctx, strings.ToLower(explicit), nil), flags: SI, class: classScript},
		{name: "redis.Script EvalSha", cmd: script.EvalSha(ctx, p, []string{"k"}, "v"), flags: SI, class: classScript},
		{name: "redis.Script Eval", cmd: script.Eval(ctx, p, []string{"k"}, "v"), flags: SI, class: classScript},
		{name: "fcall marked", cmd: p.FCall(ctx, "myfunc", []string{"k"}), flags: SI, class: classScript},
		{name: "fcall case matters", cmd: p.FCall(ctx, "MyFunc", []string{"k"}), flags: S, class: classScript},
		{name: "fcall other", cmd: p.FCall(ctx, "otherfunc", nil), flags: S, class: classScript},
		{name: "eval_ro always", cmd: p.EvalRO(ctx, other, nil), flags: flagReadOnly | flagIdempotent | flagScript, class: classScript},
		{name: "fcall_ro always", cmd: p.FCallRO(ctx, "otherfunc", nil), flags: flagReadOnly | flagIdempotent | flagScript, class: classScript},
	})
	if defaultTable.info(p.Eval(ctx, body, []string{"k"}, "v")).IsIdempotent() {
		t.Fatal("the default table must not know the script")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("WithIdempotentScript(\"\") did not panic")
		}
	}()
	withIdempotentScript("")
}

func TestClassifyPipeline(t *testing.T) {
	ctx := context.Background()
	p := offlinePipe(t)
	tx := func(cmds ...redis.Cmder) []redis.Cmder {
		out := []redis.Cmder{redis.NewStatusCmd(ctx, "multi")}
		out = append(out, cmds...)
		return append(out, redis.NewSliceCmd(ctx, "exec"))
	}

	empty := defaultTable.classifyPipeline(nil)
	if empty.Len != 0 || !empty.IsIdempotent() || empty.IsBlocking() || empty.HasClass(classRead) {
		t.Errorf("empty: %+v", empty)
	}

	reads := defaultTable.classifyPipeline([]redis.Cmder{p.Get(ctx, "a"), p.Set(ctx, "b", "v", 0), p.HGetAll(ctx, "h")})
	if !reads.IsIdempotent() || reads.IsBlocking() || reads.Len != 3 || reads.Unknown != 0 {
		t.Errorf("get/set/hgetall: %+v", reads)
	}
	if !reads.HasClass(classRead) || !reads.HasClass(classWrite) || reads.HasClass(classSlow) {
		t.Errorf("classes of get/set/hgetall: %+v", reads)
	}
	if reads.All&flagReadOnly != 0 || reads.Any&flagReadOnly == 0 || reads.Any&flagWrite == 0 {
		t.Errorf("Any/All of get/set/hgetall: any %v all %v", reads.Any, reads.All)
	}

	txIdem := defaultTable.classifyPipeline(tx(p.Set(ctx, "a", "1", 0), p.Del(ctx, "b")))
	if !txIdem.IsIdempotent() || txIdem.Len != 4 {
		t.Errorf("MULTI SET DEL EXEC: %+v", txIdem)
	}
	txIncr := defaultTable.classifyPipeline(tx(p.Set(ctx, "a", "1", 0), p.Incr(ctx, "n")))
	if txIncr.IsIdempotent() {
		t.Errorf("MULTI SET INCR EXEC must not be idempotent: %+v", txIncr)
	}

	blocking := defaultTable.classifyPipeline([]redis.Cmder{
		p.BLPop(ctx, 2*time.Second, "q"),
		p.XRead(ctx, &redis.XReadArgs{Streams: []string{"s", "$"}, Block: 5 * time.Second}),
		p.Get(ctx, "k"),
		redis.NewCmd(ctx, "nosuch"),
	})
	if !blocking.IsBlocking() || blocking.BlockTimeout != 5*time.Second || blocking.BlockForever {
		t.Errorf("blocking: %+v", blocking)
	}
	if blocking.Unknown != 1 || blocking.IsIdempotent() || !blocking.HasClass(classUnknown) || !blocking.HasClass(classBlocking) {
		t.Errorf("blocking + unknown: %+v", blocking)
	}
	forever := defaultTable.classifyPipeline([]redis.Cmder{p.BLPop(ctx, 0, "q"), p.BLPop(ctx, time.Second, "r")})
	if !forever.BlockForever || forever.BlockTimeout != time.Second {
		t.Errorf("forever: %+v", forever)
	}
}

func TestFlagsAndClassStrings(t *testing.T) {
	for f, want := range map[flagSet]string{
		0:                             "0",
		flagReadOnly | flagIdempotent: "ReadOnly|Idempotent",
		flagWrite | flagBlocking | flagSlow | flagScript: "Write|Blocking|Slow|Script",
		flagIdempotent | 1<<9:                            "Idempotent|0x200",
		flagReadOnly | flagWrite | flagIdempotent:        "ReadOnly|Write|Idempotent",
	} {
		if got := f.String(); got != want {
			t.Errorf("Flags(%d).String() = %q, want %q", f, got, want)
		}
	}
	for c, want := range map[cmdClass]string{
		classUnknown: "unknown", classRead: "read", classWrite: "write", classSlow: "slow",
		classScript: "script", classBlocking: "blocking", cmdClass(9): "class(9)",
	} {
		if got := c.String(); got != want {
			t.Errorf("Class(%d).String() = %q, want %q", c, got, want)
		}
	}
	i := cmdInfo{Flags: flagWrite | flagIdempotent | flagBlocking}
	if !i.Is(flagWrite|flagIdempotent) || i.Is(flagWrite|flagReadOnly) || !i.IsBlocking() || !i.IsIdempotent() {
		t.Errorf("CommandInfo helpers wrong for %v", i.Flags)
	}
	if (cmdInfo{}).IsBlocking() || (cmdInfo{}).IsIdempotent() {
		t.Errorf("zero CommandInfo helpers")
	}
}

// TestClassifyConcurrent runs Classify from many goroutines; with -race it
// proves the table is read-only after construction.
func TestClassifyConcurrent(t *testing.T) {
	ctx := context.Background()
	tab := newCommandTable(withIdempotentScript("return 1"))
	cmds := []redis.Cmder{
		redis.NewCmd(ctx, "get", "k"),
		redis.NewCmd(ctx, "SET", "k", "v", "NX"),
		redis.NewCmd(ctx, "blpop", "q", "1.5"),
		redis.NewCmd(ctx, "eval", "return 1", 0),
		redis.NewCmd(ctx, "config", "get", "x"),
	}
	want := make([]cmdInfo, len(cmds))
	for i, c := range cmds {
		want[i] = tab.info(c)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 500; n++ {
				for i, c := range cmds {
					if got := tab.info(c); got != want[i] {
						errs <- c.String()
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("concurrent Classify disagreed on %s", e)
	}
}

// allocCases are the common commands Classify must handle without
// allocating, as go-redis builds them.
func allocCases(t testing.TB) []struct {
	name string
	cmd  redis.Cmder
} {
	ctx := context.Background()
	p := offlinePipe(t)
	sha := strings.Repeat("ab", 20)
	return []struct {
		name string
		cmd  redis.Cmder
	}{
		{"GET", p.Get(ctx, "key")},
		{"SET_EX", p.Set(ctx, "key", "value", 10*time.Second)},
		{"SET_NX", p.SetNX(ctx, "key", "value", time.Second)},
		{"BLPOP", p.BLPop(ctx, 2*time.Second, "queue")},
		{"XREAD_BLOCK", p.XRead(ctx, &redis.XReadArgs{Streams: []string{"s", "$"}, Count: 10, Block: time.Second})},
		{"EVALSHA", p.EvalSha(ctx, sha, []string{"k"}, "v")},
		{"HEXPIRE_upper", p.HExpire(ctx, "h", time.Minute, "f")},
		{"BLPOP_raw_upper", redis.NewCmd(ctx, "BLPOP", "q", "1.5")},
		{"CONFIG_GET", p.ConfigGet(ctx, "maxclients")},
		{"ZADD", p.ZAdd(ctx, "z", redis.Z{Score: 1, Member: "m"})},
		{"XADD", p.XAdd(ctx, &redis.XAddArgs{Stream: "s", MaxLen: 100, Approx: true, Values: []string{"f", "v"}})},
	}
}

// TestClassifyAllocations asserts that Classify allocates nothing for the
// common commands (allocation counts, not timings).
func TestClassifyAllocations(t *testing.T) {
	sha := strings.Repeat("ab", 20)
	tab := newCommandTable(withIdempotentScript(sha))
	for _, c := range allocCases(t) {
		t.Run(c.name, func(t *testing.T) {
			var sink cmdInfo
			if n := testing.AllocsPerRun(200, func() { sink = tab.info(c.cmd) }); n != 0 {
				t.Errorf("Classify(%v) allocates %v times per call", c.cmd.Args(), n)
			}
			_ = sink
		})
	}
	// A control: an unknown upper-case name is lower-cased on the heap, so
	// the measurement above does see allocations when there are some.
	t.Run("control: unknown upper-case name allocates", func(t *testing.T) {
		cmd := redis.NewCmd(context.Background(), "NOSUCHCOMMAND", "k")
		if n := testing.AllocsPerRun(200, func() { _ = tab.info(cmd) }); n == 0 {
			t.Errorf("expected an allocation for an unknown upper-case name")
		}
	})
	t.Run("pipeline", func(t *testing.T) {
		cases := allocCases(t)
		cmds := make([]redis.Cmder, len(cases))
		for i, c := range cases {
			cmds[i] = c.cmd
		}
		if n := testing.AllocsPerRun(200, func() { _ = tab.classifyPipeline(cmds) }); n != 0 {
			t.Errorf("ClassifyPipeline allocates %v times per call", n)
		}
	})
}

// BenchmarkClassify measures Classify per command; run with -benchmem.
func BenchmarkClassify(b *testing.B) {
	sha := strings.Repeat("ab", 20)
	tab := newCommandTable(withIdempotentScript(sha))
	for _, c := range allocCases(b) {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var sink cmdInfo
			for b.Loop() {
				sink = tab.info(c.cmd)
			}
			_ = sink
		})
	}
}

// TestNewCommandTable: each Command field sets its flag, the commands and
// scripts given reach the table, and a bad name or an empty script panics.
func TestNewCommandTable(t *testing.T) {
	for _, c := range []struct {
		cmd  Command
		want flagSet
	}{
		{Command{ReadOnly: true}, flagReadOnly},
		{Command{Write: true}, flagWrite},
		{Command{Idempotent: true}, flagIdempotent},
		{Command{Blocking: true}, flagBlocking},
		{Command{Slow: true}, flagSlow},
		{Command{Script: true}, flagScript},
		{Command{}, 0},
		{Command{ReadOnly: true, Write: true, Idempotent: true, Blocking: true, Slow: true, Script: true},
			flagReadOnly | flagWrite | flagIdempotent | flagBlocking | flagSlow | flagScript},
	} {
		if got := c.cmd.flags(); got != c.want {
			t.Errorf("%+v: flags %v, want %v", c.cmd, got, c.want)
		}
	}

	ctx := context.Background()
	p := offlinePipe(t)
	const body = "return redis.call('SET', KEYS[1], ARGV[1])"
	tab := NewCommandTable([]Command{
		{Name: "JSON.SET", Write: true, Idempotent: true},
		{Name: "json.get", ReadOnly: true, Idempotent: true},
		{Name: "config|set", Slow: true},
		{Name: "incr", Write: true, Idempotent: true},
		{Name: "publish"},
		{Name: "publish", Write: true}, // the last one wins
	}, body, "myfunc")
	runClassifyCases(t, tab, []classifyCase{
		{name: "module write", cmd: redis.NewCmd(ctx, "json.set", "k", "$", "1"), flags: flagWrite | flagIdempotent, class: classWrite},
		{name: "module read", cmd: redis.NewCmd(ctx, "JSON.GET", "k"), flags: flagReadOnly | flagIdempotent, class: classRead},
		{name: "subcommand", cmd: redis.NewCmd(ctx, "config", "set", "a", "b"), flags: flagSlow, class: classSlow},
		{name: "replaced incr", cmd: redis.NewIntCmd(ctx, "incr", "k"), flags: flagWrite | flagIdempotent, class: classWrite},
		{name: "last wins", cmd: redis.NewCmd(ctx, "publish", "c", "m"), flags: flagWrite, class: classWrite},
		{name: "script body", cmd: p.Eval(ctx, body, []string{"k"}, "v"), flags: flagWrite | flagScript | flagIdempotent, class: classScript},
		{name: "function", cmd: p.FCall(ctx, "myfunc", []string{"k"}), flags: flagWrite | flagScript | flagIdempotent, class: classScript},
	})
	if defaultTable.info(redis.NewIntCmd(ctx, "incr", "k")).IsIdempotent() {
		t.Fatal("NewCommandTable changed the default table")
	}

	for _, bad := range []struct {
		name    string
		cmds    []Command
		scripts []string
	}{
		{"empty name", []Command{{Write: true}}, nil},
		{"three words", []Command{{Name: "a b c"}}, nil},
		{"empty script", nil, []string{""}},
	} {
		t.Run("panics on "+bad.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil {
					t.Fatal("NewCommandTable did not panic")
				} else if !strings.HasPrefix(r.(string), "hooks: NewCommandTable: ") {
					t.Fatalf("panic %q does not name NewCommandTable", r)
				}
			}()
			NewCommandTable(bad.cmds, bad.scripts...)
		})
	}
}
