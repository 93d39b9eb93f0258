package main

import (
	"cmp"
	"errors"
	"slices"
	"time"

	"github.com/streamtop/streamtop/topk"
)

// windowed is what window.Counter and window.Sketch both offer, as the tally
// uses them.
type windowed interface {
	Add(key string, t time.Time, n int64) bool
	Advance(now time.Time)
	Top(k int) []topk.Entry[string]
	Total() int64
	Len() int
	Bounds() (start, end time.Time)
}

// skipped counts the records that were not counted, by reason. None of them
// stops the input.
type skipped struct {
	NotJSON     int64 `json:"not_json"`     // not a JSON object
	NoField     int64 `json:"no_field"`     // a field missing (or -match group unset)
	BadValue    int64 `json:"bad_value"`    // null, an object or an array where a value was wanted
	NoMatch     int64 `json:"no_match"`     // -match did not match
	BadTime     int64 `json:"bad_time"`     // -time-field unparsable
	BadWeight   int64 `json:"bad_weight"`   // -weight not a whole number >= 0
	TooLong     int64 `json:"too_long"`     // a line over the longest the reader takes
	Late        int64 `json:"late"`         // older than the window
	OtherGroups int64 `json:"other_groups"` // filtered out by -group-filter
	OverLimit   int64 `json:"over_limit"`   // in a group past the most groups kept
}

// malformed is the number of records skipped as bad input.
func (s skipped) malformed() int64 {
	return s.NotJSON + s.NoField + s.BadValue + s.NoMatch + s.BadTime + s.BadWeight + s.TooLong
}

func (s *skipped) add(o skipped) {
	s.NotJSON += o.NotJSON
	s.NoField += o.NoField
	s.BadValue += o.BadValue
	s.NoMatch += o.NoMatch
	s.BadTime += o.BadTime
	s.BadWeight += o.BadWeight
	s.TooLong += o.TooLong
	s.Late += o.Late
	s.OtherGroups += o.OtherGroups
	s.OverLimit += o.OverLimit
}

func (s *skipped) count(err error) {
	switch {
	case errors.Is(err, errNotJSON):
		s.NotJSON++
	case errors.Is(err, errNoField):
		s.NoField++
	case errors.Is(err, errBadValue):
		s.BadValue++
	case errors.Is(err, errNoMatch):
		s.NoMatch++
	case errors.Is(err, errBadTime):
		s.BadTime++
	case errors.Is(err, errBadWeight):
		s.BadWeight++
	case errors.Is(err, errTooLong):
		s.TooLong++
	default:
		s.NoField++
	}
}

// slotLimit bounds the pending-count slots of all groups together (see
// tally): when they fill, they are flushed and forgotten, so memory stays
// bounded whatever the number of distinct keys, and a key seen lately costs
// no string allocation.
const slotLimit = 1 << 16

// liveFlushLimit bounds the slots pending at once when reports come while
// records flow, so that a report, which adds them first, takes at most this
// many window Adds under the lock: a refresh stays under a few milliseconds
// whatever the rate (BenchmarkRefresh). -once, with one report at the end,
// lets slotLimit keys pend, which makes counting many distinct keys cheaper.
const liveFlushLimit = 2048

// tally counts decoded records in one window per group.
//
// Records are not added to the windows one by one: consecutive records whose
// times fall in the same bucket are summed per key first, in a slot, and each
// slot is added once when the run of records ends: at the first record of
// another bucket, when flushLimit keys are pending, or when the counts are
// read (top). Adding n at once to a bucket is the same as adding 1 n times,
// and the records of one bucket are all counted or all too late together, so
// a Counter ends up exactly as with one Add per record, and a Sketch within
// the same error bounds (its summaries see the run's keys in another order),
// for the price of a map lookup per record and a window Add per key and run.
//
// The zero value is not usable; use newTally. A tally is not safe for
// concurrent use: the caller serialises add and the reads.
type tally struct {
	dec         decoder
	newWindow   func() (windowed, error)
	bucket      int64 // the windows' bucket length, in nanoseconds
	groupFilter []byte
	filter      bool // count only the group named groupFilter
	maxGroups   int

	groups  map[string]*groupState
	last    *groupState // the group of the last record counted
	records int64
	skipped skipped
	newest  time.Time // the latest record time counted
	lagMs   int64     // the source's last lag report, -1 for none
	out     decoded

	// The run of records being summed: their bucket, the time of its first
	// record (any time in the bucket counts alike), the latest, and the
	// groups with slots to add.
	pending    bool
	pendBucket int64
	pendTime   time.Time
	pendLatest time.Time
	dirty      []*groupState
	touched    int // slots pending in all groups
	flushLimit int // flush when this many are pending
	slots      int // slots held by all groups
}

// groupState is one group's window and its slots.
type groupState struct {
	name    string
	w       windowed
	slots   map[string]*slot
	touched []*slot // slots with a pending count
}

// slot is a key's count since the last flush: the weight to add, and the
// number of records it sums (to count them if they are too late).
type slot struct {
	key     string
	weight  int64
	records int64
}

func newTally(dec decoder, newWindow func() (windowed, error), bucket time.Duration, maxGroups int) *tally {
	return &tally{
		dec:        dec,
		newWindow:  newWindow,
		bucket:     int64(bucket),
		maxGroups:  maxGroups,
		groups:     map[string]*groupState{},
		lagMs:      -1,
		flushLimit: liveFlushLimit,
	}
}

// add counts a batch of records. lagMs is how far the source is behind the
// newest record of the stream, or -1 if it cannot say.
func (t *tally) add(batch []rec, lagMs int64) {
	t.lagMs = lagMs
	for i := range batch {
		t.records++
		if err := t.dec.decode(batch[i], &t.out); err != nil {
			t.skipped.count(err)
			continue
		}
		t.count(&t.out)
	}
}

func (t *tally) count(d *decoded) {
	if t.filter && string(d.group) != string(t.groupFilter) {
		t.skipped.OtherGroups++
		return
	}
	g := t.last // records mostly come in runs of one group, or have none
	if g == nil || string(d.group) != g.name {
		if g = t.group(d.group); g == nil {
			t.skipped.OverLimit++
			return
		}
		t.last = g
	}
	b := floorDiv(d.t.UnixNano(), t.bucket)
	if t.pending && b != t.pendBucket {
		t.flush()
	}
	s := g.slots[string(d.key)]
	if s == nil {
		if t.slots >= slotLimit {
			t.flush()
			for _, g := range t.groups {
				clear(g.slots)
			}
			t.slots = 0
		}
		s = &slot{key: string(d.key)}
		g.slots[s.key] = s
		t.slots++
	}
	if !t.pending {
		t.pending, t.pendBucket, t.pendTime, t.pendLatest = true, b, d.t, d.t
	} else if d.t.After(t.pendLatest) {
		t.pendLatest = d.t
	}
	if s.records == 0 {
		if len(g.touched) == 0 {
			t.dirty = append(t.dirty, g)
		}
		g.touched = append(g.touched, s)
		t.touched++
	}
	s.weight += d.weight
	s.records++
	if t.touched >= t.flushLimit {
		t.flush()
	}
}

// group returns the state of the group named name, made if it is new, or
// nil if it is new and maxGroups are counted already.
func (t *tally) group(name []byte) *groupState {
	if g := t.groups[string(name)]; g != nil {
		return g
	}
	if len(t.groups) >= t.maxGroups {
		return nil
	}
	w, err := t.newWindow()
	if err != nil {
		panic(err) // the options were validated when the command started
	}
	g := &groupState{name: string(name), w: w, slots: map[string]*slot{}}
	t.groups[g.name] = g
	return g
}

// flush adds the pending slots to their windows.
func (t *tally) flush() {
	if !t.pending {
		return
	}
	counted := false
	for _, g := range t.dirty {
		for _, s := range g.touched {
			if g.w.Add(s.key, t.pendTime, s.weight) {
				counted = true
			} else {
				t.skipped.Late += s.records
			}
			s.weight, s.records = 0, 0
		}
		g.touched = g.touched[:0]
	}
	t.dirty = t.dirty[:0]
	t.pending, t.touched = false, 0
	if counted && t.pendLatest.After(t.newest) {
		t.newest = t.pendLatest
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// groupTop is one group's part of a report, before ranks are compared.
type groupTop struct {
	name   string
	total  int64
	keys   int
	top    []topk.Entry[string]
	bounds [2]time.Time
}

// top returns the n first keys of the (at most) maxShown largest groups,
// largest total first, after sliding every window to now if advance is set
// (arrival time: a quiet input's counts still age). Groups left empty are
// forgotten. It costs a Top(n) per group, plus sorting the groups.
func (t *tally) top(now time.Time, advance bool, n, maxShown int) []groupTop {
	var out []groupTop
	t.flush()
	for name, g := range t.groups {
		w := g.w
		if advance {
			w.Advance(now)
		}
		if w.Total() == 0 {
			t.slots -= len(g.slots)
			delete(t.groups, name)
			if t.last == g {
				t.last = nil
			}
			continue
		}
		start, end := w.Bounds()
		out = append(out, groupTop{name: name, total: w.Total(), bounds: [2]time.Time{start, end}, keys: -1})
	}
	slices.SortFunc(out, func(a, b groupTop) int {
		if c := cmp.Compare(b.total, a.total); c != 0 {
			return c
		}
		return cmp.Compare(a.name, b.name)
	})
	if len(out) > maxShown {
		out = out[:maxShown]
	}
	for i := range out {
		w := t.groups[out[i].name].w
		out[i].top = w.Top(n)
		out[i].keys = w.Len()
	}
	return out
}
