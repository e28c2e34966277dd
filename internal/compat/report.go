package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// intendedHeading starts the section of the docs that lists the
// guarded-only failures that are intended; a name anywhere else in the
// document (for example under known defects) does not count.
const intendedHeading = "## Intended behaviour changes"

type report struct {
	version, redisVer string
	rewrite           rewriteStats
	tests             int
	bare, guarded     *runResults
	guardLog          string
	docsPath, docs    string
}

type counts struct{ run, failed, skipped int }

// countResults counts the specs (without the suite-level nodes) or the
// top-level Go tests.
func countResults(m map[string]result, tests bool) counts {
	var c counts
	for name, r := range m {
		if (tests && strings.Contains(name, "/")) || (!tests && strings.HasPrefix(name, suiteNodePrefix)) {
			continue
		}
		switch r.Outcome {
		case passed:
			c.run++
		case failed:
			c.run++
			c.failed++
		case skipped:
			c.skipped++
		}
	}
	return c
}

// failedLeaves are the failed entries of m without the Go tests whose
// failure is only that of a failed subtest.
func failedLeaves(m map[string]result) map[string]bool {
	out := map[string]bool{}
	for name, r := range m {
		if r.Outcome == failed {
			out[name] = true
		}
	}
	for name := range out {
		for i := strings.LastIndexByte(name, '/'); i > 0; i = strings.LastIndexByte(name[:i], '/') {
			delete(out, name[:i])
		}
	}
	return out
}

// only lists the names failed in a and not failed in b.
func only(a, b map[string]result) []string {
	fa, fb := failedLeaves(a), failedLeaves(b)
	var out []string
	for n := range fa {
		if !fb[n] && b[n].Outcome != failed {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// intendedSection is the part of the docs under intendedHeading.
func (rp *report) intendedSection() string {
	i := strings.Index(rp.docs, intendedHeading)
	if i < 0 {
		return ""
	}
	s := rp.docs[i+len(intendedHeading):]
	if j := strings.Index(s, "\n## "); j >= 0 {
		s = s[:j]
	}
	return s
}

// print writes the report and returns how many guarded-only failures the
// docs do not list as intended.
func (rp *report) print(w io.Writer) int {
	fmt.Fprintf(w, "\n== go-redis %s test suite: bare vs profiles.Apply(c, profiles.API()) on every client (redis-server %s, REDIS_VERSION=%s)\n",
		rp.version, rp.redisVer, rp.redisVer)
	var calls int
	for _, n := range rp.rewrite.Calls {
		calls += n
	}
	fmt.Fprintf(w, "rewrite: %d constructor calls wrapped in %d external test files (%s)\n", calls, rp.rewrite.Files, summarizeCalls(rp.rewrite.Calls))
	fmt.Fprintf(w, "         %d internal test files (package redis) cannot import redisguard: their tests run bare both ways\n", len(rp.rewrite.Internal))
	if len(rp.rewrite.FuncValue) > 0 {
		fmt.Fprintf(w, "         %d constructors passed as values, not wrapped (their clients are bare):\n", len(rp.rewrite.FuncValue))
		for _, v := range rp.rewrite.FuncValue {
			fmt.Fprintf(w, "           %s\n", v)
		}
	}

	rp.printTable(w)
	rp.printGuard(w)

	if rp.bare == nil || rp.guarded == nil {
		return 0
	}
	return rp.printDifferences(w)
}

// printTable writes the counts of specs and Go tests, bare and guarded,
// and what ended a run early.
func (rp *report) printTable(w io.Writer) {
	get := func(r *runResults, specs bool) counts {
		if r == nil {
			return counts{-1, -1, -1}
		}
		if specs {
			return countResults(r.Specs, false)
		}
		return countResults(r.Tests, true)
	}
	cell := func(n int) string {
		if n < 0 {
			return "-"
		}
		return fmt.Sprint(n)
	}
	bs, gs := get(rp.bare, true), get(rp.guarded, true)
	bt, gt := get(rp.bare, false), get(rp.guarded, false)
	fmt.Fprintf(w, "\n%-28s %8s %8s\n", "", "bare", "guarded")
	fmt.Fprintf(w, "%-28s %8s %8s\n", "ginkgo specs run", cell(bs.run), cell(gs.run))
	fmt.Fprintf(w, "%-28s %8s %8s\n", "  failed", cell(bs.failed), cell(gs.failed))
	fmt.Fprintf(w, "%-28s %8s %8s\n", "  skipped or pending", cell(bs.skipped), cell(gs.skipped))
	fmt.Fprintf(w, "%-28s %8s %8s\n", "Go tests run (top level)", cell(bt.run), cell(gt.run))
	fmt.Fprintf(w, "%-28s %8s %8s\n", "  failed", cell(bt.failed), cell(gt.failed))
	fmt.Fprintf(w, "%-28s %8s %8s\n", "  skipped", cell(bt.skipped), cell(gt.skipped))
	for _, r := range []struct {
		name string
		res  *runResults
	}{{"bare", rp.bare}, {"guarded", rp.guarded}} {
		if r.res == nil {
			continue
		}
		if r.res.SuiteError != "" {
			fmt.Fprintf(w, "%s: ginkgo suite: %s\n", r.name, r.res.SuiteError)
		}
		if len(r.res.Crashed) > 0 {
			fmt.Fprintf(w, "%s: Go tests that ended the test binary (counted as failed): %s\n", r.name, strings.Join(r.res.Crashed, ", "))
		}
	}
}

// printDifferences lists the failures of one mode only, marks each
// guarded-only failure intended or not by the docs, and returns how many
// are not.
func (rp *report) printDifferences(w io.Writer) int {
	intended := rp.intendedSection()
	undocumented := 0
	section := func(title string, a, b *runResults, check bool) {
		specs, tests := only(a.Specs, b.Specs), only(a.Tests, b.Tests)
		fmt.Fprintf(w, "\n%s: %d (%d specs, %d Go tests)\n", title, len(specs)+len(tests), len(specs), len(tests))
		entry := func(kind, name string, r result) {
			mark := ""
			if check {
				if rp.docs != "" && strings.Contains(intended, name) {
					mark = "[intended, " + rp.docsPath + "] "
				} else {
					mark = "[NOT LISTED in " + rp.docsPath + "] "
					undocumented++
				}
			}
			fmt.Fprintf(w, "  %s%s %s\n      %s\n", mark, kind, name, r.Detail)
		}
		for _, n := range specs {
			entry("spec", n, a.Specs[n])
		}
		for _, n := range tests {
			entry("test", n, a.Tests[n])
		}
	}
	section("failed only with the hooks", rp.guarded, rp.bare, true)
	section("failed only bare", rp.bare, rp.guarded, false)
	if undocumented > 0 {
		fmt.Fprintf(w, "\n%d guarded-only failures are not listed as intended in %s: each is a defect of the hooks or needs its reason written there\n", undocumented, rp.docsPath)
	}
	return undocumented
}

// printGuard summarizes the guard's log: the clients it guarded and the
// ones profiles.Apply refused (left bare).
func (rp *report) printGuard(w io.Writer) {
	f, err := os.Open(rp.guardLog)
	if err != nil {
		if rp.guarded != nil {
			fmt.Fprintf(w, "guard: no log (%v)\n", err)
		}
		return
	}
	defer func() { _ = f.Close() }()
	applied := map[string]int{}
	refused := map[string][]string{}
	nApplied, nRefused := 0, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.SplitN(sc.Text(), " ", 3)
		if len(fields) < 3 {
			continue
		}
		switch fields[0] {
		case "applied":
			applied[fields[1]]++
			nApplied++
		case "refused":
			site, msg, _ := strings.Cut(fields[2], ": ")
			key := fields[1] + ": " + msg
			refused[key] = append(refused[key], baseName(site))
			nRefused++
		}
	}
	var parts []string
	for _, k := range sortedKeys(applied) {
		parts = append(parts, fmt.Sprintf("%s %d", k, applied[k]))
	}
	fmt.Fprintf(w, "\nguard: %d clients guarded (%s); %d refused by profiles.Apply and left bare\n", nApplied, strings.Join(parts, ", "), nRefused)
	for _, k := range sortedKeys(refused) {
		sites := refused[k]
		more := ""
		if len(sites) > 5 {
			more = fmt.Sprintf(" and %d more", len(sites)-5)
			sites = sites[:5]
		}
		fmt.Fprintf(w, "  refused %dx %s\n      at %s%s\n", len(refused[k]), k, strings.Join(sites, ", "), more)
	}
}
