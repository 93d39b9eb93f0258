package sink

import (
	"context"
	"testing"
	"time"
)

// A shard that ended longer ago than the retention is forgotten when
// another shard ends; one that has not ended, or ended within the
// retention, stays.
func TestMemoryPrunesOldEndedProgress(t *testing.T) {
	ctx := context.Background()
	m, err := NewMemory(WithRetention(10 * time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1_800_000_000, 0) // date-proof: retention is judged on the progress's own times
	write := func(p Progress) {
		t.Helper()
		if err := m.WriteProgress(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	write(Progress{Shard: "a", Through: t0, Ended: true})
	write(Progress{Shard: "b", Through: t0.Add(time.Minute), Parents: []string{"a"}})
	write(Progress{Shard: "c", Through: t0.Add(5 * time.Minute), Ended: true, Parents: []string{"a"}})
	if len(m.progress) != 3 {
		t.Fatalf("%d shards' progress within the retention; want 3", len(m.progress))
	}
	write(Progress{Shard: "d", Through: t0.Add(12 * time.Minute), Ended: true, Parents: []string{"c"}})
	if _, ok := m.progress["a"]; ok {
		t.Error("shard a, ended 12 minutes before the newest end, is kept")
	}
	for _, k := range []string{"b", "c", "d"} {
		if _, ok := m.progress[k]; !ok {
			t.Errorf("shard %s forgotten", k)
		}
	}
}
