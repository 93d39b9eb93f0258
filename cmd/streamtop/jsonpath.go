package main

import (
	"errors"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A jsonPath names a value inside a JSON object, one object key per segment:
// "request.headers.host" is {"request":{"headers":{"host":...}}}.
type jsonPath []string

func parseJSONPath(s string) (jsonPath, error) {
	if s == "" {
		return nil, errors.New("empty path")
	}
	p := jsonPath(strings.Split(s, "."))
	for _, seg := range p {
		if seg == "" {
			return nil, errors.New("empty segment in path " + s)
		}
	}
	return p, nil
}

var (
	errNotJSON  = errors.New("not a JSON object")
	errNoField  = errors.New("field missing")
	errBadValue = errors.New("unusable value")
)

// lookup finds the value at p in the JSON object data without decoding
// anything else: it walks the bytes once, skipping the values it passes, and
// stops at the first key that matches (a later duplicate key is not seen).
// A string value comes back unquoted, in scratch when it had escapes to undo,
// else as a sub-slice of data; any other scalar comes back as its text.
// It checks only the bytes it walks: a line broken after the value it wants
// still gives that value. Nothing allocates unless scratch must grow.
//
// null and object or array values are errBadValue: none makes a key, a time
// or a weight.
func (p jsonPath) lookup(data, scratch []byte) (val []byte, quoted bool, _ []byte, err error) {
	i := skipSpace(data, 0)
	for depth := 0; ; depth++ {
		if i >= len(data) || data[i] != '{' {
			if depth == 0 {
				return nil, false, scratch, errNotJSON
			}
			return nil, false, scratch, errNoField // an intermediate is not an object
		}
		i++
		found := false
		for !found {
			i = skipSpace(data, i)
			if i < len(data) && data[i] == '}' {
				return nil, false, scratch, errNoField
			}
			if i >= len(data) || data[i] != '"' {
				return nil, false, scratch, errNotJSON
			}
			end, esc := scanString(data, i)
			if end < 0 {
				return nil, false, scratch, errNotJSON
			}
			key := data[i+1 : end-1]
			match := false
			if esc {
				var k []byte
				k, scratch = unescape(key, scratch[:0])
				match = string(k) == p[depth]
			} else {
				match = string(key) == p[depth]
			}
			i = skipSpace(data, end)
			if i >= len(data) || data[i] != ':' {
				return nil, false, scratch, errNotJSON
			}
			i = skipSpace(data, i+1)
			if match {
				found = true
				break
			}
			if i = skipValue(data, i); i < 0 {
				return nil, false, scratch, errNotJSON
			}
			i = skipSpace(data, i)
			if i < len(data) && data[i] == ',' {
				i++
				continue
			}
			if i < len(data) && data[i] == '}' {
				return nil, false, scratch, errNoField
			}
			return nil, false, scratch, errNotJSON
		}
		if depth < len(p)-1 {
			continue // descend into the value at i
		}
		if i >= len(data) {
			return nil, false, scratch, errNotJSON
		}
		switch c := data[i]; {
		case c == '"':
			end, esc := scanString(data, i)
			if end < 0 {
				return nil, false, scratch, errNotJSON
			}
			if !esc {
				return data[i+1 : end-1], true, scratch, nil
			}
			val, scratch = unescape(data[i+1:end-1], scratch[:0])
			return val, true, scratch, nil
		case c == '{' || c == '[':
			return nil, false, scratch, errBadValue
		default:
			end := skipValue(data, i)
			if end < 0 {
				return nil, false, scratch, errNotJSON
			}
			if v := data[i:end]; string(v) != "null" {
				return v, false, scratch, nil
			}
			return nil, false, scratch, errBadValue
		}
	}
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanString returns the index just past the string starting at data[i]
// (a '"'), and whether it holds escapes; -1 if it does not end.
func scanString(data []byte, i int) (end int, esc bool) {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '"':
			return j + 1, esc
		case '\\':
			esc = true
			j++
		}
	}
	return -1, esc
}

// skipValue returns the index just past the value starting at data[i], or -1
// if it is cut short or not a value. Scalars are taken as the run of bytes up
// to the next delimiter, without checking their grammar.
func skipValue(data []byte, i int) int {
	if i >= len(data) {
		return -1
	}
	switch data[i] {
	case '"':
		end, _ := scanString(data, i)
		return end
	case '{', '[':
		depth := 0
		for ; i < len(data); i++ {
			switch data[i] {
			case '"':
				end, _ := scanString(data, i)
				if end < 0 {
					return -1
				}
				i = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	case ',', '}', ']', ':':
		return -1
	}
	j := i
	for j < len(data) {
		switch data[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r', ':', '"', '{', '[':
			return j
		}
		j++
	}
	return j
}

// unescape appends the JSON string body s with its escapes undone to dst.
// A malformed escape is kept as written, and a lone surrogate becomes U+FFFD,
// as encoding/json decodes it.
func unescape(s, dst []byte) ([]byte, []byte) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			dst = append(dst, c)
			continue
		}
		i++
		switch s[i] {
		case '"', '\\', '/':
			dst = append(dst, s[i])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(s, i+1)
			if !ok {
				dst = append(dst, '\\', 'u')
				continue
			}
			i += 4
			if utf16.IsSurrogate(r) {
				if i+2 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
					if r2, ok := hex4(s, i+3); ok {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							dst = utf8.AppendRune(dst, d)
							i += 6
							continue
						}
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
		default:
			dst = append(dst, '\\', s[i])
		}
	}
	return dst, dst
}

func hex4(s []byte, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range s[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
