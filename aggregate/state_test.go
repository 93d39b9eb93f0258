package aggregate

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/window"
)

// Corrupt states are errors, never panics; states that decode encode back to
// the same bytes.
func FuzzDecodeState(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{stateVersion, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{stateVersion, flagStarted | flagExact, 2, 4, 1, '7', 0, 0})
	f.Add([]byte{9, 0})
	st := state{started: true, cur: 5, firstEnd: 6, applied: source.Sequence{Number: "42", Sub: 1},
		windows: newWindows(map[string][]string{"a": {"x", "y"}, "b": {"z"}})}
	b, err := encodeState(&st, false)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:len(b)-1])
	// A Sketch-mode state, as panes.
	sk := &savingCheckpointer{}
	out, _ := sink.NewMemory()
	a, _ := New(Config{Size: 3 * time.Second, Bucket: time.Second, Sink: out, SketchCapacity: 4,
		Decoder: DecoderFunc(func(r source.Record, dst []Item) ([]Item, error) {
			return append(dst, Item{Group: "g", Key: string(r.Data), Time: r.ArrivalTime, N: 1}), nil
		})})
	p := a.NewProcessor("s")
	_ = p.Initialize(context.Background(), source.InitInput{ShardID: "s", Start: source.Position{Type: source.TrimHorizon}})
	t0 := time.Unix(1_700_000_000, 0) // date-proof: the records' times are data
	for i := range 12 {
		r := source.Record{Data: []byte{'a' + byte(i%5)}, SequenceNumber: fmt.Sprint(i + 1), ArrivalTime: t0.Add(time.Duration(i) * 400 * time.Millisecond)}
		_ = p.ProcessRecords(context.Background(), []source.Record{r}, sk)
	}
	for _, b := range sk.states[len(sk.states)-2:] {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := decodeState(b)
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("error %v does not wrap errCorrupt", err)
			}
			return
		}
		again, err := encodeState(&st, false)
		if err != nil {
			t.Fatalf("a decoded state does not encode: %v", err)
		}
		st2, err := decodeState(again)
		if err != nil {
			t.Fatalf("re-encoded state does not decode: %v", err)
		}
		if st.started != st2.started || st.cur != st2.cur || st.firstEnd != st2.firstEnd || st.exact != st2.exact ||
			st.applied != st2.applied || len(st.windows) != len(st2.windows) {
			t.Fatalf("state changed in a round trip: %+v, %+v", st, st2)
		}
	})
}

// Each field survives a round trip.
func TestStateRoundTrip(t *testing.T) {
	st := state{started: true, exact: true, cur: -3, firstEnd: 1 << 40, applied: source.Sequence{Number: "00000000000000000000000000000042", Sub: 7},
		windows: newWindows(map[string][]string{"a": {"x", "y"}, "b": {"z"}})}
	b, err := encodeState(&st, false)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeState(b)
	if err != nil {
		t.Fatal(err)
	}
	summary := func(s state) map[string]any {
		m := map[string]any{"started": s.started, "exact": s.exact, "cur": s.cur, "firstEnd": s.firstEnd,
			"seq": s.applied.Number, "sub": s.applied.Sub}
		for g, w := range s.windows {
			m["window "+g] = w.Top(w.Len())
		}
		return m
	}
	if diff := cmp.Diff(summary(st), summary(got)); diff != "" {
		t.Fatalf("round trip (-want +got):\n%s", diff)
	}
}

func TestDecodeStateErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"one byte", []byte{stateVersion}},
		{"unknown version", []byte{3, 0, 0, 0, 0, 0, 0}},
		{"unknown flag", []byte{stateVersion, 8, 0, 0, 0, 0, 0}},
		{"truncated varint", []byte{stateVersion, 0, 0x80}},
		{"sequence longer than the state", []byte{stateVersion, 0, 0, 0, 5, '1'}},
		{"group count past the end", []byte{stateVersion, 0, 0, 0, 0, 0, 9}},
		{"empty group name", []byte{stateVersion, 0, 0, 0, 0, 0, 1, 0, 0}},
		{"trailing bytes", []byte{stateVersion, 0, 0, 0, 0, 0, 0, 1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeState(tt.b); !errors.Is(err, errCorrupt) {
				t.Fatalf("decodeState = %v, want errCorrupt", err)
			}
		})
	}
}

// A corrupt window inside a well-formed state keeps the window's own error
// in the chain, under errCorrupt.
func TestDecodeStateCorruptWindow(t *testing.T) {
	st := state{started: true, cur: 5, firstEnd: 6, applied: source.Sequence{Number: "42", Sub: 1},
		windows: newWindows(map[string][]string{"a": {"x", "y"}})}
	b, err := encodeState(&st, false)
	if err != nil {
		t.Fatal(err)
	}
	// The window's encoding ends the state: flip its first (magic) byte.
	enc, err := st.windows["a"].(*windowCounter).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	at := len(b) - len(enc)
	if at < 0 || string(b[at:]) != string(enc) {
		t.Fatalf("the state does not end with the window's encoding")
	}
	b[at] ^= 0xff
	_, err = decodeState(b)
	if !errors.Is(err, errCorrupt) || !errors.Is(err, window.ErrCorrupt) {
		t.Fatalf("decodeState = %v, want errCorrupt and window.ErrCorrupt", err)
	}
}
