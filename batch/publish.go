package batch

import "context"

// Publish sends messages to channel with one PUBLISH per message, in chunks
// of opt.ChunkSize messages per pipeline, chunk after chunk, so subscribers
// receive them in order. Options.Parallel above 1 is an error.
//
// A written message is one the server accepted and handed to the
// subscribers it had at that moment (there may have been none: Redis does
// not keep messages). The result is by index in messages; the error is as
// for Run.
func Publish[T any](ctx context.Context, c Client, channel string, messages []T, opt Options) (Result, error) {
	return oneEach(ctx, c, "Publish", "publish", channel, messages, opt)
}
