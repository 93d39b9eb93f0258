package main

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamtop/streamtop/aggregate"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/source"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) // date-proof: record time, handed to the decoder

// newMemory returns a sink with room for every test's whole history.
func newMemory(t interface{ Fatal(...any) }) *sink.Memory {
	m, err := sink.NewMemory(sink.WithRetention(24 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The windows, snapshots and failover built on the decoder are package
// aggregate's, and tested there; what is the visualizer's own is which
// records count and as what.
func TestVisitDecoder(t *testing.T) {
	prior := aggregate.Item{Group: "/kept", Key: "k", Time: t0, N: 1}
	for _, tc := range []struct {
		name, data string
		want       *aggregate.Item // nil: not a visit
	}{
		{"producer's form", `{"resource":"/index.html","referrer":"https://google.com"}`,
			&aggregate.Item{Group: "/index.html", Key: "https://google.com", Time: t0, N: 1}},
		{"other form", `{ "referrer": "r", "resource": "/a" }`, &aggregate.Item{Group: "/a", Key: "r", Time: t0, N: 1}},
		{"empty resource", `{"resource":"","referrer":"r"}`, nil},
		{"empty referrer", `{"resource":"/a","referrer":""}`, nil},
		{"missing referrer", `{"resource":"/a"}`, nil},
		{"truncated", `{"resource":"/a","referrer":"r`, nil},
		{"not an object", `["/a","r"]`, nil},
		{"empty", ``, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d visitDecoder
			got, err := d.Decode(source.Record{Data: []byte(tc.data), ArrivalTime: t0}, []aggregate.Item{prior})
			want := []aggregate.Item{prior}
			if tc.want != nil {
				want = append(want, *tc.want)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("items (-want +got):\n%s", diff)
			}
			if (tc.want == nil) != errors.Is(err, errNotVisit) || (tc.want != nil && err != nil) {
				t.Errorf("error %v, want errNotVisit: %v", err, tc.want == nil)
			}
		})
	}
}

// The message of a decode error must not carry the payload: package
// aggregate hands it to the dead letter writer and may log it.
func TestVisitDecoderErrorHidesPayload(t *testing.T) {
	var d visitDecoder
	const payload = "PAYLOAD-77c1"
	_, err := d.Decode(source.Record{Data: []byte(`{"resource":"` + payload)}, nil)
	if err == nil {
		t.Fatal("a truncated record decoded")
	}
	if s := err.Error(); len(s) == 0 || strings.Contains(s, payload) {
		t.Fatalf("error %q", s)
	}
}

// nopCheckpointer accepts every checkpoint and saves nothing, so that the
// benchmark measures the aggregator, not a lease store.
type nopCheckpointer struct{}

func (nopCheckpointer) Checkpoint(context.Context) error                               { return nil }
func (nopCheckpointer) CheckpointAt(context.Context, source.Sequence) error            { return nil }
func (nopCheckpointer) CheckpointState(context.Context, source.Sequence, []byte) error { return nil }

// BenchmarkProcessor measures the consumer's per-record cost as the program
// builds it: decoding, counting, and one emit per second of record time, with
// records arriving at 100,000 per second of record time.
func BenchmarkProcessor(b *testing.B) {
	g := newTraffic(1, 90*time.Second, keyRandom)
	g.at(t0)
	const batch = 500
	recs := make([]source.Record, 0, batch)
	agg, err := aggregate.New(aggregate.Config{
		Size: 10 * time.Second, Bucket: time.Second, NewDecoder: newVisitDecoder,
		Sink: newMemory(b), Host: "h", MaxGroups: maxResources,
	})
	if err != nil {
		b.Fatal(err)
	}
	p := agg.NewProcessor("shard-0")
	ctx := context.Background()
	if err := p.Initialize(ctx, source.InitInput{ShardID: "shard-0", Start: source.Position{Type: source.TrimHorizon}}); err != nil {
		b.Fatal(err)
	}
	// Sequence numbers need only be distinct within a batch here; making
	// them up front keeps their cost out of the measurement.
	seqs := make([]string, batch)
	for i := range seqs {
		seqs[i] = strconv.Itoa(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; {
		recs = recs[:0]
		for ; len(recs) < batch && i < b.N; i++ {
			m := g.draw()
			recs = append(recs, source.Record{
				Data: m.data, PartitionKey: m.key, SequenceNumber: seqs[len(recs)],
				ArrivalTime: t0.Add(time.Duration(i) * 10 * time.Microsecond),
			})
		}
		if err := p.ProcessRecords(ctx, recs, nopCheckpointer{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
	if s := agg.Stats(); s.Malformed != 0 {
		b.Fatalf("%d of the producer's records malformed", s.Malformed)
	}
}
