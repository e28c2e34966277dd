package batch

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// RPush appends values to the list at key with one RPUSH per value, in
// chunks of opt.ChunkSize values per pipeline, chunk after chunk, so the
// list receives the values in order. Options.Parallel above 1 is an error.
// With Options.Tx each chunk is appended whole or not at all; on a cluster
// client that works as is, since every command names the same key.
//
// The result is by index in values; the error is as for Run. A value must
// be something go-redis can write as an argument (a string, []byte, a
// number, a bool, an encoding.BinaryMarshaler, ...); one that is not fails
// its chunk as it is written, and the chunk is reported Unknown.
func RPush[T any](ctx context.Context, c Client, key string, values []T, opt Options) (Result, error) {
	return oneEach(ctx, c, "RPush", "rpush", key, values, opt)
}

// oneEach runs one command "name key value" per value. It never runs chunks
// in parallel, so the closure's buffer is used by one goroutine at a time.
func oneEach[T any](ctx context.Context, c Client, fn, name, key string, values []T, opt Options) (Result, error) {
	nameArg, keyArg := any(name), any(key)
	var cmds []redis.Cmder
	fill := func(p redis.Pipeliner, lo, hi int, _ []int) ([]int, error) {
		n := hi - lo
		// One backing array for the chunk's arguments and one slice of
		// commands reused from chunk to chunk; go-redis copies the latter
		// into the pipeline. Per value, only the command itself (and the
		// value's conversion to an interface) is allocated.
		args := make([]any, 3*n)
		if cap(cmds) < n {
			cmds = make([]redis.Cmder, n)
		}
		cmds = cmds[:n]
		for i := range n {
			a := args[3*i : 3*i+3 : 3*i+3]
			a[0], a[1], a[2] = nameArg, keyArg, any(values[lo+i])
			cmds[i] = redis.NewIntCmd(ctx, a...)
		}
		err := p.BatchProcess(ctx, cmds...)
		clear(cmds) // do not keep the chunk's commands alive
		return nil, err
	}
	return run(ctx, c, len(values), fill, opt, fn, false)
}
