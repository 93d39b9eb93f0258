package sinktest_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/streamtop/streamtop/internal/childtest"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/sink/sinktest"
)

// sinceExclusive is a Memory sink whose Query reads since as "after", not
// "at or after": the reader that resumes from the last time it saw misses
// nothing, but one that asks for a window by its end time loses it.
type sinceExclusive struct{ *sink.Memory }

func (s sinceExclusive) Query(ctx context.Context, group string, since time.Time) ([]sink.Snapshot, error) {
	got, err := s.Memory.Query(ctx, group, since)
	return slices.DeleteFunc(got, func(x sink.Snapshot) bool { return x.Time.Equal(since) }), err
}

// childCases are runs of the suite made in a child process by
// TestSuiteCatches, since a failing subtest would fail the test that ran it.
var childCases = map[string]func(t *testing.T){
	"SinceExclusive": func(t *testing.T) {
		sinktest.Run(t, func(t *testing.T) (sink.Writer, sink.Reader) {
			m, err := sink.NewMemory()
			if err != nil {
				t.Fatal(err)
			}
			return m, sinceExclusive{m}
		})
	},
	// Embedding the interfaces, not the Memory, leaves Groups out.
	"NotALister": func(t *testing.T) {
		sinktest.Run(t, func(t *testing.T) (sink.Writer, sink.Reader) {
			m, err := sink.NewMemory()
			if err != nil {
				t.Fatal(err)
			}
			return struct{ sink.Writer }{m}, struct{ sink.Reader }{m}
		})
	},
	"NilNewSink": func(t *testing.T) { sinktest.Run(t, nil) },
}

// TestChild is the child process of TestSuiteCatches; in an ordinary run it
// does nothing.
func TestChild(t *testing.T) { childtest.Dispatch(t, childCases) }

// TestSuiteCatches runs the suite on a broken sink and a bad call, and
// checks that it fails them where it should and passes the rest; and on a
// sink that is no sink.Lister, which skips just the Groups subtest.
func TestSuiteCatches(t *testing.T) {
	for _, c := range []struct {
		name    string
		failing []string // subtests that must fail (among others)
		passing []string // subtests that must pass: the failure is not everywhere
		skipped []string // exactly the subtests that are skipped, if it passes
		message string   // the output must say this
	}{
		{
			name:    "SinceExclusive",
			failing: []string{"Since/AtFirst", "Since/AtMiddle", "Since/OtherZone", "MillisecondPrecision"},
			passing: []string{"RoundTrip", "Since/BeforeAll", "Since/JustBeforeMiddle", "Groups"},
			message: "(-want +got)",
		},
		{
			name:    "NotALister",
			skipped: []string{"Groups"},
			passing: []string{"RoundTrip", "Since"},
			message: "neither the Writer nor the Reader is a sink.Lister",
		},
		{
			name:    "NilNewSink",
			message: "sinktest: newSink is nil",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := childtest.Run(t, "TestChild", c.name)
			switch {
			case c.skipped != nil:
				if r.Err != nil {
					t.Fatalf("the suite failed: %v\n%s", r.Err, r.Output)
				}
				if !slices.Equal(r.Skipped, c.skipped) {
					t.Errorf("skipped subtests %v, want %v", r.Skipped, c.skipped)
				}
			case r.Err == nil:
				t.Fatalf("the suite passed; want it to fail\n%s", r.Output)
			}
			r.Expect(t, c.failing, c.passing, c.message)
		})
	}
}
