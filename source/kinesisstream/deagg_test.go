package kinesisstream

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamtop/streamtop/internal/hashkey"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/kinesisstream/kpl"
)

// halfEnd is 2^127 - 1: a shard holding the lower half of the key space,
// as the first child of an even split does.
const halfEnd = "170141183460469231731687303715884105727"

// keysByHalf returns a partition key whose hash lies in the lower half of
// the key space and one whose hash lies in the upper half.
func keysByHalf() (lower, upper string) {
	for i := 0; lower == "" || upper == ""; i++ {
		k := fmt.Sprint("key", i)
		if hashkey.Of(k).Hi>>63 == 0 {
			lower = k
		} else {
			upper = k
		}
	}
	return lower, upper
}

func aggregate(t *testing.T, recs ...kpl.Record) []byte {
	t.Helper()
	var a kpl.Aggregator
	for _, r := range recs {
		if err := a.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	out, _ := a.Flush()
	return out.Data
}

// deaggShard fills one shard holding the lower half of the key space with
// plain, aggregated and corrupt records, interleaved, and returns what
// a de-aggregating reader must deliver: sequence, sub-sequence, key, data.
func deaggShard(t *testing.T) (*fakeKinesis, [][4]string) {
	lower, upper := keysByHalf()
	good := aggregate(t,
		kpl.Record{PartitionKey: lower, Data: []byte("a0")},
		kpl.Record{PartitionKey: upper, Data: []byte("a1")}, // outside: dropped
		kpl.Record{PartitionKey: lower, Data: []byte("a2")},
	)
	explicit := aggregate(t,
		kpl.Record{PartitionKey: upper, ExplicitHashKey: "5", Data: []byte("b0")}, // the explicit key decides
		kpl.Record{PartitionKey: lower, ExplicitHashKey: halfEnd, Data: []byte("b1")},
		kpl.Record{PartitionKey: lower, ExplicitHashKey: "170141183460469231731687303715884105728", Data: []byte("b2")}, // dropped
	)
	badSum := append([]byte(nil), good...)
	badSum[len(badSum)-1] ^= 1
	body := []byte{0x1a, 0x7f} // a record field running past the end
	sum := md5.Sum(body)
	badBody := append(append([]byte{0xf3, 0x89, 0x9a, 0xc2}, body...), sum[:]...)
	var dec kpl.Decoder
	if _, err := dec.Decode(nil, badSum); !errors.Is(err, kpl.ErrChecksum) {
		t.Fatalf("bad checksum decodes with %v", err)
	}
	if _, err := dec.Decode(nil, badBody); !errors.Is(err, kpl.ErrMalformed) {
		t.Fatalf("bad body decodes with %v", err)
	}

	f := newFakeKinesis("shardId-1")
	f.shards[0].hashStart, f.shards[0].hashEnd = "0", halfEnd
	f.addData("shardId-1", []byte("plain1"), good, badSum, badBody, []byte("plain2"), explicit)
	return f, [][4]string{
		{"100000000000000000001", "0", "pk", "plain1"},
		{"100000000000000000002", "0", lower, "a0"},
		{"100000000000000000002", "2", lower, "a2"},
		{"100000000000000000003", "0", "pk", string(badSum)},
		{"100000000000000000004", "0", "pk", string(badBody)},
		{"100000000000000000005", "0", "pk", "plain2"},
		{"100000000000000000006", "0", upper, "b0"},
		{"100000000000000000006", "1", lower, "b1"},
	}
}

func readUsers(t *testing.T, s *Stream, max int) [][4]string {
	t.Helper()
	ctx := context.Background()
	r, err := s.Open(ctx, "shardId-1", source.Position{Type: source.TrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got [][4]string
	for range 100 {
		res, err := r.Read(ctx, max)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Records) > max {
			t.Fatalf("Read(%d) returned %d records", max, len(res.Records))
		}
		if len(res.Records) == 0 {
			return got
		}
		for _, rec := range res.Records {
			if rec.ShardID != "shardId-1" || rec.ArrivalTime.IsZero() {
				t.Errorf("record %v/%d: shard %q, arrival %v", rec.SequenceNumber, rec.SubSequenceNumber, rec.ShardID, rec.ArrivalTime)
			}
			got = append(got, [4]string{rec.SequenceNumber, fmt.Sprint(rec.SubSequenceNumber), rec.PartitionKey, string(rec.Data)})
		}
	}
	t.Fatal("the shard never ran dry")
	return nil
}

func TestReaderDeaggregates(t *testing.T) {
	for _, max := range []int{1, 2, 3, 100} {
		t.Run(fmt.Sprint("max", max), func(t *testing.T) {
			f, want := deaggShard(t)
			s := newTestStream(t, f, WithPollInterval(1))
			if diff := cmp.Diff(want, readUsers(t, s, max)); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			if got, want := s.Stats(), (StreamStats{Aggregated: 2, Corrupt: 2, OutOfRange: 2}); got != want {
				t.Errorf("Stats() = %+v, want %+v", got, want)
			}
			// The range came from one listing; GetRecords was called
			// with the Kinesis records' count, not the user records'.
			if n := f.count("ListShards"); n != 1 {
				t.Errorf("%d ListShards calls, want 1", n)
			}
		})
	}
}

func TestReaderWithoutDeaggregation(t *testing.T) {
	f, _ := deaggShard(t)
	s := newTestStream(t, f, WithPollInterval(1), WithoutDeaggregation())
	got := readUsers(t, s, 100)
	want := fakeSeqs(f, "shardId-1")
	if len(got) != len(want) {
		t.Fatalf("%d records, want the %d stored", len(got), len(want))
	}
	for i, g := range got {
		if g[0] != want[i] || g[1] != "0" || g[2] != "pk" || g[3] != string(f.shards[0].records[i].Data) {
			t.Errorf("record %d = %q, want %s whole", i, g, want[i])
		}
	}
	if got := s.Stats(); got != (StreamStats{}) {
		t.Errorf("Stats() = %+v, want zero", got)
	}
	if n := f.count("ListShards"); n != 0 {
		t.Errorf("%d ListShards calls, want none", n)
	}
}

// A shard that holds the whole key space, or that no listing shows, drops
// nothing.
func TestReaderKeepsWhatItCannotPlace(t *testing.T) {
	for _, c := range []struct {
		name       string
		start, end string
		list       bool
	}{
		{"WholeSpace", "0", "340282366920938463463374607431768211455", true},
		{"NotListed", "0", halfEnd, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, _ := deaggShard(t)
			f.shards[0].hashStart, f.shards[0].hashEnd = c.start, c.end
			f.shards[0].unlisted = !c.list
			s := newTestStream(t, f, WithPollInterval(1))
			got := readUsers(t, s, 100)
			if len(got) != 10 {
				t.Errorf("%d records, want 10 (every user record): %q", len(got), got)
			}
			if st := s.Stats(); st.OutOfRange != 0 {
				t.Errorf("Stats() = %+v, want nothing out of range", st)
			}
		})
	}
}

// BenchmarkReadAggregated reads 100 aggregated records of 100 user records
// of about 80 bytes through a reader over the in-memory fake: the cost of
// de-aggregating (and of filtering by hash key, in a shard holding half the
// key space) beside that of delivering the Kinesis records whole.
func BenchmarkReadAggregated(b *testing.B) {
	const aggs, per = 100, 100
	var datas [][]byte
	for i := range aggs {
		var a kpl.Aggregator
		for j := range per {
			n := i*per + j
			r := kpl.Record{PartitionKey: fmt.Sprint("key-", n%50), Data: fmt.Appendf(nil, `{"resource":"/page/%d","referrer":"https://ref%d.example","host":"h%d"}`, n%97, n%13, n%3)}
			if err := a.Add(r); err != nil {
				b.Fatal(err)
			}
		}
		out, _ := a.Flush()
		datas = append(datas, out.Data)
	}
	for _, c := range []struct {
		name string
		end  string
		opts []StreamOption
	}{
		{"Whole", "", []StreamOption{WithoutDeaggregation()}},
		{"Deaggregated", "340282366920938463463374607431768211455", nil},
		{"DeaggregatedHalfRange", halfEnd, nil},
	} {
		b.Run(c.name, func(b *testing.B) {
			f := newFakeKinesis("shardId-1")
			f.shards[0].hashStart, f.shards[0].hashEnd = "0", c.end
			if c.end == "" {
				f.shards[0].hashStart = ""
			}
			f.addData("shardId-1", datas...)
			ctx := context.Background()
			s, err := New(f, "test", append(c.opts, WithPollInterval(time.Nanosecond), WithReadLimit(1<<40))...)
			if err != nil {
				b.Fatal(err)
			}
			users := 0
			b.ReportAllocs()
			for b.Loop() {
				r, err := s.Open(ctx, "shardId-1", source.Position{})
				if err != nil {
					b.Fatal(err)
				}
				for {
					res, err := r.Read(ctx, 10000)
					if err != nil {
						b.Fatal(err)
					}
					if len(res.Records) == 0 {
						break
					}
					users += len(res.Records)
				}
				r.Close()
			}
			b.ReportMetric(float64(users)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
