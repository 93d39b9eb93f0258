package kinesisstream_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/streamtop/streamtop/source/kinesisstream"
)

func equalPerKey(t *testing.T, got, want map[string][]string) {
	t.Helper()
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Fatalf("key %s: read %d records %.40q..., want %d in Put order", k, len(got[k]), got[k][:min(2, len(got[k]))], len(w))
		}
	}
	if len(got) != len(want) {
		t.Fatalf("read %d keys, want %d", len(got), len(want))
	}
}

// TestProducerSendsEmptyRecords: a record with no data is valid; the SDK
// refuses an entry whose Data is nil, and the whole request with it, so the
// Producer must never send nil.
func TestProducerSendsEmptyRecords(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	es := newEmulatorStream(t, 1)
	p, err := kinesisstream.NewProducer(es.client, es.Name())
	if err != nil {
		t.Fatal(err)
	}
	for i, data := range [][]byte{nil, []byte("a"), {}, []byte("b")} {
		if err := p.Put(ctx, fmt.Sprint("key-", i), data); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close = %v, want every record sent", err)
	}
	got := readShards(t, ctx, es.Stream, 4)
	want := map[string][]string{"key-0": {""}, "key-1": {"a"}, "key-2": {""}, "key-3": {"b"}}
	equalPerKey(t, got, want)
}
