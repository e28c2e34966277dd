package hooks

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// FuzzClassify feeds the command table arbitrary argument lists (each
// argument a string, or an int when it parses as one, as go-redis would
// pass it) and checks what must hold for every input: no panic, the same
// answer twice and whatever the command name's case, a consistent class and
// block timeout, and no argument ever making a non-idempotent command
// idempotent.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{
		"get k", "SET k v", "set k v nx", "set k v get", "incr k", "incrby k 5",
		"blpop a b 0", "blpop a 1.5", "BLMOVE src dst LEFT RIGHT 2",
		"xread count 1 block 0 streams s $", "xadd s * f v", "xadd s 1-1 f v",
		"zadd z incr 1 m", "zadd z 1 m", "eval \"return 1\" 0", "expire k 10",
		"pexpireat k 1700000000000", "wait 1 100", "config get maxmemory",
		"client kill id 1", "sort l store d", "georadius g 0 0 1 km store d",
		"lpush", "", "blpop", "xread block", "bzpopmin z -1", "set",
	} {
		f.Add(s)
	}
	nonIdempotent := map[string]bool{
		"incr": true, "incrby": true, "incrbyfloat": true, "decr": true, "decrby": true,
		"hincrby": true, "hincrbyfloat": true, "zincrby": true,
		"lpush": true, "rpush": true, "lpushx": true, "rpushx": true, "linsert": true,
		"lpop": true, "rpop": true, "spop": true, "blpop": true, "brpop": true,
		"blmove": true, "brpoplpush": true, "bzpopmin": true, "bzpopmax": true,
		"lmpop": true, "blmpop": true, "zmpop": true, "bzmpop": true,
		"publish": true, "spublish": true, "append": true,
	}
	f.Fuzz(func(t *testing.T, line string) {
		fields := strings.Fields(line)
		if len(fields) == 0 || len(fields) > 32 {
			return
		}
		args := make([]any, len(fields))
		for i, s := range fields {
			if n, err := strconv.Atoi(s); err == nil && i > 0 {
				args[i] = n
			} else {
				args[i] = s
			}
		}
		ctx := context.Background()
		info := defaultTable.info(redis.NewCmd(ctx, args...))
		again := defaultTable.info(redis.NewCmd(ctx, args...))
		if info != again {
			t.Fatalf("%q: two answers: %+v, %+v", line, info, again)
		}
		upper := append([]any{strings.ToUpper(fields[0])}, args[1:]...)
		if u := defaultTable.info(redis.NewCmd(ctx, upper...)); u.Flags != info.Flags || u.BlockTimeout != info.BlockTimeout || u.BlockForever != info.BlockForever {
			t.Fatalf("%q: upper case %+v, lower case %+v", line, u, info)
		}
		if info.Class != classOfFlags(info.Flags) {
			t.Fatalf("%q: class %v for flags %v", line, info.Class, info.Flags)
		}
		if info.BlockTimeout < 0 {
			t.Fatalf("%q: negative block timeout %v", line, info.BlockTimeout)
		}
		if info.BlockForever && (!info.IsBlocking() || info.BlockTimeout != 0) {
			t.Fatalf("%q: BlockForever with %+v", line, info)
		}
		if !info.IsBlocking() && (info.BlockForever || info.BlockTimeout != 0) {
			t.Fatalf("%q: not blocking but %+v", line, info)
		}
		if nonIdempotent[strings.ToLower(fields[0])] && info.IsIdempotent() {
			t.Fatalf("%q: %s classified idempotent", line, fields[0])
		}
	})
}
