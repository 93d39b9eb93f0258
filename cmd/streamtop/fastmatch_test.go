package main

import (
	"regexp"
	"slices"
	"testing"
)

// Patterns of fastMatch's shape, and some just outside it.
var fastPatterns = []struct {
	pattern string
	fast    bool
}{
	{`^(\S+) `, true},
	{`^(\S+)`, true},
	{`"GET (\S+)`, true},
	{`"GET (\S+) HTTP`, true},
	{`ip=([^ &]+)&`, true},
	{`host: ([^\r]+)`, true},
	{`"(\S+)"`, false},       // the suffix starts inside the class
	{`(\S+) `, false},        // unanchored with no prefix
	{`^(\S+?) `, false},      // not greedy
	{`(?i)get (\S+)`, false}, // case folded
	{`^(\w+) `, false},       // the class leaves out bytes >= 0x80
	{`^(\S+) (\S+)`, false},  // two groups
	{`^(\S+) .*$`, false},    // more after the suffix
	{`^(.+) `, false},        // not a character class
	{`(?m)^(\S+) `, false},   // start of line, not of text
	{`é(\S+)`, false},        // a literal beyond ASCII
}

func TestCompileFast(t *testing.T) {
	for _, p := range fastPatterns {
		if got := compileFast(p.pattern) != nil; got != p.fast {
			t.Errorf("compileFast(%q) != nil is %v, want %v", p.pattern, got, p.fast)
		}
	}
}

// FuzzFastMatch checks fastMatch against the regexp package on any bytes.
func FuzzFastMatch(f *testing.F) {
	for _, s := range []string{
		`10.0.0.7 - - [06/Dec/2026:00:00:00 +0000] "GET /cart HTTP/1.1" 200 5123`,
		`"GET  "GET /x`, "\xff\xfe \"GET \xc3\xa9/\x80 ", "ip=&ip=a&", "host: h\r\n", "", " ", `"GET `,
	} {
		f.Add([]byte(s))
	}
	type pair struct {
		fast *fastMatch
		re   *regexp.Regexp
	}
	var pairs []pair
	for _, p := range fastPatterns {
		if m := compileFast(p.pattern); m != nil {
			pairs = append(pairs, pair{m, regexp.MustCompile(p.pattern)})
		}
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		for _, p := range pairs {
			want := p.re.FindSubmatchIndex(line)
			var loc [4]int
			ok := p.fast.find(line, &loc)
			if ok != (want != nil) || ok && !slices.Equal(loc[:], want) {
				t.Errorf("%q on %q: fast %v %v, regexp %v", p.re, line, ok, loc, want)
			}
		}
	})
}
