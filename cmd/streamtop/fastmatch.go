package main

import (
	"bytes"
	"regexp/syntax"
)

// fastMatch finds what a regular expression of one common shape finds,
// without running the regexp engine: an ASCII literal prefix (or the start of
// the text), then one capture group of one or more bytes of a class, then an
// optional ASCII literal that starts outside the class, as in '^(\S+) ' or
// '"GET (\S+)' for access logs. Go's regexp spends about 200 ns a line on
// those, most of it setting up its backtracker; this is a literal search and
// a loop.
//
// It gives exactly the regexp's match, because of the shape: the class takes
// every byte from 0x80 up (so bytes and runes agree on what is in it, invalid
// UTF-8 included), the group is greedy and the suffix starts with a byte the
// class does not take, so the group is always the longest run after the
// prefix; and the leftmost match is at the first prefix occurrence that works.
// FuzzFastMatch checks it against the regexp package.
//
// A fastMatch is read-only after compileFast, so safe for concurrent use.
type fastMatch struct {
	anchored bool // the pattern starts with ^ (beginning of text)
	prefix   []byte
	class    [128]bool // ASCII bytes in the class; every byte >= 0x80 is
	suffix   []byte
}

// compileFast returns a fastMatch for pattern, or nil when the pattern is not
// of its shape (the regexp engine then does the work).
func compileFast(pattern string) *fastMatch {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil
	}
	re = re.Simplify()
	if re.Op != syntax.OpConcat {
		return nil
	}
	subs := re.Sub
	m := &fastMatch{}
	if len(subs) > 0 && subs[0].Op == syntax.OpBeginText {
		m.anchored, subs = true, subs[1:]
	}
	if len(subs) > 0 && subs[0].Op == syntax.OpLiteral {
		var ok bool
		if m.prefix, ok = asciiLiteral(subs[0]); !ok {
			return nil
		}
		subs = subs[1:]
	}
	if !m.anchored && len(m.prefix) == 0 {
		return nil
	}
	if len(subs) == 0 || subs[0].Op != syntax.OpCapture || subs[0].Cap != 1 {
		return nil
	}
	plus := subs[0].Sub[0]
	if plus.Op != syntax.OpPlus || plus.Flags&syntax.NonGreedy != 0 || plus.Sub[0].Op != syntax.OpCharClass {
		return nil
	}
	ranges := plus.Sub[0].Rune
	covers := false // the class holds every rune from 0x80 up
	for i := 0; i+1 < len(ranges); i += 2 {
		lo, hi := ranges[i], ranges[i+1]
		for c := max(lo, 0); c <= min(hi, 127); c++ {
			m.class[c] = true
		}
		if lo <= 0x80 && hi >= 0x10FFFF {
			covers = true
		}
	}
	if !covers {
		return nil
	}
	subs = subs[1:]
	if len(subs) == 1 && subs[0].Op == syntax.OpLiteral {
		var ok bool
		if m.suffix, ok = asciiLiteral(subs[0]); !ok || m.class[m.suffix[0]] {
			return nil
		}
		subs = subs[1:]
	}
	if len(subs) != 0 {
		return nil
	}
	return m
}

func asciiLiteral(re *syntax.Regexp) ([]byte, bool) {
	if re.Flags&syntax.FoldCase != 0 || len(re.Rune) == 0 {
		return nil, false
	}
	b := make([]byte, len(re.Rune))
	for i, r := range re.Rune {
		if r >= 0x80 {
			return nil, false
		}
		b[i] = byte(r)
	}
	return b, true
}

// find sets loc as regexp.FindSubmatchIndex would for a one-group pattern,
// and reports whether it matched.
func (m *fastMatch) find(b []byte, loc *[4]int) bool {
	for start := 0; ; {
		i := 0
		if m.anchored {
			if !bytes.HasPrefix(b, m.prefix) {
				return false
			}
		} else {
			k := bytes.Index(b[start:], m.prefix)
			if k < 0 {
				return false
			}
			i = start + k
		}
		j := i + len(m.prefix)
		e := j
		for e < len(b) && (b[e] >= 0x80 || m.class[b[e]]) {
			e++
		}
		if e > j && bytes.HasPrefix(b[e:], m.suffix) {
			*loc = [4]int{i, e + len(m.suffix), j, e}
			return true
		}
		if m.anchored {
			return false
		}
		start = i + 1
	}
}
