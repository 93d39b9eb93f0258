package dynamosink

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/streamtop/streamtop/topk"
)

// A partial's counts are JSON text: an array of {"k": key, "c": count,
// "e": err}, in order, with "e" left out when 0. encodePartialCounts writes
// it with encoding/json; decodePartialCounts reads it with a parser of its
// own, because a query of 120 window ends of 8 partials reads 960 of them:
// encoding/json took 7-9 µs and 22 allocations for 10 referrers, this
// parser 1.1-1.7 µs and one (BenchmarkDecodePartialCounts). It reads what
// encoding/json reads (FuzzPartialCounts holds it to that), for this shape
// only: no other members, no nulls, integers only.

// partialEntry is one entry as encoding/json writes it.
type partialEntry struct {
	Key   string `json:"k"`
	Count int64  `json:"c"`
	Err   int64  `json:"e,omitempty"`
}

func encodePartialCounts(counts []topk.Entry[string]) (string, error) {
	entries := make([]partialEntry, len(counts))
	for i, e := range counts {
		entries[i] = partialEntry{Key: e.Key, Count: e.Count, Err: e.Err}
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // URLs stay readable with the AWS CLI
	if err := enc.Encode(entries); err != nil {
		return "", fmt.Errorf("encode counts: %w", err)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

func decodePartialCounts(text string) ([]topk.Entry[string], error) {
	p := countsParser{s: text}
	counts, err := p.entries()
	if err != nil {
		return nil, fmt.Errorf("at byte %d: %w", p.i, err)
	}
	return counts, nil
}

// countsParser reads s from byte i on.
type countsParser struct {
	s string
	i int
}

var errSyntax = errors.New("not an array of counts")

func (p *countsParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

// take skips white space and c, reporting whether c was there.
func (p *countsParser) take(c byte) bool {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *countsParser) entries() ([]topk.Entry[string], error) {
	if !p.take('[') {
		return nil, errSyntax
	}
	counts := make([]topk.Entry[string], 0, strings.Count(p.s, "{"))
	if !p.take(']') {
		for {
			e, err := p.entry()
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", len(counts), err)
			}
			counts = append(counts, e)
			if p.take(']') {
				break
			}
			if !p.take(',') {
				return nil, errSyntax
			}
		}
	}
	if p.space(); p.i != len(p.s) {
		return nil, errors.New("text after the counts")
	}
	return counts, nil
}

func (p *countsParser) entry() (topk.Entry[string], error) {
	var e topk.Entry[string]
	if !p.take('{') {
		return e, errors.New("not an object")
	}
	if p.take('}') {
		return e, errors.New("no key")
	}
	hasKey := false
	for {
		p.space()
		name, err := p.str()
		if err != nil {
			return e, err
		}
		if !p.take(':') {
			return e, errSyntax
		}
		p.space()
		switch name {
		case "k":
			e.Key, err = p.str()
			hasKey = true
		case "c":
			e.Count, err = p.int()
		case "e":
			e.Err, err = p.int()
		default:
			err = fmt.Errorf("unknown member %q", name)
		}
		if err != nil {
			return e, err
		}
		if p.take('}') {
			break
		}
		if !p.take(',') {
			return e, errSyntax
		}
	}
	if !hasKey {
		return e, errors.New("no key")
	}
	return e, nil
}

// str reads a JSON string. One without escapes (every key this package
// writes, but for quotes, backslashes and control characters) is a slice
// of the text; the others are left to encoding/json.
func (p *countsParser) str() (string, error) {
	if p.i >= len(p.s) || p.s[p.i] != '"' {
		return "", errors.New("not a string")
	}
	start := p.i
	escaped, ascii := false, true
	for p.i++; p.i < len(p.s); p.i++ {
		switch c := p.s[p.i]; {
		case c == '"':
			p.i++
			raw := p.s[start+1 : p.i-1]
			if !escaped && (ascii || utf8.ValidString(raw)) {
				return raw, nil
			}
			var v string
			if err := json.Unmarshal([]byte(p.s[start:p.i]), &v); err != nil {
				return "", err
			}
			return v, nil
		case c == '\\':
			escaped = true
			p.i++ // the escaped character cannot end the string
		case c < 0x20:
			return "", errors.New("control character in a string")
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", errors.New("unterminated string")
}

// int reads a JSON number that is an integer in int64's range.
func (p *countsParser) int() (int64, error) {
	start := p.i
	if p.i < len(p.s) && p.s[p.i] == '-' {
		p.i++
	}
	digits := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	switch {
	case p.i == digits:
		return 0, errors.New("not a number")
	case p.s[digits] == '0' && p.i-digits > 1:
		return 0, errors.New("number with a leading zero")
	case p.i < len(p.s) && (p.s[p.i] == '.' || p.s[p.i] == 'e' || p.s[p.i] == 'E'):
		return 0, errors.New("not an integer")
	}
	return strconv.ParseInt(p.s[start:p.i], 10, 64)
}
