package main

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// The exact form the producer writes. Records in it are split without
// encoding/json, which would allocate two strings per record; anything else
// goes through encoding/json, so the result never depends on which path ran.
const (
	visitPrefix = `{"resource":"`
	visitMid    = `","referrer":"`
	visitSuffix = `"}`
)

// maxNames bounds the strings a names table keeps; past it, names are
// allocated per record instead of shared.
const maxNames = 10_000

// names interns the resource and referrer strings of decoded records, so
// that counting a known name allocates nothing. The zero value is ready; a
// names table is used by one goroutine at a time. Memory is bounded by
// maxNames strings.
type names map[string]string

func (n *names) get(b []byte) string {
	if s, ok := (*n)[string(b)]; ok { // no allocation for the lookup
		return s
	}
	s := string(b)
	if *n == nil {
		*n = names{}
	}
	if len(*n) < maxNames {
		(*n)[s] = s
	}
	return s
}

// decodeVisit returns a record's resource and referrer, and false if the
// record is not a visit: not JSON, not an object, or missing either field.
//
// It accepts exactly what encoding/json decodes into a visit with both
// fields non-empty, and returns the same strings, leniencies included: keys
// match without regard to case, the last of repeated keys wins, unknown keys
// are ignored, and invalid UTF-8 becomes U+FFFD. The fast path only takes
// records whose reading cannot differ. FuzzDecodeVisit holds it to that. It
// never modifies data, and the strings it returns do not share its memory.
func (n *names) decodeVisit(data []byte) (resource, referrer string, ok bool) {
	if res, ref, fast := splitVisit(data); fast {
		if len(res) == 0 || len(ref) == 0 {
			return "", "", false
		}
		return n.get(res), n.get(ref), true
	}
	var v visit
	if err := json.Unmarshal(data, &v); err != nil || v.Resource == "" || v.Referrer == "" {
		return "", "", false
	}
	return v.Resource, v.Referrer, true
}

// splitVisit recognizes the producer's exact form with plain strings: no
// escapes, no quotes, no control characters, valid UTF-8. Only then are the
// raw bytes the decoded strings.
func splitVisit(b []byte) (res, ref []byte, ok bool) {
	if !bytes.HasPrefix(b, []byte(visitPrefix)) || !bytes.HasSuffix(b, []byte(visitSuffix)) ||
		len(b) < len(visitPrefix)+len(visitSuffix) {
		return nil, nil, false
	}
	body := b[len(visitPrefix) : len(b)-len(visitSuffix)]
	i := bytes.Index(body, []byte(visitMid))
	if i < 0 {
		return nil, nil, false
	}
	res, ref = body[:i], body[i+len(visitMid):]
	if !plain(res) || !plain(ref) {
		return nil, nil, false
	}
	return res, ref, true
}

func plain(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c == '"' || c == '\\' {
			return false
		}
	}
	return utf8.Valid(b)
}
