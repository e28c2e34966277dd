package batch

import "strconv"

// Result says, by item index, what became of every item of a batch. Each
// index from 0 to the number of items minus one is in exactly one of
// Written, NotWritten and Unknown, and each of those lists is in ascending
// order. The three lists are filled even when the call returns an error,
// including an error about the options.
type Result struct {
	// Written holds the items whose every command got a reply that is not
	// an error: the server ran them. redis.Nil counts as such a reply. An
	// item that queued no command at all is written.
	Written []int

	// NotWritten holds the items that were certainly not applied, so that
	// sending them again cannot apply them twice: their chunk never left
	// (an earlier chunk stopped the batch, the context ended first, the
	// connection could not be had, a hook such as the Limiter or the
	// Breaker refused it), or the server rejected every command of the item
	// with an error reply (WRONGTYPE, OOM, a discarded MULTI, ...). The
	// reply of a rejected item is in Errors.
	NotWritten []int

	// Unknown holds the items whose outcome cannot be known: the chunk was
	// sent but no reply came back for them (a read timeout, a reset, EOF),
	// or the item was only partly applied (one of its commands answered,
	// another was rejected; its error is in Errors). The caller must decide
	// whether to send them again, for instance by reading the data back.
	Unknown []int

	// Errors holds the error reply the server gave for each item it
	// rejected, in ascending index order. Items that failed because of the
	// connection share the error the call returned and are not listed.
	Errors []ItemError
}

// ItemError is the server's error reply for one item.
type ItemError struct {
	Index int   // the item's index in the input
	Err   error // the first error reply among the item's commands
}

// Error formats the item error as "item N: reply".
func (e ItemError) Error() string { return "item " + strconv.Itoa(e.Index) + ": " + e.Err.Error() }

// Unwrap returns the server's reply, so errors.Is and errors.As see it.
func (e ItemError) Unwrap() error { return e.Err }

// Complete reports whether every item was written.
func (r Result) Complete() bool { return len(r.NotWritten) == 0 && len(r.Unknown) == 0 }

// Len is the number of items the result covers.
func (r Result) Len() int { return len(r.Written) + len(r.NotWritten) + len(r.Unknown) }

// Pick returns the items at the given indexes, in that order: for instance
// Pick(values, res.NotWritten) is what may safely be sent again.
func Pick[T any](items []T, indexes []int) []T {
	out := make([]T, len(indexes))
	for i, j := range indexes {
		out[i] = items[j]
	}
	return out
}

// Item outcomes kept while a batch runs, one byte per item. The zero value
// is NotWritten: an item whose chunk never ran needs no bookkeeping.
const (
	itemNotWritten uint8 = iota
	itemWritten
	itemUnknown
)

// buildResult turns the per-item outcomes into the three sorted lists.
func buildResult(status []uint8, errs []ItemError) Result {
	var nw, nn, nu int
	for _, s := range status {
		switch s {
		case itemWritten:
			nw++
		case itemUnknown:
			nu++
		default:
			nn++
		}
	}
	r := Result{Errors: errs}
	if nw > 0 {
		r.Written = make([]int, 0, nw)
	}
	if nn > 0 {
		r.NotWritten = make([]int, 0, nn)
	}
	if nu > 0 {
		r.Unknown = make([]int, 0, nu)
	}
	for i, s := range status {
		switch s {
		case itemWritten:
			r.Written = append(r.Written, i)
		case itemUnknown:
			r.Unknown = append(r.Unknown, i)
		default:
			r.NotWritten = append(r.NotWritten, i)
		}
	}
	return r
}

// allNotWritten is the result of a batch that sent nothing.
func allNotWritten(n int) Result {
	if n == 0 {
		return Result{}
	}
	r := Result{NotWritten: make([]int, n)}
	for i := range r.NotWritten {
		r.NotWritten[i] = i
	}
	return r
}
