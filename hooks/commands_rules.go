package hooks

// The argument-dependent rules of the command table: the refine functions
// its entries name (commands_table.go). Each rule receives the flags of the
// entry and returns them with Idempotent set or cleared for these arguments.
// They read arguments with the parsers of commands_args.go.

func idemIf(f flagSet, ok bool) flagSet {
	if ok {
		return f | flagIdempotent
	}
	return f &^ flagIdempotent
}

// refineSet: SET key value [NX|XX] [GET] [IFEQ v|IFNE v|IFDEQ d|IFDNE d]
// [EX|PX|EXAT|PXAT n|KEEPTTL]. NX (OK then nil), GET (the old value, then
// the new one) and the conditional forms change the reply or the effect on
// repetition. XX does not: the key exists after the first run, so the
// repeat answers OK again and writes the same value. A relative EX/PX
// restarts the TTL from the last attempt; that is accepted, as the value is
// the point of the command.
func refineSet(_ *CommandTable, args []interface{}, f flagSet) flagSet {
	for i := 3; i < len(args); i++ {
		if cmdArgIsAny(args[i], "nx", "get", "ifeq", "ifne", "ifdeq", "ifdne") {
			return f &^ flagIdempotent
		}
	}
	return f | flagIdempotent
}

// refineExpireAt: EXPIREAT/PEXPIREAT key time [NX|XX|GT|LT] and
// HEXPIREAT/HPEXPIREAT key time [NX|XX|GT|LT] FIELDS ...: NX, GT and LT
// report 1 then 0 when repeated; XX and no option repeat the same reply.
func refineExpireAt(_ *CommandTable, args []interface{}, f flagSet) flagSet {
	return idemIf(f, len(args) < 4 || !cmdArgIsAny(args[3], "nx", "gt", "lt"))
}

// refineZAdd: ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member ...: INCR
// adds the score again on repetition. The options end at the first score.
func refineZAdd(_ *CommandTable, args []interface{}, f flagSet) flagSet {
	for i := 2; i < len(args); i++ {
		switch {
		case cmdArgIs(args[i], "incr"):
			return f &^ flagIdempotent
		case cmdArgIsAny(args[i], "nx", "xx", "gt", "lt", "ch"):
		default:
			return f | flagIdempotent
		}
	}
	return f | flagIdempotent
}

// refineXAdd: XADD is idempotent only with IDMP or IDMPAUTO (the server
// drops the duplicate and returns the first ID). Otherwise a repeat either
// appends a second entry ("*") or, with an explicit ID, fails with "ID equal
// or smaller than the target stream top item" although the first attempt
// wrote: a retry would report failure for a write that happened.
func refineXAdd(_ *CommandTable, args []interface{}, f flagSet) flagSet {
	i := 2
	for i < len(args) {
		switch a := args[i]; {
		case cmdArgIsAny(a, "idmp", "idmpauto"):
			return f | flagIdempotent
		case cmdArgIsAny(a, "nomkstream", "keepref", "delref", "acked"):
			i++
		case cmdArgIsAny(a, "maxlen", "minid"):
			i++
			if i < len(args) && cmdArgIsAny(args[i], "=", "~") {
				i++
			}
			i++
		case cmdArgIs(a, "limit"):
			i += 2
		default:
			return f &^ flagIdempotent // the ID: options are over
		}
	}
	return f &^ flagIdempotent
}

// refineXTrim: XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT n]. Exact
// trimming reaches the threshold at once, so a repeat removes nothing;
// approximate trimming ("~") is capped by a LIMIT (explicit or the server's
// default), so a repeat may remove more.
func refineXTrim(_ *CommandTable, args []interface{}, f flagSet) flagSet {
	return idemIf(f, cmdKeywordIndex(args, 2, "~", false) < 0)
}

// refineLRem: LREM key count element: count 0 removes every occurrence, so
// a repeat removes nothing; another count removes up to count more.
func refineLRem(_ *CommandTable, args []interface{}, f flagSet) flagSet {
	n, ok := int64(0), false
	if len(args) > 2 {
		n, ok = cmdArgInt(args[2])
	}
	return idemIf(f, ok && n == 0)
}

// refineLTrim: LTRIM key start stop is idempotent in the forms that keep a
// prefix or a suffix: "0 N" (N >= 0), "0 -1" and "-M -1". Others (dropping
// head elements, for instance "1 -1") trim again on repetition.
func refineLTrim(_ *CommandTable, args []interface{}, f flagSet) flagSet {
	if len(args) < 4 {
		return f &^ flagIdempotent
	}
	start, ok1 := cmdArgInt(args[2])
	stop, ok2 := cmdArgInt(args[3])
	return idemIf(f, ok1 && ok2 && (start == 0 && stop >= -1 || start < 0 && stop == -1))
}

// refineKeyword returns a rule that makes the command idempotent exactly
// when word appears from args[from] on (COPY/RESTORE ... REPLACE).
func refineKeyword(from int, word string) func(*CommandTable, []interface{}, flagSet) flagSet {
	return func(_ *CommandTable, args []interface{}, f flagSet) flagSet {
		return idemIf(f, cmdKeywordIndex(args, from, word, false) >= 0)
	}
}

// refineFunctionRestore: FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]:
// APPEND (the default) fails on repetition.
func refineFunctionRestore(_ *CommandTable, args []interface{}, f flagSet) flagSet {
	return idemIf(f, len(args) > 3 && cmdArgIsAny(args[3], "flush", "replace"))
}

// refineDestNotSource returns a rule for "store" commands that recompute a
// destination from sources: idempotent unless the destination is also a
// source (ZUNIONSTORE d 2 d x adds x's scores again on repetition).
// dest is the destination's index and first the first source's. The
// sources are one key (n == 1), every argument from first on (n == 0), or
// as many as the count at args[-n] (n < 0, ZUNIONSTORE's numkeys).
func refineDestNotSource(dest, first, n int) func(*CommandTable, []interface{}, flagSet) flagSet {
	return func(_ *CommandTable, args []interface{}, f flagSet) flagSet {
		if dest >= len(args) || first >= len(args) {
			return f &^ flagIdempotent
		}
		last := len(args)
		switch {
		case n > 0:
			last = first + n
		case n < 0:
			if -n >= len(args) {
				return f &^ flagIdempotent
			}
			k, ok := cmdArgInt(args[-n])
			if !ok || k < 0 || int64(first)+k > int64(len(args)) {
				return f &^ flagIdempotent
			}
			last = first + int(k)
		}
		for i := first; i < last && i < len(args); i++ {
			if sameKeyArg(args[dest], args[i]) {
				return f &^ flagIdempotent
			}
		}
		return f | flagIdempotent
	}
}

// refineSort: SORT key [BY p] [LIMIT o c] [GET p ...] [ASC|DESC] [ALPHA]
// [STORE dest] is a read without STORE; with STORE it is idempotent unless
// dest is the sorted key (a LIMIT would cut the stored result again).
func refineSort(_ *CommandTable, args []interface{}, f flagSet) flagSet {
	for i := 2; i < len(args); {
		switch a := args[i]; {
		case cmdArgIsAny(a, "by", "get"):
			i += 2
		case cmdArgIs(a, "limit"):
			i += 3
		case cmdArgIs(a, "store"):
			return idemIf(f, i+1 < len(args) && !sameKeyArg(args[1], args[i+1]))
		default:
			i++
		}
	}
	return f | flagIdempotent
}

// refineGeoRadius returns the rule for GEORADIUS (options from args[6]) and
// GEORADIUSBYMEMBER (from args[5]): idempotent unless STORE or STOREDIST
// names the source key.
func refineGeoRadius(from int) func(*CommandTable, []interface{}, flagSet) flagSet {
	return func(_ *CommandTable, args []interface{}, f flagSet) flagSet {
		for i := from; i < len(args); {
			switch a := args[i]; {
			case cmdArgIs(a, "count"):
				i += 2
			case cmdArgIsAny(a, "store", "storedist"):
				if i+1 >= len(args) || sameKeyArg(args[1], args[i+1]) {
					return f &^ flagIdempotent
				}
				i += 2
			default:
				i++
			}
		}
		return f | flagIdempotent
	}
}

// refineEval: EVAL/FCALL are idempotent when their script body or function
// name (args[1]) was marked idempotent (NewCommandTable).
func refineEval(t *CommandTable, args []interface{}, f flagSet) flagSet {
	if len(args) < 2 || t.scripts == nil {
		return f
	}
	var ok bool
	switch v := args[1].(type) {
	case string:
		_, ok = t.scripts[v]
	case []byte:
		_, ok = t.scripts[string(v)]
	case *string:
		if v != nil {
			_, ok = t.scripts[*v]
		}
	}
	return idemIf(f, ok)
}

// refineEvalSha: EVALSHA is idempotent when its SHA1 was marked (directly
// or through the script body).
func refineEvalSha(t *CommandTable, args []interface{}, f flagSet) flagSet {
	if len(args) < 2 || t.shas == nil {
		return f
	}
	_, ok := lookupLower(t.shas, args[1])
	return idemIf(f, ok)
}
