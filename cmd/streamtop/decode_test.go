package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var t0 = time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC) // date-proof: arrival time handed to the decoder and sources

func mustDecoder(t testing.TB, args ...string) decoder {
	t.Helper()
	c, err := parseFlags(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.decoder()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDecodeField(t *testing.T) {
	for _, tc := range []struct {
		path, line string
		want       string
		err        error
	}{
		{"ip", `{"ip":"10.0.0.1"}`, "10.0.0.1", nil},
		{"ip", ` { "a" : [1, {"ip":"no"}, "x]"] , "ip" : "yes" } `, "yes", nil},
		{"ip", `{"ip":"first","ip":"second"}`, "first", nil},
		{"status", `{"status":200}`, "200", nil},
		{"ok", `{"ok":true}`, "true", nil},
		{"n", `{"n":-1.5e3,"x":1}`, "-1.5e3", nil},
		{"ip", `{"ip":"a\"b\\c\u00e9\ud83d\ude00"}`, "a\"b\\cé😀", nil},
		{"ip", `{"ip":"lone \ud800 surrogate"}`, "lone \uFFFD surrogate", nil},
		{"k\"ey", `{"k\"ey":"escaped key"}`, "escaped key", nil},
		{"request.headers.host", `{"request":{"method":"GET","headers":{"host":"h.example"}}}`, "h.example", nil},
		{"request.headers.host", `{"request":{"headers":"flat"}}`, "", errNoField},
		{"request.headers.host", `{"request":{"headers":{}}}`, "", errNoField},
		{"ip", `{"other":"x"}`, "", errNoField},
		{"ip", `{}`, "", errNoField},
		{"ip", `{"ip":null}`, "", errBadValue},
		{"ip", `{"ip":{"v":4}}`, "", errBadValue},
		{"ip", `{"ip":[1]}`, "", errBadValue},
		{"ip", `not json`, "", errNotJSON},
		{"ip", `["ip"]`, "", errNotJSON},
		{"ip", ``, "", errNotJSON},
		{"ip", `{"ip":"unterminated`, "", errNotJSON},
		{"ip", `{"a":"x" "ip":"y"}`, "", errNotJSON},
		{"ip", `{"ip":"found"} trailing garbage`, "found", nil},
	} {
		d := mustDecoder(t, "-field", tc.path)
		var out decoded
		err := d.decode(rec{Data: []byte(tc.line), Arrival: t0}, &out)
		if !errors.Is(err, tc.err) || err == nil && string(out.key) != tc.want {
			t.Errorf("-field %s on %s = %q, %v; want %q, %v", tc.path, tc.line, out.key, err, tc.want, tc.err)
		}
	}
}

func TestDecodeMatch(t *testing.T) {
	const line = `10.0.0.7 - - [06/Dec/2026:00:00:00 +0000] "GET /cart HTTP/1.1" 200 5123 "-" "curl"`
	for _, tc := range []struct {
		args       []string
		line       string
		key, group string
		weight     int64
		err        error
	}{
		{[]string{"-match", `"GET (\S+)`}, line, "/cart", "", 1, nil},
		{[]string{"-match", `^(\S+)`}, line, "10.0.0.7", "", 1, nil},
		{[]string{"-match", `^(?P<ip>\S+) .*" (?P<status>\d+) (?P<bytes>\d+)`, "-group-field", "status", "-weight", "bytes"}, line, "10.0.0.7", "200", 5123, nil},
		{[]string{"-match", `^(\S+) .*" (\d+) (\d+)`, "-group-field", "2", "-weight", "3"}, line, "10.0.0.7", "200", 5123, nil},
		{[]string{"-match", `"POST (\S+)`}, line, "", "", 0, errNoMatch},
		{[]string{"-match", `(a)|(b)`, "-group-field", "2"}, "a", "", "", 0, errNoField},
		{[]string{"-match", `(\S+) (\S+)`, "-weight", "2"}, "k 12x", "", "", 0, errBadWeight},
	} {
		d := mustDecoder(t, tc.args...)
		var out decoded
		err := d.decode(rec{Data: []byte(tc.line), Arrival: t0}, &out)
		if !errors.Is(err, tc.err) {
			t.Errorf("%q: err %v, want %v", tc.args, err, tc.err)
			continue
		}
		if err == nil && (string(out.key) != tc.key || string(out.group) != tc.group || out.weight != tc.weight) {
			t.Errorf("%q = key %q group %q weight %d; want %q %q %d", tc.args, out.key, out.group, out.weight, tc.key, tc.group, tc.weight)
		}
	}
}

func TestDecodeWholeLineAndKey(t *testing.T) {
	var out decoded
	d := mustDecoder(t)
	if err := d.decode(rec{Data: []byte("any line"), Arrival: t0}, &out); err != nil || string(out.key) != "any line" || out.weight != 1 || !out.t.Equal(t0) {
		t.Errorf("whole line: %q %d %v %v", out.key, out.weight, out.t, err)
	}
	d = mustDecoder(t, "-demo", "-field", "@key", "-group-field", "referrer")
	if err := d.decode(rec{Data: []byte(`{"referrer":"r"}`), Key: "/index.html", Arrival: t0}, &out); err != nil || string(out.key) != "/index.html" || string(out.group) != "r" {
		t.Errorf("@key: %q %q %v", out.key, out.group, err)
	}
}

func TestDecodeTime(t *testing.T) {
	for _, tc := range []struct {
		line string
		want time.Time
		err  error
	}{
		{`{"ts":"2026-12-06T01:00:00Z"}`, t0, nil},
		{`{"ts":"2026-12-06T02:30:00.5+01:30"}`, t0.Add(500 * time.Millisecond), nil},
		{`{"ts":1796518800}`, t0, nil},
		{`{"ts":"1796518800"}`, t0, nil},
		{`{"ts":1796518800.25}`, t0.Add(250 * time.Millisecond), nil},
		{`{"ts":1796518800250}`, t0.Add(250 * time.Millisecond), nil},
		{`{"ts":1796518800250000}`, t0.Add(250 * time.Millisecond), nil},
		{`{"ts":1796518800250000000}`, t0.Add(250 * time.Millisecond), nil},
		{`{"ts":"yesterday"}`, time.Time{}, errBadTime},
		{`{"ts":"2026-13-06T01:00:00Z"}`, time.Time{}, errBadTime},
		{`{"ts":"9999-12-06T01:00:00Z"}`, time.Time{}, errBadTime},
		{`{"ts":1e300}`, time.Time{}, errBadTime},
		{`{"ts":true}`, time.Time{}, errBadTime},
		{`{"x":1}`, time.Time{}, errNoField},
	} {
		d := mustDecoder(t, "-field", "x", "-time-field", "ts")
		var out decoded
		line := strings.Replace(tc.line, "{", `{"x":"k",`, 1)
		err := d.decode(rec{Data: []byte(line), Arrival: t0.Add(time.Hour)}, &out)
		if !errors.Is(err, tc.err) || err == nil && !out.t.Equal(tc.want) {
			t.Errorf("%s: %v, %v; want %v, %v", line, out.t, err, tc.want, tc.err)
		}
	}
}

func TestParseWeight(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "7": 7, "123456789012345678": 123456789012345678} {
		if got, err := parseWeight([]byte(in)); err != nil || got != want {
			t.Errorf("parseWeight(%q) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "-1", "1.5", "1e3", "12345678901234567890", "x"} {
		if _, err := parseWeight([]byte(in)); !errors.Is(err, errBadWeight) {
			t.Errorf("parseWeight(%q) = %v, want errBadWeight", in, err)
		}
	}
}

// FuzzDecode feeds the line decoder arbitrary bytes: it never panics, and on a
// valid JSON object its answer is encoding/json's (the first value of the key,
// as a string, or a number's text).
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"k":"v"}`, `{"a":{"k":1},"k":"x"}`, `{"k":"\u00e9\ud83d\ude00"}`, `{"k":null}`,
		`{"k":[1,"]"]}`, `{"k\u0022":"q","k":"r"}`, `{`, `"k"`, `{"k":"a\`, "{\"k\":\"\xff\"}",
		`{"k":{"k":"nested"}}`, ` {"x" : 1 , "k" : -0.5e+2 }`,
	} {
		f.Add([]byte(s))
	}
	d := mustDecoder(f, "-field", "k")
	dm := mustDecoder(f, "-match", `"k":\s*"([^"]*)"`, "-time-field", "1", "-weight", "1")
	f.Fuzz(func(t *testing.T, line []byte) {
		var out decoded
		err := d.decode(rec{Data: line, Arrival: t0}, &out)
		var other decoded
		_ = dm.decode(rec{Data: line, Arrival: t0}, &other)
		if !json.Valid(line) {
			return
		}
		want, ok := firstValue(line, "k")
		if !ok {
			if err == nil {
				t.Errorf("%q: decoded %q, but encoding/json finds no usable k", line, out.key)
			}
			return
		}
		if err != nil {
			t.Fatalf("%q: %v, encoding/json finds k = %q", line, err, want)
		}
		if got := asJSONDecodes(string(out.key)); got != want {
			t.Errorf("%q: decoded %q, encoding/json %q", line, got, want)
		}
	})
}

// firstValue is the reference lookup: the first top-level key's value in a
// valid JSON object, decoded by encoding/json; ok is false when there is no
// such key or its value is null, an object or an array.
func firstValue(data []byte, key string) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", false
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			return "", false
		}
		if tok.(string) != key {
			continue
		}
		switch v := v.(type) {
		case string:
			return v, true
		case json.Number:
			return string(v), true
		case bool:
			if v {
				return "true", true
			}
			return "false", true
		}
		return "", false
	}
	return "", false
}

// asJSONDecodes replaces each invalid UTF-8 byte of s with U+FFFD, as
// encoding/json does when it decodes a string; the decoder keeps the bytes.
func asJSONDecodes(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}
