package hooks

// The built-in command table as data. The types, the lookup and info
// are in commands.go, the argument-dependent rules (refine) in
// commands_rules.go.
//
// The ReadOnly, Write and Blocking flags and the blocking-timeout positions
// follow what redis-server reports in COMMAND INFO and COMMAND DOCS:
// TestCommandTableMatchesServer holds the flags to it and
// TestBlockTimeoutArgsMatchServer the timeout positions, and they list the
// deliberate differences. Idempotent is decided by hand (its meaning is
// documented on the flag): where the decision is not obvious (a read is
// idempotent, a write that adds, counts, pushes or pops is not), the entry's
// line, its group's comment or its refine rule says why, and
// TestIdempotencyOnServer runs the disputable decisions twice on a real
// server.

// cmdBuiltin is one entry of builtinCommands.
type cmdBuiltin struct {
	name   string
	flags  flagSet
	refine func(*CommandTable, []interface{}, flagSet) flagSet
	block  cmdBlockSpec
	subs   []cmdBuiltin // subcommands; their own subs are ignored
}

// Shorthands for the table below.
const (
	tblRead      = flagReadOnly | flagIdempotent // a read
	tblWrite     = flagWrite                     // a write that must not be repeated
	tblWriteIdem = flagWrite | flagIdempotent    // a write whose repetition changes nothing
	tblIdem      = flagIdempotent                // touches no data, safe to repeat
	tblBlockPop  = flagWrite | flagBlocking      // a blocking pop or move
	tblSlow      = flagSlow                      // administrative, not safe to repeat
	tblSlowIdem  = flagSlow | flagIdempotent     // administrative, safe to repeat
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
	{name: "setex", flags: tblWriteIdem},    // like SET EX: the TTL restarts from the last attempt
	{name: "psetex", flags: tblWriteIdem},   // like SET PX
	{name: "mset", flags: tblWriteIdem},     // the same values again
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
	{name: "delex", flags: tblWrite}, // conditional delete (8.4): 1 then 0
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
	{name: "pfmerge", flags: tblWriteIdem},         // a union is the same when merged twice
	{name: "pfdebug", flags: flagWrite | flagSlow}, // debugging; TODENSE and the like rewrite the encoding: not retried
	{name: "pfselftest", flags: tblSlowIdem},       // touches no data

	// Keys.
	{name: "del", flags: tblWriteIdem},    // the count is what the last attempt deleted
	{name: "unlink", flags: tblWriteIdem}, // like DEL
	{name: "exists", flags: tblRead},
	{name: "type", flags: tblRead},
	{name: "touch", flags: tblRead}, // sets only the access time, which the server counts as a read
	{name: "ttl", flags: tblRead},
	{name: "pttl", flags: tblRead},
	{name: "expiretime", flags: tblRead},
	{name: "pexpiretime", flags: tblRead},
	{name: "expire", flags: tblWrite},  // relative: a repeat moves the deadline; NX/GT/LT flip the reply
	{name: "pexpire", flags: tblWrite}, // relative
	{name: "expireat", flags: tblWriteIdem, refine: refineExpireAt},
	{name: "pexpireat", flags: tblWriteIdem, refine: refineExpireAt},
	{name: "persist", flags: tblWriteIdem}, // the reply says whether this attempt removed a TTL
	{name: "randomkey", flags: tblRead},
	{name: "scan", flags: tblRead},
	{name: "keys", flags: tblRead | flagSlow},
	{name: "dump", flags: tblRead},
	{name: "rename", flags: tblWrite},   // a repeat fails with "no such key"
	{name: "renamenx", flags: tblWrite}, // likewise
	{name: "move", flags: tblWrite},     // 1 then 0
	{name: "copy", flags: tblWrite, refine: refineKeyword(3, "replace")},
	{name: "restore", flags: tblWrite, refine: refineKeyword(4, "replace")},
	{name: "restore-asking", flags: tblWrite, refine: refineKeyword(4, "replace")},
	{name: "sort", flags: tblWriteIdem, refine: refineSort},
	{name: "sort_ro", flags: tblRead},
	{name: "migrate", flags: flagWrite | flagSlow},                             // moves the key: a repeat answers NOKEY
	{name: "wait", flags: flagBlocking | flagIdempotent, block: tblMsAt(2)},    // waits for replicas again and changes no data
	{name: "waitaof", flags: flagBlocking | flagIdempotent, block: tblMsAt(3)}, // likewise
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
	{name: "lset", flags: tblWriteIdem}, // the same element at the same index
	{name: "ltrim", flags: tblWriteIdem, refine: refineLTrim},
	{name: "lrem", flags: tblWrite, refine: refineLRem},
	{name: "lpush", flags: tblWrite},
	{name: "rpush", flags: tblWrite},
	{name: "lpushx", flags: tblWrite},  // pushes again
	{name: "rpushx", flags: tblWrite},  // pushes again
	{name: "linsert", flags: tblWrite}, // inserts another copy
	{name: "lpop", flags: tblWrite},
	{name: "rpop", flags: tblWrite},
	{name: "lmpop", flags: tblWrite},
	{name: "lmove", flags: tblWrite},     // moves another element
	{name: "lmovem", flags: tblWrite},    // moves more elements
	{name: "rpoplpush", flags: tblWrite}, // moves another element
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
	{name: "hset", flags: tblWriteIdem},  // the count is what the last attempt added
	{name: "hmset", flags: tblWriteIdem}, // the same values again
	{name: "hdel", flags: tblWriteIdem},  // the count is what the last attempt deleted
	{name: "hsetnx", flags: tblWrite},    // 1 then 0
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
	{name: "hpersist", flags: tblWriteIdem}, // the per-field replies say what this attempt removed
	{name: "hgetdel", flags: tblWrite},      // a repeat returns nil
	{name: "hgetex", flags: tblWrite},       // a relative EX/PX moves the deadline; PERSIST flips the reply
	{name: "hsetex", flags: tblWrite},       // FNX/FXX flip the reply; a relative TTL moves

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
	{name: "sadd", flags: tblWriteIdem},        // the count is what the last attempt added
	{name: "srem", flags: tblWriteIdem},        // the count is what the last attempt removed
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
	{name: "zrem", flags: tblWriteIdem},             // the count is what the last attempt removed
	{name: "zremrangebyscore", flags: tblWriteIdem}, // the range is empty after the first run
	{name: "zremrangebylex", flags: tblWriteIdem},   // likewise
	{name: "zremrangebyrank", flags: tblWrite},      // ranks shift: a repeat removes more
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
	{name: "geoadd", flags: tblWriteIdem}, // the same positions; the count is what the last attempt added
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
	{name: "xack", flags: tblWriteIdem},    // the count is what the last attempt acknowledged
	{name: "xackdel", flags: tblWriteIdem}, // the per-ID replies say what this attempt did (8.2)
	{name: "xdel", flags: tblWriteIdem},    // the count is what the last attempt deleted
	{name: "xdelex", flags: tblWriteIdem},  // like XACKDEL (8.2)
	{name: "xtrim", flags: tblWriteIdem, refine: refineXTrim},
	{name: "xsetid", flags: tblWriteIdem}, // the same last ID again
	{name: "xclaim", flags: tblWrite},     // bumps the delivery count
	{name: "xautoclaim", flags: tblWrite}, // likewise
	{name: "xgroup", subs: []cmdBuiltin{
		{name: "create", flags: tblWrite},             // a repeat fails with BUSYGROUP
		{name: "createconsumer", flags: tblWriteIdem}, // 1 then 0: the consumer exists either way
		{name: "delconsumer", flags: tblWriteIdem},    // its pending count, then 0
		{name: "destroy", flags: tblWriteIdem},        // 1 then 0
		{name: "setid", flags: tblWriteIdem},          // the same ID again
		{name: "help", flags: tblIdem},
	}},
	{name: "xinfo", subs: []cmdBuiltin{
		{name: "consumers", flags: tblRead},
		{name: "groups", flags: tblRead},
		{name: "stream", flags: tblRead},
		{name: "help", flags: tblIdem},
	}},

	// Pub/Sub.
	{name: "publish", flags: 0},           // each attempt delivers again
	{name: "spublish", flags: 0},          // each attempt delivers again
	{name: "subscribe", flags: tblIdem},   // subscribing again leaves the same subscriptions
	{name: "unsubscribe", flags: tblIdem}, // likewise
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
	{name: "eval", flags: flagWrite | flagScript, refine: refineEval},       // idempotent only for a script marked idempotent (NewCommandTable)
	{name: "evalsha", flags: flagWrite | flagScript, refine: refineEvalSha}, // likewise
	{name: "fcall", flags: flagWrite | flagScript, refine: refineEval},      // likewise, for a function
	{name: "eval_ro", flags: tblRead | flagScript},
	{name: "evalsha_ro", flags: tblRead | flagScript},
	{name: "fcall_ro", flags: tblRead | flagScript},
	{name: "script", flags: tblSlow, subs: []cmdBuiltin{
		{name: "load", flags: tblSlowIdem}, // the same SHA1 again
		{name: "exists", flags: tblSlowIdem},
		{name: "flush", flags: tblSlowIdem}, // empty again
		{name: "kill", flags: tblSlow},      // a repeat fails with NOTBUSY
		{name: "debug", flags: tblSlow},     // debugging only: not retried
		{name: "help", flags: tblSlowIdem},
	}},
	{name: "function", flags: tblSlow, subs: []cmdBuiltin{
		{name: "load", flags: flagWrite | flagSlow, refine: refineKeyword(2, "replace")},
		{name: "restore", flags: flagWrite | flagSlow, refine: refineFunctionRestore},
		{name: "delete", flags: flagWrite | flagSlow},                 // a repeat fails: no such library
		{name: "flush", flags: flagWrite | flagSlow | flagIdempotent}, // empty again
		{name: "dump", flags: tblSlowIdem},
		{name: "list", flags: tblSlowIdem},
		{name: "stats", flags: tblSlowIdem},
		{name: "kill", flags: tblSlow}, // a repeat fails with NOTBUSY
		{name: "help", flags: tblSlowIdem},
	}},

	// Transactions. Retry sends a transaction whole or not at all, so the
	// markers are idempotent and a transaction is as idempotent as what it runs.
	{name: "multi", flags: tblIdem},
	{name: "exec", flags: tblIdem},
	{name: "discard", flags: tblIdem},
	{name: "watch", flags: tblIdem},
	{name: "unwatch", flags: tblIdem},

	// Connection. These set or read the state of the connection, not data: a
	// repeat leaves the same state.
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
		{name: "reply", flags: 0}, // OFF and SKIP suppress the replies a repeat would wait for
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
	{name: "flushall", flags: tblWriteIdem | flagSlow}, // empty again
	{name: "flushdb", flags: tblWriteIdem | flagSlow},  // empty again
	{name: "swapdb", flags: tblWrite},                  // a repeat swaps back
	{name: "save", flags: tblSlowIdem},                 // the same snapshot again
	{name: "bgsave", flags: tblSlow},                   // a repeat fails: already in progress
	{name: "bgrewriteaof", flags: tblSlow},             // likewise
	{name: "shutdown", flags: tblSlow},                 // the server is gone after the first
	{name: "debug", flags: tblSlow},                    // SLEEP, RELOAD, SEGFAULT...: not retried
	{name: "monitor", flags: tblSlow},                  // turns the connection into a feed: not retried
	{name: "sync", flags: tblSlow},                     // replication protocol, not for clients
	{name: "psync", flags: tblSlow},                    // likewise
	{name: "replconf", flags: tblSlow},                 // likewise
	{name: "replicaof", flags: tblSlowIdem},            // the same master again
	{name: "slaveof", flags: tblSlowIdem},              // likewise
	{name: "failover", flags: tblSlow},                 // a repeat fails: a failover is in progress
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
		{name: "set", flags: tblSlowIdem},       // the same values again
		{name: "resetstat", flags: tblSlowIdem}, // zero again
		{name: "rewrite", flags: tblSlowIdem},   // the same file again
		{name: "help", flags: tblSlowIdem},
	}},
	{name: "acl", flags: tblSlow, subs: []cmdBuiltin{
		{name: "cat", flags: tblSlowIdem},
		{name: "deluser", flags: tblSlowIdem}, // the count is what the last attempt deleted
		{name: "dryrun", flags: tblSlowIdem},
		{name: "genpass", flags: tblSlowIdem},
		{name: "getuser", flags: tblSlowIdem},
		{name: "list", flags: tblSlowIdem},
		{name: "load", flags: tblSlowIdem},    // the same file again
		{name: "log", flags: tblSlowIdem},     // LOG RESET clears it again
		{name: "save", flags: tblSlowIdem},    // the same file again
		{name: "setuser", flags: tblSlowIdem}, // the same rules again
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
		{name: "reset", flags: tblSlowIdem}, // the count is what the last attempt reset
		{name: "help", flags: tblSlowIdem},
	}},
	{name: "slowlog", flags: tblSlow, subs: []cmdBuiltin{
		{name: "get", flags: tblSlowIdem},
		{name: "len", flags: tblSlowIdem},
		{name: "reset", flags: tblSlowIdem}, // empty again
		{name: "help", flags: tblSlowIdem},
	}},
	{name: "memory", subs: []cmdBuiltin{
		{name: "usage", flags: tblRead},
		{name: "doctor", flags: tblSlowIdem},
		{name: "malloc-stats", flags: tblSlowIdem},
		{name: "purge", flags: tblSlowIdem}, // purges again, changes no data
		{name: "stats", flags: tblSlowIdem},
		{name: "help", flags: tblIdem},
	}},
	{name: "module", flags: tblSlow, subs: []cmdBuiltin{
		{name: "list", flags: tblSlowIdem},
		{name: "load", flags: tblSlow},   // a repeat fails: already loaded
		{name: "loadex", flags: tblSlow}, // likewise
		{name: "unload", flags: tblSlow}, // a repeat fails: not loaded
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
		{name: "meet", flags: tblSlowIdem},         // the same node again
		{name: "replicate", flags: tblSlowIdem},    // the same master again
		{name: "reset", flags: tblSlowIdem},        // nothing left to forget (HARD also draws a new node ID)
		{name: "saveconfig", flags: tblSlowIdem},   // the same file again
		{name: "setslot", flags: tblSlowIdem},      // the same assignment again
		{name: "flushslots", flags: tblSlowIdem},   // empty again
		{name: "addslots", flags: tblSlow},         // a repeat fails: slot busy
		{name: "addslotsrange", flags: tblSlow},    // likewise
		{name: "delslots", flags: tblSlow},         // a repeat fails: slot not assigned
		{name: "delslotsrange", flags: tblSlow},    // likewise
		{name: "forget", flags: tblSlow},           // a repeat fails: unknown node
		{name: "failover", flags: tblSlow},         // a repeat fails: the node is already a master
		{name: "bumpepoch", flags: tblSlow},        // bumps again
		{name: "set-config-epoch", flags: tblSlow}, // a repeat fails: the epoch is set
	}},

	// Modules go-redis drives whose blocking form matters.
	{name: "ts.read", flags: tblRead, block: cmdBlockSpec{kind: cmdBlockMsKeyword, pos: 3}},
}
