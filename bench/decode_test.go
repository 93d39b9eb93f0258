package bench

import (
	"encoding/json"
)

// decodeVisit decodes one visit record, {"resource": "...", "referrer":
// "..."}, and reports whether it holds both fields as non-empty strings.
//
// The pipeline benchmark decodes a million records a second on two cores,
// which encoding/json's reflection and two string allocations a record
// cannot keep up with. So the common case, a flat object of plain ASCII
// strings with exactly these field names, is scanned here, and the field
// values are interned (a map lookup keyed by the bytes does not allocate).
// Anything else (escapes, non-ASCII, other fields or spellings, numbers,
// nesting, errors) goes to json.Unmarshal, so the result is always what
// encoding/json would decode.
func decodeVisit(data []byte, in *interner) (resource, referrer string, ok bool) {
	res, ref, fast := scanVisit(data)
	if !fast {
		var v struct {
			Resource string `json:"resource"`
			Referrer string `json:"referrer"`
		}
		if err := json.Unmarshal(data, &v); err != nil {
			return "", "", false
		}
		return v.Resource, v.Referrer, v.Resource != "" && v.Referrer != ""
	}
	if res == nil || ref == nil || len(res) == 0 || len(ref) == 0 {
		return "", "", false
	}
	return in.string(res), in.string(ref), true
}

// scanVisit is decodeVisit's fast path. fast is false when the record needs
// the full decoder; then res and ref mean nothing. A field that is absent is
// nil.
func scanVisit(d []byte) (res, ref []byte, fast bool) {
	i := skipSpace(d, 0)
	if i >= len(d) || d[i] != '{' {
		return nil, nil, false
	}
	i = skipSpace(d, i+1)
	if i < len(d) && d[i] == '}' {
		return nil, nil, skipSpace(d, i+1) == len(d)
	}
	for {
		key, j, ok := plainString(d, i)
		if !ok {
			return nil, nil, false
		}
		j = skipSpace(d, j)
		if j >= len(d) || d[j] != ':' {
			return nil, nil, false
		}
		val, k, ok := plainString(d, skipSpace(d, j+1))
		if !ok {
			return nil, nil, false
		}
		switch string(key) {
		case "resource":
			res = val
		case "referrer":
			ref = val
		default:
			return nil, nil, false
		}
		k = skipSpace(d, k)
		if k >= len(d) {
			return nil, nil, false
		}
		switch d[k] {
		case ',':
			i = skipSpace(d, k+1)
		case '}':
			return res, ref, skipSpace(d, k+1) == len(d)
		default:
			return nil, nil, false
		}
	}
}

// plainString reads a JSON string at d[i] made of printable ASCII with no
// escapes, and returns its contents (never nil) and the index after it.
func plainString(d []byte, i int) (s []byte, next int, ok bool) {
	if i >= len(d) || d[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(d); j++ {
		switch c := d[j]; {
		case c == '"':
			return d[i+1 : j : j], j + 1, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, 0, false
		}
	}
	return nil, 0, false
}

func skipSpace(d []byte, i int) int {
	for i < len(d) && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r') {
		i++
	}
	return i
}

// interner hands out one string per distinct value, so that a record's
// fields cost no allocation once seen. It holds at most maxInterned values,
// so a stream of distinct garbage cannot grow it without bound.
type interner struct{ m map[string]string }

const maxInterned = 4096

func (in *interner) string(b []byte) string {
	if s, ok := in.m[string(b)]; ok {
		return s
	}
	s := string(b)
	if in.m == nil {
		in.m = make(map[string]string)
	}
	if len(in.m) < maxInterned {
		in.m[s] = s
	}
	return s
}
