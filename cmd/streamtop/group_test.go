package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	gocmp "github.com/google/go-cmp/cmp"

	"github.com/streamtop/streamtop/aggregate"
	"github.com/streamtop/streamtop/checkpoint/dynamostore"
	"github.com/streamtop/streamtop/internal/awstest"
	"github.com/streamtop/streamtop/internal/logbuf"
	"github.com/streamtop/streamtop/internal/testname"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/kinesisstream"
	"github.com/streamtop/streamtop/topk"
)

// putRandomKeys puts records whose data is {"page": P, "bytes": B}, with
// random partition keys, so every shard holds part of every page's records,
// and returns the pages' counts and byte sums, counted offline as they were
// put.
func putRandomKeys(t *testing.T, client *sdk.Client, stream string, records int, rng *rand.Rand) (counts, bytes map[string]int) {
	t.Helper()
	counts, bytes = map[string]int{}, map[string]int{}
	var entries []types.PutRecordsRequestEntry
	for range records {
		// About Zipf: page 0 most, a long tail of rarer ones, cut at
		// maxGroupK pages, the most a group's merged view lists (about
		// one run in 65 went past it, and its rarest page was not shown).
		page := fmt.Sprintf("/page/%d", min(int(rng.ExpFloat64()*4), maxGroupK-1))
		b := rng.IntN(1000)
		counts[page]++
		bytes[page] += b
		entries = append(entries, types.PutRecordsRequestEntry{
			PartitionKey: aws.String(fmt.Sprintf("%016x", rng.Uint64())),
			Data:         fmt.Appendf(nil, `{"page":%q,"bytes":%d}`, page, b),
		})
	}
	for len(entries) > 0 {
		n := min(len(entries), kinesisstream.MaxBatchRecords)
		out, err := client.PutRecords(t.Context(), &sdk.PutRecordsInput{StreamName: aws.String(stream), Records: entries[:n]})
		if err != nil {
			t.Fatal(err)
		}
		if c := aws.ToInt32(out.FailedRecordCount); c != 0 {
			t.Fatalf("PutRecords: %d of %d records failed", c, n)
		}
		entries = entries[n:]
	}
	return counts, bytes
}

// groupRun is one streamtop process of a lease group, run in this process.
type groupRun struct {
	code           int
	stdout, stderr strings.Builder
}

// runGroup runs the command with -kinesis and -group against the test's
// emulators, with args added, and waits for it to end.
func runGroup(ctx context.Context, kin, ddb, stream, group string, args ...string) *groupRun {
	r := &groupRun{}
	all := append([]string{"-kinesis", stream, "-group", group, "-region", awstest.Region,
		"-kinesis-endpoint", kin, "-dynamodb-endpoint", ddb}, args...)
	r.code = run(ctx, all, env{stdout: &r.stdout, stderr: &r.stderr, stdinTTY: true, now: time.Now,
		streamOptions: []kinesisstream.StreamOption{fastPoll}})
	return r
}

// Two processes of one group share a 4-shard stream whose records have
// random partition keys: each counts part of every page's records, and
// each prints the merged counts, equal to an offline recount of what was
// put, exact or, with -capacity, within the error each count states.
func TestRunGroupOnceMerges(t *testing.T) {
	kinesisEnv(t)
	kin, ddb := awstest.Kinesalite(t), awstest.Dynalite(t)
	client := awstest.KinesisClient(kin.Endpoint)
	stream := newTestStream(t, client, 4, nil)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 18))
	counts, bytes := putRandomKeys(t, client, stream, 3000, rng)
	t.Logf("%d pages: %v", len(counts), counts)

	for _, tc := range []struct {
		name string
		args []string
		want map[string]int
	}{
		{"exact", []string{"-field", "page"}, counts},
		{"weight", []string{"-field", "page", "-weight", "bytes"}, bytes},
		{"sketch", []string{"-field", "page", "-capacity", "200"}, counts},
	} {
		t.Run(tc.name, func(t *testing.T) {
			group := testname.Unique(t, "g")
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			args := append([]string{"-once", "-json", "-from", "trim-horizon", "-n", "100"}, tc.args...)
			runs := make([]*groupRun, 2)
			var wg sync.WaitGroup
			for i := range runs {
				wg.Go(func() { runs[i] = runGroup(ctx, kin.Endpoint, ddb.Endpoint, stream, group, args...) })
			}
			wg.Wait()
			var records int64
			for i, r := range runs {
				if r.code != 0 {
					t.Fatalf("process %d: run = %d: %s", i, r.code, r.stderr.String())
				}
				var rep report
				if err := json.Unmarshal([]byte(r.stdout.String()), &rep); err != nil {
					t.Fatalf("process %d: %v: %q", i, err, r.stdout.String())
				}
				records += rep.Records
				t.Logf("process %d read %d records", i, rep.Records)
				if !rep.Done || rep.Incomplete || rep.Note != "" || len(rep.Groups) != 1 {
					t.Fatalf("process %d: done %v, incomplete %v, note %q, %d groups; want done, complete, 1 group",
						i, rep.Done, rep.Incomplete, rep.Note, len(rep.Groups))
				}
				g := rep.Groups[0]
				sum := 0
				for _, n := range tc.want {
					sum += n
				}
				if g.Total != int64(sum) {
					t.Errorf("process %d: total %d, want %d", i, g.Total, sum)
				}
				got := map[string]int{}
				for _, row := range g.Top {
					got[row.Key] = int(row.Count)
					if row.Err > 0 || tc.want[row.Key] > int(row.Count) {
						// A count may be over by its Err, never under.
						if c := tc.want[row.Key]; c > int(row.Count) || c < int(row.Count-row.Err) {
							t.Errorf("process %d: %s counted %d±%d, put %d", i, row.Key, row.Count, row.Err, c)
						}
						got[row.Key] = tc.want[row.Key]
					}
				}
				if diff := gocmp.Diff(tc.want, got); diff != "" {
					t.Errorf("process %d: counts (-put +shown):\n%s", i, diff)
				}
			}
			// Each counted its own shards; after a hand-off a shard's
			// records may be read again, never fewer.
			if records < 3000 {
				t.Errorf("the processes read %d records together, want at least 3000", records)
			}
		})
	}
}

// Live, two processes that hold two shards each both show the merged
// counts of records put with random partition keys: every page's count is
// the sum of the two processes' parts, as an offline recount says.
func TestRunGroupLiveShowsMergedCounts(t *testing.T) {
	kinesisEnv(t)
	kin, ddb := awstest.Kinesalite(t), awstest.Dynalite(t)
	client := awstest.KinesisClient(kin.Endpoint)
	stream := newTestStream(t, client, 4, nil)
	group := testname.Unique(t, "g")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	outs := make([]*logbuf.Buffer, 2)
	errs := make([]logbuf.Buffer, 2)
	codes := make([]int, 2)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for i := range outs {
		outs[i] = &logbuf.Buffer{}
		wg.Go(func() {
			codes[i] = run(ctx, []string{"-kinesis", stream, "-group", group, "-region", awstest.Region,
				"-kinesis-endpoint", kin.Endpoint, "-dynamodb-endpoint", ddb.Endpoint,
				"-field", "page", "-json", "-refresh", "200ms", "-n", "100", "-from", "trim-horizon"},
				env{stdout: outs[i], stderr: &errs[i], stdinTTY: true, now: time.Now,
					streamOptions: []kinesisstream.StreamOption{fastPoll}})
		})
	}

	// Put the records once the two workers hold two shards each.
	store, err := dynamostore.New(awstest.DynamoDBClient(ddb.Endpoint), leaseTable(group))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "two workers holding two shards each", func() bool {
		leases, err := store.List(ctx)
		owners := map[string]int{}
		for _, l := range leases {
			owners[l.Owner]++
		}
		return err == nil && len(leases) == 4 && len(owners) == 2 && owners[leases[0].Owner] == 2 && owners[""] == 0
	}, func() string { return errs[0].String() + errs[1].String() })
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 18))
	counts, _ := putRandomKeys(t, client, stream, 2000, rng)

	last := make([]report, 2)
	waitFor(ctx, t, "both showing every record put", func() bool {
		for i, out := range outs {
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			last[i] = report{}
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last[i]); err != nil {
				return false
			}
			if last[i].Incomplete || len(last[i].Groups) != 1 || last[i].Groups[0].Total != 2000 {
				return false
			}
		}
		return true
	}, func() string {
		return fmt.Sprintf("last reports %+v; stderr %s %s", last, errs[0].String(), errs[1].String())
	})
	cancel()
	wg.Wait()
	for i, rep := range last {
		if codes[i] != 0 {
			t.Errorf("process %d: run = %d: %s", i, codes[i], errs[i].String())
		}
		t.Logf("process %d read %d records", i, rep.Records)
		if rep.Records == 0 || rep.Records >= 2000 {
			t.Errorf("process %d read %d of the 2000 records; want a part, as it holds two of the four shards", i, rep.Records)
		}
		got := map[string]int{}
		for _, row := range rep.Groups[0].Top {
			got[row.Key] = int(row.Count)
		}
		if diff := gocmp.Diff(counts, got); diff != "" {
			t.Errorf("process %d: counts (-put +shown):\n%s", i, diff)
		}
	}
}

// waitFor polls cond until it holds, failing t with what says when ctx
// ends first.
func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool, say func() string) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v; %s", what, ctx.Err(), say())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// A DynamoDB endpoint that does not answer fails the start, naming the flag,
// the endpoint and the table.
func TestRunGroupFailsAtStart(t *testing.T) {
	kinesisEnv(t)
	kin := awstest.Kinesalite(t)
	stream := newTestStream(t, awstest.KinesisClient(kin.Endpoint), 1, nil)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	start := time.Now()
	r := runGroup(ctx, kin.Endpoint, "http://127.0.0.1:1", stream, "nowhere", "-json")
	if r.code != 1 || r.stdout.Len() != 0 {
		t.Errorf("run = %d, stdout %q; want 1 and nothing printed", r.code, r.stdout.String())
	}
	for _, w := range []string{"-group nowhere", "streamtop-nowhere-leases", "-dynamodb-endpoint http://127.0.0.1:1"} {
		if !strings.Contains(r.stderr.String(), w) {
			t.Errorf("message %q does not name %q", r.stderr.String(), w)
		}
	}
	if d := time.Since(start); d > startCheckTimeout+5*time.Second {
		t.Errorf("failed after %v", d)
	}
}

// On a stream with records that all fail to decode, -once still ends, once
// every shard has been read through its start: with no counts, and the
// skipped records in the header.
func TestRunGroupOnceNothingToCount(t *testing.T) {
	kinesisEnv(t)
	kin, ddb := awstest.Kinesalite(t), awstest.Dynalite(t)
	client := awstest.KinesisClient(kin.Endpoint)
	stream := newTestStream(t, client, 2, map[string]int{"a": 3, "b": 4}) // {"page": key}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	r := runGroup(ctx, kin.Endpoint, ddb.Endpoint, stream, testname.Unique(t, "g"),
		"-once", "-json", "-from", "trim-horizon", "-field", "missing")
	if r.code != 0 {
		t.Fatalf("run = %d: %s", r.code, r.stderr.String())
	}
	var rep report
	if err := json.Unmarshal([]byte(r.stdout.String()), &rep); err != nil {
		t.Fatalf("%v: %q", err, r.stdout.String())
	}
	if !rep.Done || len(rep.Groups) != 0 || rep.Records != 7 || rep.Skipped.NoField != 7 || rep.Window.End.IsZero() || rep.Note != "" {
		t.Errorf("report %+v; want done, no groups, 7 records all without the field, a window, no note", rep)
	}
}

// The merged view shows the newest window every shard has written; while
// none is, the newest one written, marked incomplete in the JSON and the
// header; with nothing written, a note saying why.
func TestMergedReporterShowsNewestComplete(t *testing.T) {
	mem := mustMemory(t)
	cfg, err := parseFlags([]string{"-kinesis", "s", "-group", "g", "-window", "10s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	src := &groupSource{cfg: cfg, label: "test", counts: mem, skips: &skipCounter{}, warns: &warnings{}, agg: mustAggregator(t, mem), now: time.Now}
	rep := src.reporter(cfg.groups)

	// Times from the clock, on the bucket grid: the sink's retention
	// judges them by the wall clock.
	now := time.Now().UTC().Truncate(time.Second)
	if r := rep.report(now, 5); len(r.Groups) != 0 || r.Note == "" || r.Incomplete {
		t.Errorf("nothing written: report %+v; want no groups and a note", r)
	}

	// Two shards halve the hash key space; each writes its part of the
	// window ending at e1, and only shard 0 the one ending at e2.
	e1, e2 := now.Add(-2*time.Second), now.Add(-time.Second)
	shards := []sink.Progress{
		{Shard: "s0", HashKeyStart: "0", HashKeyEnd: "170141183460469231731687303715884105727", Bucket: time.Second},
		{Shard: "s1", HashKeyStart: "170141183460469231731687303715884105728", HashKeyEnd: "340282366920938463463374607431768211455", Bucket: time.Second},
	}
	write := func(shard int, end time.Time, keys map[string]int64) {
		var total int64
		var counts []topk.Entry[string]
		for k, n := range keys {
			counts = append(counts, topk.Entry[string]{Key: k, Count: n})
			total += n
		}
		slices.SortFunc(counts, func(a, b topk.Entry[string]) int { return cmp.Compare(b.Count, a.Count) })
		id := shards[shard].Shard
		err := mem.Write(t.Context(), []sink.Snapshot{
			{Group: keysPrefix, Time: end, Window: cfg.window, Shard: id, Counts: counts},
			{Group: totalsGroup, Time: end, Window: cfg.window, Shard: id, Counts: []topk.Entry[string]{{Key: totalsPrefix, Count: total}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		p := shards[shard]
		p.Through = end
		if err := mem.WriteProgress(t.Context(), p); err != nil {
			t.Fatal(err)
		}
	}
	write(0, e1, map[string]int64{"a": 3, "b": 1})
	r := rep.report(now, 5)
	if !r.Incomplete || !r.Window.End.Equal(e1) || !strings.Contains(r.header(), "incomplete") {
		t.Errorf("one shard of two wrote e1: incomplete %v, end %v, header %q; want e1, marked incomplete", r.Incomplete, r.Window.End, r.header())
	}
	write(1, e1, map[string]int64{"a": 2, "c": 4})
	write(0, e2, map[string]int64{"a": 9})
	r = rep.report(now, 5)
	want := []row{
		{Rank: 1, Key: "a", Count: 5, Share: 0.5},
		{Rank: 2, Key: "c", Count: 4, Share: 0.4, New: true},
		{Rank: 3, Key: "b", Count: 1, Share: 0.1, Change: -1}, // second in the incomplete report
	}
	if r.Incomplete || !r.Window.End.Equal(e1) || len(r.Groups) != 1 || r.Groups[0].Total != 10 || r.Groups[0].Keys != 3 {
		t.Fatalf("both wrote e1, one e2: report %+v; want e1 complete, total 10, 3 keys", r)
	}
	if diff := gocmp.Diff(want, r.Groups[0].Top); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	if !strings.Contains(r.header(), e1.Format("15:04:05")) || strings.Contains(r.header(), "incomplete") {
		t.Errorf("header %q; want the window to e1, not marked", r.header())
	}
	// Nothing written for 20 s more: the view says the counts are behind.
	if r := rep.report(now.Add(20*time.Second), 5); !strings.Contains(r.Note, "22s behind") || !r.Window.End.Equal(e1) {
		t.Errorf("20 s later: note %q, end %v; want e1 and a note that the counts are 22s behind", r.Note, r.Window.End)
	}
}

func mustMemory(t *testing.T) *sink.Memory {
	t.Helper()
	m, err := sink.NewMemory()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mustAggregator(t *testing.T, w sink.Writer) *aggregate.Aggregator {
	t.Helper()
	a, err := aggregate.New(aggregate.Config{Size: time.Minute, Bucket: time.Second, Sink: w,
		Decoder: aggregate.DecoderFunc(func(_ source.Record, dst []aggregate.Item) ([]aggregate.Item, error) { return dst, nil })})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Live, once the window has slid past the last record, the view shows the
// empty windows that every shard has written, still moving with the
// clock, not a note or a window left behind (the lag allows for a loaded
// machine: the shards close windows two buckets after their end, or later).
func TestRunGroupLiveQuietWindow(t *testing.T) {
	kinesisEnv(t)
	kin, ddb := awstest.Kinesalite(t), awstest.Dynalite(t)
	client := awstest.KinesisClient(kin.Endpoint)
	stream := newTestStream(t, client, 2, map[string]int{"a": 2, "b": 1})
	put := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var out, errOut logbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"-kinesis", stream, "-group", testname.Unique(t, "g"), "-region", awstest.Region,
			"-kinesis-endpoint", kin.Endpoint, "-dynamodb-endpoint", ddb.Endpoint,
			"-field", "page", "-json", "-refresh", "200ms", "-from", "trim-horizon", "-window", "3s"},
			env{stdout: &out, stderr: &errOut, stdinTTY: true, now: time.Now,
				streamOptions: []kinesisstream.StreamOption{fastPoll}})
	}()
	var reps []report
	waitFor(ctx, t, "an empty window two seconds after the records left it", func() bool {
		reps = reps[:0]
		for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			var r report
			if json.Unmarshal([]byte(line), &r) == nil {
				reps = append(reps, r)
			}
		}
		if len(reps) == 0 {
			return false
		}
		last := reps[len(reps)-1]
		return len(last.Groups) == 0 && last.Window.End.After(put.Add(5*time.Second))
	}, func() string { return out.String() + errOut.String() })
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("run = %d: %s", code, errOut.String())
	}
	sawCounts := false
	for _, r := range reps {
		if len(r.Groups) == 1 && r.Groups[0].Total == 3 {
			sawCounts = true
		}
		if !sawCounts {
			continue
		}
		if r.Note != "" || r.Incomplete || r.Window.End.IsZero() || r.LagMillis == nil || *r.LagMillis > 10_000 {
			t.Errorf("after the counts, report at %v: note %q, incomplete %v, window end %v, lag %v ms; want a complete window near now",
				r.Time, r.Note, r.Incomplete, r.Window.End, r.LagMillis)
		}
	}
	if !sawCounts {
		t.Errorf("no report showed the 3 records put")
	}
}
