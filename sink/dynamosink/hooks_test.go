package dynamosink_test

import (
	"testing"
	"time"

	"github.com/streamtop/streamtop/internal/awstest"
	"github.com/streamtop/streamtop/internal/hooktest"
	"github.com/streamtop/streamtop/sink/dynamosink"
)

// A Write on dynalite with throttled calls is one hook.Write, and each
// UpdateItem attempt one hook.Call: the throttled ones marked so.
func TestHooksSeeWritesAndRetries(t *testing.T) {
	client, name := table(t)
	uc := &updateClient{Client: client}
	uc.throttle.Store(3)
	rec := &hooktest.Recorder{}
	s, err := dynamosink.New(uc, name, dynamosink.WithHooks(rec), dynamosink.WithBackoff(time.Microsecond, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	snaps := snapshots(awstest.UniqueName(t, "g"), time.Now().UTC().Truncate(time.Second), 10)
	if err := s.Write(t.Context(), snaps); err != nil {
		t.Fatalf("Write: %v", err)
	}
	writes := rec.Writes()
	if len(writes) != 1 || writes[0].Snapshots != 10 || writes[0].Err != nil || writes[0].Duration <= 0 {
		t.Errorf("writes %+v; want one of 10 snapshots, no error, a duration", writes)
	}
	calls := rec.CallsOf("UpdateItem")
	throttled := 0
	for _, c := range calls {
		if c.Adapter != "dynamosink" {
			t.Errorf("call %+v: want adapter dynamosink", c)
		}
		if c.Throttled {
			throttled++
		}
	}
	if len(calls) != 13 || throttled != 3 {
		t.Errorf("%d UpdateItem calls seen, %d throttled; want 13 and 3", len(calls), throttled)
	}
}
