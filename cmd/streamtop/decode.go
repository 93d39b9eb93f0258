package main

import (
	"errors"
	"math"
	"regexp"
	"strconv"
	"time"
)

// rec is one record as a source hands it over: a line of input or a stream
// record's payload, with the stream's partition key (empty for stdin) and its
// arrival time. Data is only valid during the call that hands it over.
type rec struct {
	Data    []byte
	Key     string
	Arrival time.Time
}

// fieldKind says where a value of a record comes from.
type fieldKind int

const (
	fromNone    fieldKind = iota // not asked for
	fromLine                     // the whole line
	fromJSON                     // a path in a JSON object
	fromCapture                  // a capture group of -match
	fromKey                      // the stream's partition key (@key)
)

// field is one value to extract, with the flag that asked for it.
type field struct {
	kind    fieldKind
	path    jsonPath // fromJSON
	capture int      // fromCapture
}

// Why a record was skipped. Each is counted; none stops the input.
var (
	errNoMatch   = errors.New("no match")
	errBadTime   = errors.New("bad time")
	errBadWeight = errors.New("bad weight")
)

// decoder turns a record into what is counted: a key, a group, a weight and a
// time. It keeps scratch space, so it is used by one goroutine at a time.
// With a JSON path it walks only the bytes before the value (see lookup);
// with -match it runs the regular expression once per record.
type decoder struct {
	key, group, weight, time field
	re                       *regexp.Regexp
	fast                     *fastMatch // re's work, when re has its shape
	loc                      [4]int
	scratch                  [4][]byte
}

// decoded is one record's extracted values. key and group are only valid
// until the next decode.
type decoded struct {
	key, group []byte
	weight     int64
	t          time.Time
}

// decode extracts r's values into out, or says why it cannot.
// Without a time field the time is r.Arrival; without a weight field, 1.
func (d *decoder) decode(r rec, out *decoded) error {
	var loc []int
	if d.fast != nil {
		if !d.fast.find(r.Data, &d.loc) {
			return errNoMatch
		}
		loc = d.loc[:]
	} else if d.re != nil {
		if loc = d.re.FindSubmatchIndex(r.Data); loc == nil {
			return errNoMatch
		}
	}
	var err error
	if out.key, err = d.get(0, d.key, r, loc); err != nil {
		return err
	}
	out.group = nil
	if d.group.kind != fromNone {
		if out.group, err = d.get(1, d.group, r, loc); err != nil {
			return err
		}
	}
	out.weight = 1
	if d.weight.kind != fromNone {
		v, err := d.get(2, d.weight, r, loc)
		if err != nil {
			return err
		}
		if out.weight, err = parseWeight(v); err != nil {
			return err
		}
	}
	out.t = r.Arrival
	if d.time.kind != fromNone {
		v, err := d.get(3, d.time, r, loc)
		if err != nil {
			return err
		}
		if out.t, err = parseTime(v); err != nil {
			return err
		}
		if y := out.t.Year(); y < 1700 || y > 2200 {
			return errBadTime // outside what Unix nanoseconds hold
		}
	}
	return nil
}

func (d *decoder) get(slot int, f field, r rec, loc []int) ([]byte, error) {
	switch f.kind {
	case fromLine:
		return r.Data, nil
	case fromKey:
		return []byte(r.Key), nil
	case fromCapture:
		i := 2 * f.capture
		if i+1 >= len(loc) || loc[i] < 0 {
			return nil, errNoField
		}
		return r.Data[loc[i]:loc[i+1]], nil
	case fromJSON:
		v, _, s, err := f.path.lookup(r.Data, d.scratch[slot])
		d.scratch[slot] = s
		return v, err
	}
	return nil, errNoField
}

// parseWeight reads a weight: a whole number from 0 up, as a JSON number or
// the digits of a string.
func parseWeight(v []byte) (int64, error) {
	if len(v) == 0 || len(v) > 18 {
		return 0, errBadWeight
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, errBadWeight
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

// parseTime reads an event time: RFC 3339 text, or a number of seconds,
// milliseconds, microseconds or nanoseconds since the Unix epoch (told apart
// by size: below 1e11 seconds, which is the year 5138, and so on by 1000s),
// possibly with a fraction.
func parseTime(v []byte) (time.Time, error) {
	if len(v) == 0 {
		return time.Time{}, errBadTime
	}
	if isDate(v) {
		t, err := time.Parse(time.RFC3339Nano, string(v))
		if err != nil {
			return time.Time{}, errBadTime
		}
		return t, nil
	}
	if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
		switch a := abs(n); {
		case a < 1e11:
			return time.Unix(n, 0), nil
		case a < 1e14:
			return time.UnixMilli(n), nil
		case a < 1e17:
			return time.UnixMicro(n), nil
		default:
			return time.Unix(0, n), nil
		}
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}, errBadTime
	}
	scale := 1.0 // to seconds
	switch a := math.Abs(f); {
	case a < 1e11:
	case a < 1e14:
		scale = 1e-3
	case a < 1e17:
		scale = 1e-6
	default:
		scale = 1e-9
	}
	sec := f * scale
	if math.Abs(sec) > 1e12 {
		return time.Time{}, errBadTime
	}
	whole := math.Floor(sec)
	return time.Unix(int64(whole), int64((sec-whole)*1e9)), nil
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// isDate reports whether v starts as an RFC 3339 date does: four digits and a
// dash, which no number does.
func isDate(v []byte) bool {
	if len(v) < 5 || v[4] != '-' {
		return false
	}
	for _, c := range v[:4] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
