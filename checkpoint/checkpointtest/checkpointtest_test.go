package checkpointtest_test

import (
	"context"
	"testing"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/checkpoint/checkpointtest"
	"github.com/streamtop/streamtop/internal/childtest"
)

// counterBlind is a MemoryStore whose Checkpoint forgets the condition on
// the counter: it writes over whatever counter the table holds, so a worker
// whose view is out of date (a retry after a timeout, two goroutines with one
// view) checkpoints anyway. The owner is still checked.
type counterBlind struct{ *checkpoint.MemoryStore }

func (s counterBlind) Checkpoint(ctx context.Context, l checkpoint.Lease) (checkpoint.Lease, error) {
	if cur, err := s.MemoryStore.Get(ctx, l.Key); err == nil {
		l.Counter = cur.Counter
	}
	return s.MemoryStore.Checkpoint(ctx, l)
}

// childCases are runs of the suite made in a child process by
// TestSuiteCatches, since a failing subtest would fail the test that ran it.
var childCases = map[string]func(t *testing.T){
	"CounterBlind": func(t *testing.T) {
		checkpointtest.Run(t, func(*testing.T) checkpoint.Store { return counterBlind{checkpoint.NewMemoryStore()} },
			checkpointtest.WithMaxStateSize(checkpoint.MaxMemoryStateSize))
	},
	// The store keeps one byte more than it is declared to.
	"MaxStateSizeTooSmall": func(t *testing.T) {
		checkpointtest.Run(t, func(*testing.T) checkpoint.Store { return checkpoint.NewMemoryStore() },
			checkpointtest.WithMaxStateSize(checkpoint.MaxMemoryStateSize-1))
	},
	"ZeroMaxStateSize": func(t *testing.T) {
		checkpointtest.Run(t, func(*testing.T) checkpoint.Store { return checkpoint.NewMemoryStore() },
			checkpointtest.WithMaxStateSize(0))
	},
}

// TestChild is the child process of TestSuiteCatches; in an ordinary run it
// does nothing.
func TestChild(t *testing.T) { childtest.Dispatch(t, childCases) }

// TestSuiteCatches runs the suite on broken stores and wrong declarations,
// and checks that it fails them where it should and passes the rest.
func TestSuiteCatches(t *testing.T) {
	for _, c := range []struct {
		name    string
		failing []string // subtests that must fail (among others)
		passing []string // subtests that must pass: the failure is not everywhere
		message string   // the output must say this
	}{
		{
			name:    "CounterBlind",
			failing: []string{"ConditionalFailures/Checkpoint/StaleCounter", "ConditionalFailures/Checkpoint/FutureCounter", "ConditionalFailures/Checkpoint/MovedOn", "ConcurrentCheckpoints"},
			passing: []string{"Lifecycle", "ConditionalFailures/Renew/StaleCounter", "LostWorkerCannotWriteState"},
			message: "want ErrLeaseLost",
		},
		{
			name:    "MaxStateSizeTooSmall",
			failing: []string{"StateTooLarge"},
			passing: []string{"StateRoundTrip"},
			message: "want ErrStateTooLarge",
		},
		{
			name:    "ZeroMaxStateSize",
			message: "WithMaxStateSize(0); want a positive size",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := childtest.Run(t, "TestChild", c.name)
			if r.Err == nil {
				t.Fatalf("the suite passed; want it to fail\n%s", r.Output)
			}
			r.Expect(t, c.failing, c.passing, c.message)
		})
	}
}
