package main

import (
	"sort"
	"strings"
	"unicode"
)

// Summary is the result of summarize: the chosen sentences, in the order
// they appear in the text.
type Summary struct {
	Text      string // the chosen sentences joined by a space
	Sentences int    // sentences found in the text
	Chosen    int    // sentences kept
}

// summarize is a small deterministic extractive summary: split the text
// into sentences, score each by the average document frequency of its
// content words (words that are not stop words), keep the best max (ties go
// to the earlier sentence) and return them in text order. The same text
// always gives the same summary, which is what lets the demo check every
// result.
func summarize(text string, max int) Summary {
	sents := splitSentences(text)
	if len(sents) == 0 {
		return Summary{}
	}
	if max <= 0 {
		max = 1
	}
	words := make([][]string, len(sents))
	freq := map[string]int{}
	for i, s := range sents {
		words[i] = contentWords(s)
		for _, w := range words[i] {
			freq[w]++
		}
	}
	type scored struct{ idx, score int }
	sc := make([]scored, len(sents))
	for i, ws := range words {
		total := 0
		for _, w := range ws {
			total += freq[w]
		}
		score := 0
		if len(ws) > 0 {
			score = total * 1000 / len(ws)
		}
		sc[i] = scored{i, score}
	}
	sort.SliceStable(sc, func(a, b int) bool {
		if sc[a].score != sc[b].score {
			return sc[a].score > sc[b].score
		}
		return sc[a].idx < sc[b].idx
	})
	if max > len(sc) {
		max = len(sc)
	}
	keep := sc[:max]
	sort.Slice(keep, func(a, b int) bool { return keep[a].idx < keep[b].idx })
	out := make([]string, len(keep))
	for i, k := range keep {
		out[i] = sents[k.idx]
	}
	return Summary{Text: strings.Join(out, " "), Sentences: len(sents), Chosen: len(keep)}
}

// splitSentences cuts text after '.', '!' or '?' followed by white space or
// the end, and trims each sentence.
func splitSentences(text string) []string {
	var out []string
	rs := []rune(text)
	start := 0
	for i, r := range rs {
		if r != '.' && r != '!' && r != '?' {
			continue
		}
		if i+1 < len(rs) && !unicode.IsSpace(rs[i+1]) {
			continue
		}
		if s := strings.TrimSpace(string(rs[start : i+1])); s != "" {
			out = append(out, s)
		}
		start = i + 1
	}
	if s := strings.TrimSpace(string(rs[start:])); s != "" {
		out = append(out, s)
	}
	return out
}

// contentWords returns the lower-cased words of s that are not stop words.
func contentWords(s string) []string {
	fields := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	out := fields[:0]
	for _, f := range fields {
		if !stopWords[f] && len(f) > 1 {
			out = append(out, f)
		}
	}
	return out
}

var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an and are as at be but by for from has have he her his
		in into is it its of on or our she that the their them they this to was we were what
		when which while who will with you your not no so if than then there these those can
		all any each one also been more most such only other some very just over out up down`) {
		m[w] = true
	}
	return m
}()
