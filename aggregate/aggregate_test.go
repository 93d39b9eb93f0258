package aggregate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/topk"
	"github.com/streamtop/streamtop/window"
)

type windowCounter = window.Counter[string]

var newCounter = window.NewCounter[string]

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) // date-proof: processors read the wall clock only in ProcessIdle, which these tests do not call

// splitDecoder reads "group/key" records; "bad" payloads fail.
var splitDecoder = DecoderFunc(func(r source.Record, dst []Item) ([]Item, error) {
	g, k, ok := strings.Cut(string(r.Data), "/")
	if !ok {
		return dst, errors.New("no slash")
	}
	return append(dst, Item{Group: g, Key: k, Time: r.ArrivalTime, N: 1}), nil
})

func newWindows(m map[string][]string) map[string]groupWindow {
	w := map[string]groupWindow{}
	for g, keys := range m {
		c, _ := newCounter(time.Second, time.Second)
		for _, k := range keys {
			c.Add(k, t0, 1)
		}
		w[g] = c
	}
	return w
}

// memSink keeps every snapshot written, in order, and fails the next
// failures writes.
type memSink struct {
	writes   []sink.Snapshot
	failures int
}

func (m *memSink) Write(_ context.Context, s []sink.Snapshot) error {
	if m.failures > 0 {
		m.failures--
		return errors.New("sink unavailable")
	}
	for _, x := range s {
		x.Counts = slices.Clone(x.Counts)
		m.writes = append(m.writes, x)
	}
	return nil
}

// table is a lease table of one shard for a test driving processors by
// hand, with the Consumer's rules for positions: the checkpoint, the state
// saved with it, the last record delivered to the current owner (a named
// position may not pass it, nor go before the checkpoint), and what
// Checkpoint records when that is not the last record delivered (implied:
// outside ProcessRecords after a failed batch, the batch accepted before).
type table struct {
	delivered string
	implied   string
	seq       string
	state     []byte
	failures  int   // writes left to fail
	failWith  error // their error
	writes    int
}

// start is where an owner of the shard starts reading.
func start(seq string) source.Position {
	if seq == checkpoint.TrimHorizon || seq == "" {
		return source.Position{Type: source.TrimHorizon}
	}
	return source.After(source.Sequence{Number: seq})
}

type tableCP struct{ t *table }

func (c tableCP) fail() error {
	if c.t.failures > 0 {
		c.t.failures--
		return c.t.failWith
	}
	return nil
}

func (c tableCP) Checkpoint(ctx context.Context) error {
	at := c.t.implied
	if at == "" {
		at = c.t.delivered
	}
	if c.t.seq != checkpoint.TrimHorizon && (source.Sequence{Number: at}).Compare(source.Sequence{Number: c.t.seq}) <= 0 {
		return nil // covered already
	}
	return c.write(source.Sequence{Number: at}, nil, false)
}

func (c tableCP) CheckpointAt(_ context.Context, at source.Sequence) error {
	return c.write(at, nil, false)
}

func (c tableCP) CheckpointState(_ context.Context, at source.Sequence, st []byte) error {
	return c.write(at, slices.Clone(st), true)
}

// write checks at as the Consumer does, and panics where the Consumer would
// refuse it: the processor named a position it must not. As the Consumer, it
// writes nothing for a plain checkpoint that does not move.
func (c tableCP) write(at source.Sequence, st []byte, withState bool) error {
	seq := source.Sequence{Number: c.t.seq}
	if c.t.seq == checkpoint.TrimHorizon || c.t.seq == "" {
		seq = source.Sequence{}
	}
	bound := seq
	if d := (source.Sequence{Number: c.t.delivered}); d.Compare(bound) > 0 {
		bound = d
	}
	if at.Number == "" || at.Sub != 0 || at.Compare(seq) < 0 || at.Compare(bound) > 0 {
		panic(fmt.Sprintf("checkpoint at %v: outside [%v, %v], the checkpoint and the last record delivered", at, seq, bound))
	}
	if !withState && at == seq {
		return nil
	}
	if err := c.fail(); err != nil {
		return err
	}
	c.t.writes++
	c.t.seq, c.t.state = at.Number, st
	return nil
}

// plainCP hides CheckpointState.
type plainCP struct{ tableCP }

func rec(i int, data string, at time.Time) source.Record {
	return source.Record{Data: []byte(data), SequenceNumber: fmt.Sprintf("%032d", i+1), ArrivalTime: at, ShardID: "s"}
}

func TestNewValidates(t *testing.T) {
	ok := Config{Size: 10 * time.Second, Bucket: time.Second, Decoder: splitDecoder, Sink: &memSink{}}
	tests := []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"zero bucket", func(c *Config) { c.Bucket = 0 }, "Bucket"},
		{"negative bucket", func(c *Config) { c.Bucket = -time.Second }, "Bucket"},
		{"size below bucket", func(c *Config) { c.Size = time.Millisecond }, "Size"},
		{"size not a multiple", func(c *Config) { c.Size = 2500 * time.Millisecond }, "Size"},
		{"no decoder", func(c *Config) { c.Decoder = nil }, "Decoder"},
		{"two decoders", func(c *Config) { c.NewDecoder = func(string) Decoder { return splitDecoder } }, "NewDecoder"},
		{"no sink", func(c *Config) { c.Sink = nil }, "Sink"},
		{"negative K", func(c *Config) { c.K = -1 }, "K"},
		{"negative MaxGroups", func(c *Config) { c.MaxGroups = -1 }, "MaxGroups"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			_, err := New(c)
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("New = %v, want ErrInvalidConfig naming %s", err, tt.field)
			}
		})
	}
	if _, err := New(ok); err != nil {
		t.Fatalf("New(valid) = %v", err)
	}
}

// expected recomputes the window of group ending at end from every record of
// the shard.
func expected(records []source.Record, group string, end time.Time, size time.Duration) []topk.Entry[string] {
	counts := map[string]int64{}
	for _, r := range records {
		g, k, ok := strings.Cut(string(r.Data), "/")
		if ok && g == group && !r.ArrivalTime.Before(end.Add(-size)) && r.ArrivalTime.Before(end) {
			counts[k]++
		}
	}
	var e []topk.Entry[string]
	for k, n := range counts {
		e = append(e, topk.Entry[string]{Key: k, Count: n})
	}
	slices.SortFunc(e, func(a, b topk.Entry[string]) int {
		if a.Count != b.Count {
			return int(b.Count - a.Count)
		}
		return strings.Compare(a.Key, b.Key)
	})
	return e
}

// Records are fed in random batches to processors that fail to write, lose
// their lease, or hand the shard on (through the saved checkpoint and state,
// as a Consumer would). Every snapshot written equals the recomputation from
// the shard's records; with saved state every window after the first record
// is written, with none missing.
func TestProcessorMatchesRecomputation(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		const size, bucket = 3 * time.Second, time.Second
		groups := []string{"a", "b", "c"}
		n := rapid.IntRange(1, 120).Draw(t, "records")
		var records []source.Record
		at := t0.Add(time.Duration(rapid.IntRange(0, 999).Draw(t, "offset")) * time.Millisecond)
		for i := range n {
			at = at.Add(rapid.SampledFrom([]time.Duration{0, 100 * time.Millisecond, 700 * time.Millisecond, 2500 * time.Millisecond, 5 * time.Second}).Draw(t, "gap"))
			data := rapid.SampledFrom(groups).Draw(t, "group") + "/" + rapid.SampledFrom([]string{"x", "y", "z"}).Draw(t, "key")
			if rapid.IntRange(0, 15).Draw(t, "malformed") == 0 {
				data = "bad"
			}
			records = append(records, rec(i, data, at))
		}
		out := &memSink{}
		agg, err := New(Config{Size: size, Bucket: bucket, Decoder: splitDecoder, Sink: out})
		if err != nil {
			t.Fatal(err)
		}
		tab := &table{seq: checkpoint.TrimHorizon, failWith: errors.New("table unavailable")}
		ctx := context.Background()
		useState := rapid.Bool().Draw(t, "useState")
		var cp source.Checkpointer = tableCP{tab}
		if !useState {
			cp = plainCP{tableCP{tab}}
		}
		// accepted is what the Consumer's Checkpointer records outside a
		// ProcessRecords call: the last batch accepted, else the
		// checkpoint the owner started from.
		var accepted string
		newOwner := func() source.Processor {
			p := agg.NewProcessor("s")
			if err := p.Initialize(ctx, source.InitInput{ShardID: "s", Start: start(tab.seq), State: tab.state}); err != nil {
				t.Fatal(err)
			}
			accepted = tab.seq
			tab.delivered, tab.implied = "", ""
			return p
		}
		// handOff is a graceful hand-off as the Consumer makes it:
		// ShutdownRequested once (its error is only logged), then the next
		// owner starts at the checkpoint.
		handOff := func(p source.Processor) (source.Processor, int) {
			tab.implied = accepted
			_ = p.ShutdownRequested(ctx, cp)
			return newOwner(), resumeAt(records, tab.seq)
		}
		p := newOwner()
		next := 0 // first record the current owner reads
		for next < len(records) {
			size := rapid.IntRange(1, 10).Draw(t, "batch")
			batch := records[next:min(next+size, len(records))]
			out.failures = rapid.IntRange(0, 1).Draw(t, "sinkFailures")
			tab.failures = rapid.IntRange(0, 1).Draw(t, "tableFailures")
			handedOff := false
			for {
				tab.delivered = batch[len(batch)-1].SequenceNumber
				if p.ProcessRecords(ctx, batch, cp) == nil {
					break
				}
				// The Consumer retries a failed batch after a pause,
				// unless a hand-off or shutdown comes first: the
				// batch is then never accepted.
				if rapid.IntRange(0, 3).Draw(t, "handOffAfterFailure") == 0 {
					p, next = handOff(p)
					handedOff = true
					break
				}
			}
			if handedOff {
				continue
			}
			next += len(batch)
			accepted = batch[len(batch)-1].SequenceNumber
			switch rapid.IntRange(0, 5).Draw(t, "event") {
			case 0: // crash: the next owner starts at the checkpoint
				p = newOwner()
				next = resumeAt(records, tab.seq)
			case 1: // graceful hand-off
				p, next = handOff(p)
			}
		}
		for _, s := range out.writes {
			want := expected(records, s.Group, s.Time, size)
			if diff := cmp.Diff(want, s.Counts, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("snapshot %s at %v (-want +got):\n%s", s.Group, s.Time, diff)
			}
		}
		if useState {
			checkCoverage(t, records, out.writes, size, bucket)
		}
		if st := agg.Stats(); st.Malformed == 0 && slices.ContainsFunc(records, func(r source.Record) bool { return string(r.Data) == "bad" }) {
			t.Fatalf("malformed records not counted: %+v", st)
		}
	})
}

// resumeAt returns the index of the first record after checkpoint seq.
func resumeAt(records []source.Record, seq string) int {
	if seq == checkpoint.TrimHorizon {
		return 0
	}
	for i, r := range records {
		if r.SequenceNumber == seq {
			return i + 1
		}
	}
	panic("checkpoint of no record: " + seq)
}

// checkCoverage: every window that ends after the first valid record's
// bucket and at or before the newest one's, and holds a record of a group (or
// follows one that did), was written for that group.
func checkCoverage(t *rapid.T, records []source.Record, writes []sink.Snapshot, size, bucket time.Duration) {
	type gk struct {
		g string
		t time.Time
	}
	got := map[gk]bool{}
	for _, s := range writes {
		got[gk{s.Group, s.Time}] = true
	}
	// Only records that decode carry a time: a malformed one closes no
	// window.
	var valid []source.Record
	for _, r := range records {
		if string(r.Data) != "bad" {
			valid = append(valid, r)
		}
	}
	if len(valid) == 0 {
		return
	}
	first := bucketIndex(valid[0].ArrivalTime, bucket)
	last := bucketIndex(valid[len(valid)-1].ArrivalTime, bucket)
	for end := first + 1; end <= last; end++ {
		et := bucketTime(end, bucket)
		for _, g := range []string{"a", "b", "c"} {
			if len(expected(records, g, et, size)) > 0 && !got[gk{g, et}] {
				t.Fatalf("window of %s ending %v not written", g, et)
			}
		}
	}
}

// A processor that resumes without saved state writes nothing until it holds
// a complete window of its own; one that restores state writes on at once.
func TestResumeWithoutStateWaitsForAFullWindow(t *testing.T) {
	out := &memSink{}
	agg, err := New(Config{Size: 3 * time.Second, Bucket: time.Second, Decoder: splitDecoder, Sink: out})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p := agg.NewProcessor("s")
	if err := p.Initialize(ctx, source.InitInput{ShardID: "s", Start: start(fmt.Sprintf("%032d", 7))}); err != nil {
		t.Fatal(err)
	}
	tab := &table{}
	var records []source.Record
	for i := range 8 {
		records = append(records, rec(10+i, "a/x", t0.Add(time.Duration(i)*time.Second+time.Millisecond)))
	}
	tab.delivered = records[len(records)-1].SequenceNumber
	if err := p.ProcessRecords(ctx, records, tableCP{tab}); err != nil {
		t.Fatal(err)
	}
	// First record in bucket t0: bucket t0 may hold unseen records, so the
	// first window written is [t0+1s, t0+4s), ending at t0+4s.
	var times []time.Time
	for _, s := range out.writes {
		times = append(times, s.Time)
	}
	want := []time.Time{t0.Add(4 * time.Second), t0.Add(5 * time.Second), t0.Add(6 * time.Second), t0.Add(7 * time.Second)}
	if diff := cmp.Diff(want, times); diff != "" {
		t.Fatalf("windows written (-want +got):\n%s", diff)
	}
}

// A shard read from TRIM_HORIZON counts its part of every window exactly
// from its first record on, a child of a reshard as much as an original
// shard: its parents write their own parts.
func TestTrimHorizonStartIsExact(t *testing.T) {
	for _, tt := range []struct {
		parents   []string
		firstTime time.Time
	}{
		{nil, t0.Add(time.Second)},
		{[]string{"p"}, t0.Add(time.Second)},
	} {
		out := &memSink{}
		agg, _ := New(Config{Size: 3 * time.Second, Bucket: time.Second, Decoder: splitDecoder, Sink: out})
		p := agg.NewProcessor("s")
		ctx := context.Background()
		if err := p.Initialize(ctx, source.InitInput{ShardID: "s", Start: start(checkpoint.TrimHorizon), Parents: tt.parents}); err != nil {
			t.Fatal(err)
		}
		var records []source.Record
		for i := range 6 {
			records = append(records, rec(i, "a/x", t0.Add(time.Duration(i)*time.Second)))
		}
		tab := &table{delivered: records[5].SequenceNumber}
		if err := p.ProcessRecords(ctx, records, tableCP{tab}); err != nil {
			t.Fatal(err)
		}
		if len(out.writes) == 0 || !out.writes[0].Time.Equal(tt.firstTime) {
			t.Errorf("parents %v: first window %v, want ending %v", tt.parents, out.writes, tt.firstTime)
		}
	}
}

// countingDeadLetter keeps rejected records and fails its next failures
// writes.
type countingDeadLetter struct {
	got      []Rejected
	failures int
}

func (d *countingDeadLetter) Write(_ context.Context, r []Rejected) error {
	if d.failures > 0 {
		d.failures--
		return errors.New("dead letter queue unavailable")
	}
	d.got = append(d.got, r...)
	return nil
}

// Malformed records, invalid items and groups past MaxGroups are counted
// and go to the dead letter writer; a failing dead letter write fails the
// batch, which the retry completes without counting anything twice.
func TestMalformedRecords(t *testing.T) {
	dl := &countingDeadLetter{failures: 1}
	out := &memSink{}
	dec := DecoderFunc(func(r source.Record, dst []Item) ([]Item, error) {
		switch s := string(r.Data); s {
		case "garbage":
			return dst, errors.New("not a visit")
		case "empty-key":
			return append(dst, Item{Group: "g", Time: r.ArrivalTime, N: 1}), nil
		case "zero":
			return append(dst, Item{Group: "g", Key: "k", Time: r.ArrivalTime}), nil
		default:
			return splitDecoder(r, dst)
		}
	})
	agg, err := New(Config{Size: time.Second, Bucket: time.Second, Decoder: dec, Sink: out, MaxGroups: 1, DeadLetter: dl})
	if err != nil {
		t.Fatal(err)
	}
	records := []source.Record{
		rec(0, "a/x", t0), rec(1, "garbage", t0), rec(2, "empty-key", t0),
		rec(3, "zero", t0), rec(4, "b/x", t0), rec(5, "a/y", t0.Add(time.Second)),
	}
	p := agg.NewProcessor("s")
	ctx := context.Background()
	if err := p.Initialize(ctx, source.InitInput{ShardID: "s", Start: start(checkpoint.TrimHorizon)}); err != nil {
		t.Fatal(err)
	}
	tab := &table{delivered: records[5].SequenceNumber}
	if err := p.ProcessRecords(ctx, records, tableCP{tab}); err == nil {
		t.Fatal("ProcessRecords succeeded although the dead letter write failed")
	}
	if tab.writes != 0 {
		t.Fatal("checkpointed before the rejected records were written")
	}
	if err := p.ProcessRecords(ctx, records, tableCP{tab}); err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, r := range dl.got {
		reasons = append(reasons, string(r.Record.Data)+": "+r.Reason)
	}
	want := []string{
		"garbage: decode: not a visit",
		"empty-key: item without group or key, or with a count below one",
		"zero: item without group or key, or with a count below one",
		"b/x: too many groups",
	}
	if diff := cmp.Diff(want, reasons); diff != "" {
		t.Fatalf("rejected (-want +got):\n%s", diff)
	}
	st := agg.Stats()
	if st.Records != 6 || st.Malformed != 4 || st.Snapshots != 1 {
		t.Fatalf("stats %+v, want 6 records, 4 malformed, 1 snapshot", st)
	}
	wantSnap := []topk.Entry[string]{{Key: "x", Count: 1}}
	if len(out.writes) != 1 || !cmp.Equal(wantSnap, out.writes[0].Counts) {
		t.Fatalf("snapshots %+v, want a once", out.writes)
	}
}

// A checkpoint refused with ErrLeaseLost is returned (the Consumer then
// stops the shard); a state too large falls back to plain checkpoints.
func TestCheckpointErrors(t *testing.T) {
	ctx := context.Background()
	run := func(failWith error, failures int) (*table, error) {
		agg, _ := New(Config{Size: time.Second, Bucket: time.Second, Decoder: splitDecoder, Sink: &memSink{}})
		p := agg.NewProcessor("s")
		_ = p.Initialize(ctx, source.InitInput{ShardID: "s", Start: start(checkpoint.TrimHorizon)})
		tab := &table{failures: failures, failWith: failWith}
		records := []source.Record{rec(0, "a/x", t0), rec(1, "a/x", t0.Add(time.Second))}
		tab.delivered = records[1].SequenceNumber
		return tab, p.ProcessRecords(ctx, records, tableCP{tab})
	}
	if _, err := run(fmt.Errorf("shard s: %w", checkpoint.ErrLeaseLost), 1); !errors.Is(err, checkpoint.ErrLeaseLost) {
		t.Errorf("lease lost: ProcessRecords = %v, want ErrLeaseLost", err)
	}
	// Refused as panes, then whole (see TestPanesTooLargeSavedWhole).
	tab, err := run(fmt.Errorf("item: %w", checkpoint.ErrStateTooLarge), 2)
	if err != nil || tab.seq != tab.delivered || tab.state != nil {
		t.Errorf("state too large: ProcessRecords = %v, checkpoint %q state %d bytes; want a plain checkpoint", err, tab.seq, len(tab.state))
	}
}

// NewDecoder makes one decoder per processor, for its shard.
func TestNewDecoderPerShard(t *testing.T) {
	var made []string
	out := &memSink{}
	agg, err := New(Config{Size: time.Second, Bucket: time.Second, Sink: out, NewDecoder: func(shard string) Decoder {
		made = append(made, shard)
		return DecoderFunc(func(r source.Record, dst []Item) ([]Item, error) {
			return append(dst, Item{Group: shard, Key: "k", Time: r.ArrivalTime, N: 1}), nil
		})
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, shard := range []string{"s1", "s2"} {
		p := agg.NewProcessor(shard)
		_ = p.Initialize(ctx, source.InitInput{ShardID: shard, Start: start(checkpoint.TrimHorizon)})
		records := []source.Record{rec(0, "", t0), rec(1, "", t0.Add(time.Second))}
		if err := p.ProcessRecords(ctx, records, tableCP{&table{delivered: records[1].SequenceNumber}}); err != nil {
			t.Fatal(err)
		}
	}
	var groups []string
	for _, s := range out.writes {
		groups = append(groups, s.Group)
	}
	if !slices.Equal(made, []string{"s1", "s2"}) || !slices.Equal(groups, []string{"s1", "s2"}) {
		t.Fatalf("decoders made for %v, snapshots of %v", made, groups)
	}
}

// A saved state that cannot be read, or that covers other records than the
// checkpoint, is ignored: the processor resumes as without state.
func TestUnusableStateIgnored(t *testing.T) {
	seq7 := fmt.Sprintf("%032d", 7)
	other, err := encodeState(&state{started: true, exact: true, cur: bucketIndex(t0, time.Second),
		applied: source.Sequence{Number: fmt.Sprintf("%032d", 5), Sub: 0}, windows: newWindows(map[string][]string{})}, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		state []byte
	}{
		{"corrupt", []byte{stateVersion}},
		{"another checkpoint's", other},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := &memSink{}
			agg, _ := New(Config{Size: 3 * time.Second, Bucket: time.Second, Decoder: splitDecoder, Sink: out})
			p := agg.NewProcessor("s")
			ctx := context.Background()
			if err := p.Initialize(ctx, source.InitInput{ShardID: "s", Start: start(seq7), State: tt.state}); err != nil {
				t.Fatal(err)
			}
			var records []source.Record
			for i := range 6 {
				records = append(records, rec(7+i, "a/x", t0.Add(time.Duration(i)*time.Second)))
			}
			if err := p.ProcessRecords(ctx, records, tableCP{&table{delivered: records[5].SequenceNumber}}); err != nil {
				t.Fatal(err)
			}
			// Without state: the first window written is the first full
			// one after the first bucket, ending at t0+4s.
			if len(out.writes) == 0 || !out.writes[0].Time.Equal(t0.Add(4*time.Second)) {
				t.Fatalf("writes %v, want the first ending at %v", out.writes, t0.Add(4*time.Second))
			}
		})
	}
}

// A shutdown that comes between a failed batch and its retry (the Consumer's
// Checkpoint then records the batch before) must leave the checkpoint and the
// state saved with it in agreement: otherwise the next owner throws the state
// away and resumes with a window's gap (issue 8). The processor names the
// position its windows cover, the failed batch's last record, and saves the
// state there.
func TestShutdownAfterFailedBatch(t *testing.T) {
	for _, tt := range []struct {
		name       string
		sinkFails  bool
		tableFails bool
	}{
		{"sink write failed", true, false},
		{"checkpoint failed", false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			out := &memSink{}
			agg, _ := New(Config{Size: 3 * time.Second, Bucket: time.Second, Decoder: splitDecoder, Sink: out})
			tab := &table{seq: checkpoint.TrimHorizon, failWith: errors.New("table unavailable")}
			var records []source.Record
			for i := range 12 {
				records = append(records, rec(i, "a/x", t0.Add(time.Duration(i)*500*time.Millisecond)))
			}
			first, failed := records[:4], records[4:8]
			p := agg.NewProcessor("s")
			_ = p.Initialize(ctx, source.InitInput{ShardID: "s", Start: start(tab.seq)})
			tab.delivered = first[len(first)-1].SequenceNumber
			if err := p.ProcessRecords(ctx, first, tableCP{tab}); err != nil {
				t.Fatal(err)
			}
			saved := tab.seq
			if tt.sinkFails {
				out.failures = 1
			}
			if tt.tableFails {
				tab.failures = 1
			}
			tab.delivered = failed[len(failed)-1].SequenceNumber
			if err := p.ProcessRecords(ctx, failed, tableCP{tab}); err == nil {
				t.Fatal("ProcessRecords succeeded; want the injected failure")
			}
			tab.implied = saved // what the Consumer's Checkpoint records now: the batch accepted
			if err := p.ShutdownRequested(ctx, tableCP{tab}); err != nil {
				t.Fatal(err)
			}
			if want := failed[len(failed)-1].SequenceNumber; tab.seq != want {
				t.Fatalf("checkpoint at %q; want the failed batch's last record %q, which the windows hold (the batch before was %q)", tab.seq, want, saved)
			}
			st, err := decodeState(tab.state)
			if err != nil || st.applied.Number != tab.seq {
				t.Fatalf("saved state covers %q (err %v); want the checkpoint's %q", st.applied.Number, err, tab.seq)
			}

			// The next owner restores it, goes on after the failed batch and
			// writes every window from the first full one on.
			q := agg.NewProcessor("s")
			_ = q.Initialize(ctx, source.InitInput{ShardID: "s", Start: start(tab.seq), State: tab.state})
			rest := records[resumeAt(records, tab.seq):]
			tab.delivered, tab.implied = rest[len(rest)-1].SequenceNumber, ""
			if err := q.ProcessRecords(ctx, rest, tableCP{tab}); err != nil {
				t.Fatal(err)
			}
			got := map[time.Time]bool{}
			for _, s := range out.writes {
				got[s.Time] = true
				if want := expected(records, s.Group, s.Time, 3*time.Second); !slices.Equal(want, s.Counts) {
					t.Errorf("window ending %v: got %v, want %v", s.Time, s.Counts, want)
				}
			}
			for end := t0.Add(time.Second); end.Before(t0.Add(6 * time.Second)); end = end.Add(time.Second) {
				if !got[end] {
					t.Errorf("window ending %v not written", end)
				}
			}
		})
	}
}
