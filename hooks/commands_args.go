package hooks

import (
	"math"
	"strconv"
	"time"
)

// The readers of command arguments the table uses: name lookup ignoring
// ASCII case without allocating, keyword matching, integers, decimals and
// block timeouts, for the argument types go-redis writes.

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
