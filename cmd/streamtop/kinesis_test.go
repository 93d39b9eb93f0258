package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	gocmp "github.com/google/go-cmp/cmp"

	"github.com/streamtop/streamtop/internal/awstest"
	"github.com/streamtop/streamtop/internal/logbuf"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/kinesisstream"
)

// fastPoll lets the tests read kinesalite without Kinesis's 200 ms pacing.
var fastPoll = kinesisstream.WithPollInterval(10 * time.Millisecond)

// newTestStream creates a stream of shards on the shared kinesalite and puts
// records on it: per key, as many as counts says, each with its key as
// partition key and {"page": key} as data. It returns the stream's name.
func newTestStream(t *testing.T, client *sdk.Client, shards int, counts map[string]int) string {
	t.Helper()
	ctx := t.Context()
	name := awstest.UniqueName(t, "top")
	if err := kinesisstream.CreateStream(ctx, client, name, shards); err != nil {
		t.Fatal(err)
	}
	// kinesalite holds 10 shards an account: give them back, or a second
	// run of the tests (-count) finds none left.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := kinesisstream.DeleteStream(ctx, client, name); err != nil {
			t.Errorf("DeleteStream %s: %v", name, err)
		}
	})
	putRecords(t, client, name, counts)
	return name
}

// putRecords puts, per key, as many records as counts says.
func putRecords(t *testing.T, client *sdk.Client, name string, counts map[string]int) {
	t.Helper()
	ctx := t.Context()
	var entries []types.PutRecordsRequestEntry
	for key, n := range counts {
		for range n {
			entries = append(entries, types.PutRecordsRequestEntry{
				PartitionKey: aws.String(key),
				Data:         fmt.Appendf(nil, `{"page":%q}`, key),
			})
		}
	}
	for len(entries) > 0 {
		n := min(len(entries), kinesisstream.MaxBatchRecords)
		out, err := client.PutRecords(ctx, &sdk.PutRecordsInput{StreamName: aws.String(name), Records: entries[:n]})
		if err != nil {
			t.Fatal(err)
		}
		if c := aws.ToInt32(out.FailedRecordCount); c != 0 {
			t.Fatalf("PutRecords: %d of %d records failed", c, n)
		}
		entries = entries[n:]
	}
}

var putCounts = map[string]int{"/index.html": 40, "/cart": 25, "/about": 7, "/help": 1}

func total(counts map[string]int) int {
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}

// noLagClient is a client whose GetRecords leaves MillisBehindLatest out.
// Kinesalite always reports 0; a service that says nothing must not be shown
// as caught up.
type noLagClient struct{ *sdk.Client }

func (c noLagClient) GetRecords(ctx context.Context, in *sdk.GetRecordsInput, optFns ...func(*sdk.Options)) (*sdk.GetRecordsOutput, error) {
	out, err := c.Client.GetRecords(ctx, in, optFns...)
	if out != nil {
		out.MillisBehindLatest = nil
	}
	return out, err
}

// The -kinesis source reads every shard of the stream from TRIM_HORIZON:
// each record once, with its partition key and its arrival in the stream.
// Its lag is the one GetRecords reports (kinesalite's is always 0), or
// unknown (-1) when GetRecords reports none.
func TestKinesisSourceReadsEveryShard(t *testing.T) {
	client := awstest.Kinesis(t)
	name := newTestStream(t, client, 3, putCounts)
	for _, tc := range []struct {
		name   string
		client kinesisClient
		lag    int64
	}{
		{"lag-reported", client, 0},
		{"lag-missing", noLagClient{client}, -1},
	} {
		t.Run(tc.name, func(t *testing.T) { readAll(t, tc.client, name, tc.lag) })
	}
}

func readAll(t *testing.T, client kinesisClient, name string, wantLag int64) {
	cfg := &config{kinesis: name, from: source.Position{Type: source.TrimHorizon}}
	src, err := openKinesis(t.Context(), client, cfg, "at the test's kinesalite", fastPoll)
	if err != nil {
		t.Fatal(err)
	}
	if src.name() != "kinesis "+name {
		t.Errorf("name() = %q", src.name())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	got := map[string]int{}
	lags := map[int64]bool{}
	var early []time.Time
	start := time.Now().Add(-time.Minute) // kinesalite's clock is this machine's
	err = src.run(ctx, func(b batch) {
		for _, r := range b.recs {
			var v struct{ Page string }
			if err := json.Unmarshal(r.Data, &v); err != nil || v.Page != r.Key {
				t.Errorf("record %q with key %q", r.Data, r.Key)
			}
			got[r.Key]++
			if r.Arrival.Before(start) {
				early = append(early, r.Arrival)
			}
		}
		lags[b.lagMs] = true
		if total(got) >= total(putCounts) {
			cancel()
		}
	})
	if ctx.Err() == nil || t.Context().Err() != nil {
		t.Fatalf("run ended by itself: %v", err)
	}
	if diff := gocmp.Diff(putCounts, got); diff != "" {
		t.Errorf("records read per key (-put +read):\n%s", diff)
	}
	if len(early) > 0 {
		t.Errorf("arrival times %v are not the stream's", early)
	}
	if !maps.Equal(lags, map[int64]bool{wantLag: true}) {
		t.Errorf("lags reported %v, want only %d", lags, wantLag)
	}
}

// kinesisEnv gives the command static credentials and no shared config
// files, so the SDK's default chain finds the same on every machine.
func kinesisEnv(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDSTREAMTOP")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "streamtop-test")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// The whole command, as a user runs it against a local kinesalite: counts
// per partition key (-field @key) and per JSON field equal what was put.
func TestRunKinesis(t *testing.T) {
	kinesisEnv(t)
	emu := awstest.Kinesalite(t)
	client := awstest.KinesisClient(emu.Endpoint)
	name := newTestStream(t, client, 2, putCounts)
	for _, field := range []string{"@key", "page"} {
		t.Run(field, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			var out logbuf.Buffer
			var errOut strings.Builder
			done := make(chan int, 1)
			go func() {
				done <- run(ctx, []string{"-kinesis", name, "-from", "trim-horizon", "-field", field,
					"-region", awstest.Region, "-kinesis-endpoint", emu.Endpoint,
					"-json", "-refresh", "50ms"}, env{stdout: &out, stderr: &errOut, stdinTTY: true, now: time.Now})
			}()
			var last report
		wait:
			for {
				select {
				case code := <-done:
					t.Fatalf("run = %d before it read everything: %s", code, errOut.String())
				case <-ctx.Done():
					t.Fatalf("%d of %d records after 30 s; output:\n%s", last.Records, total(putCounts), out.String())
				case <-time.After(50 * time.Millisecond):
				}
				lines := strings.Split(strings.TrimSpace(out.String()), "\n")
				if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err == nil && last.Records >= int64(total(putCounts)) {
					break wait
				}
			}
			cancel()
			if code := <-done; code != 0 {
				t.Fatalf("run = %d: %s", code, errOut.String())
			}
			if last.Records != int64(total(putCounts)) || last.Source != "kinesis "+name || last.LagMillis == nil || *last.LagMillis != 0 {
				t.Errorf("records %d, source %q, lag %v; want %d, %q, kinesalite's 0", last.Records, last.Source, last.LagMillis, total(putCounts), "kinesis "+name)
			}
			if len(last.Groups) != 1 {
				t.Fatalf("%d groups, want 1", len(last.Groups))
			}
			got := map[string]int{}
			for _, r := range last.Groups[0].Top {
				got[r.Key] = int(r.Count)
			}
			if diff := gocmp.Diff(putCounts, got); diff != "" {
				t.Errorf("counts (-put +shown):\n%s", diff)
			}
		})
	}
}

// A stream that is not there, or an endpoint that does not answer, fails
// the start with exit status 1 and a message naming the stream, the
// endpoint and the flag.
func TestRunKinesisFailsAtStart(t *testing.T) {
	kinesisEnv(t)
	emu := awstest.Kinesalite(t)
	for _, tc := range []struct {
		name, endpoint string
		want           []string
	}{
		{"nosuch", emu.Endpoint, []string{"-kinesis nosuch", "no such stream", "-kinesis-endpoint " + emu.Endpoint}},
		{"anything", "http://127.0.0.1:1", []string{"-kinesis anything", "-kinesis-endpoint http://127.0.0.1:1"}},
	} {
		var stdout, stderr strings.Builder
		start := time.Now()
		code := run(t.Context(), []string{"-kinesis", tc.name, "-region", awstest.Region, "-kinesis-endpoint", tc.endpoint, "-json"},
			env{stdout: &stdout, stderr: &stderr, stdinTTY: true, now: time.Now})
		if code != 1 || stdout.Len() != 0 {
			t.Errorf("-kinesis %s at %s: run = %d, stdout %q; want 1 and nothing printed", tc.name, tc.endpoint, code, stdout.String())
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr.String(), w) {
				t.Errorf("-kinesis %s at %s: message %q does not name %q", tc.name, tc.endpoint, stderr.String(), w)
			}
		}
		if d := time.Since(start); d > startCheckTimeout+5*time.Second {
			t.Errorf("-kinesis %s at %s: failed after %v", tc.name, tc.endpoint, d)
		}
	}
}

// Without -region, AWS_REGION or a shared config, the command says which
// flag to give.
func TestRunKinesisNoRegion(t *testing.T) {
	kinesisEnv(t)
	var stderr strings.Builder
	code := run(t.Context(), []string{"-kinesis", "s", "-json"}, env{stdout: &strings.Builder{}, stderr: &stderr, stdinTTY: true, now: time.Now})
	if code != 2 || !strings.Contains(stderr.String(), "-region") {
		t.Errorf("run = %d, %q; want 2 and a message naming -region", code, stderr.String())
	}
}

// With no credentials, the SDK's IMDS warning reaches stderr as a slog
// record (component=aws-sdk) before the command's own error, never as a
// line of the SDK's own.
func TestRunKinesisSDKLogsThroughSlog(t *testing.T) {
	awstest.NoCredentials(t)
	var stderr strings.Builder
	code := run(t.Context(), []string{"-kinesis", "s", "-kinesis-endpoint", "http://127.0.0.1:1", "-json"},
		env{stdout: &strings.Builder{}, stderr: &stderr, stdinTTY: true, now: time.Now})
	if code != 1 || !strings.Contains(stderr.String(), "no AWS credentials") {
		t.Fatalf("run = %d, %q; want 1 and a message about credentials", code, stderr.String())
	}
	found := false
	for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if !strings.HasPrefix(l, "time=") && !strings.HasPrefix(l, "streamtop: ") {
			t.Errorf("stderr line %q is neither a slog record nor the command's own", l)
		}
		found = found || strings.HasPrefix(l, "time=") && strings.Contains(l, "level=WARN") &&
			strings.Contains(l, "IMDSv1") && strings.Contains(l, "component=aws-sdk")
	}
	if !found {
		t.Errorf("stderr %q: want the SDK's IMDS warning as a WARN record with component=aws-sdk", stderr.String())
	}
}

// -once reads every shard up to the newest record, following the children of
// a split, and prints the counts of all that was put.
func TestRunKinesisOnce(t *testing.T) {
	kinesisEnv(t)
	emu := awstest.Kinesalite(t)
	client := awstest.KinesisClient(emu.Endpoint)
	ctx := t.Context()
	before := map[string]int{"/index.html": 5, "/old": 3}
	name := newTestStream(t, client, 2, before)

	// Split the first shard in the middle of its hash range, then put more:
	// some of those records land in its children.
	shards, err := client.ListShards(ctx, &sdk.ListShardsInput{StreamName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	r := shards.Shards[0].HashKeyRange
	lo, _ := new(big.Int).SetString(aws.ToString(r.StartingHashKey), 10)
	hi, _ := new(big.Int).SetString(aws.ToString(r.EndingHashKey), 10)
	mid := new(big.Int).Rsh(new(big.Int).Add(lo, hi), 1)
	if _, err := client.SplitShard(ctx, &sdk.SplitShardInput{
		StreamName: aws.String(name), ShardToSplit: shards.Shards[0].ShardId, NewStartingHashKey: aws.String(mid.String()),
	}); err != nil {
		t.Fatal(err)
	}
	if err := kinesisstream.WaitActive(ctx, client, name); err != nil {
		t.Fatal(err)
	}
	putRecords(t, client, name, putCounts)
	all := maps.Clone(putCounts)
	for k, n := range before {
		all[k] += n
	}
	rep := runKinesisOnce(t, emu.Endpoint, name, "trim-horizon")
	if diff := gocmp.Diff(all, keyCounts(rep)); diff != "" || !rep.Done {
		t.Errorf("done %v, counts (-put +shown):\n%s", rep.Done, diff)
	}
}

// -from a time leaves out what arrived before it.
//
// One shard only: kinesalite never answers GetShardIterator AT_TIMESTAMP on
// a shard with no record at or after the time (Kinesis does).
func TestRunKinesisOnceFromTime(t *testing.T) {
	kinesisEnv(t)
	emu := awstest.Kinesalite(t)
	client := awstest.KinesisClient(emu.Endpoint)
	name := newTestStream(t, client, 1, map[string]int{"/old": 4})
	// Arrival times are in milliseconds, on this machine's clock.
	time.Sleep(20 * time.Millisecond)
	since := time.Now()
	time.Sleep(20 * time.Millisecond)
	putRecords(t, client, name, putCounts)
	rep := runKinesisOnce(t, emu.Endpoint, name, since.Format(time.RFC3339Nano))
	if diff := gocmp.Diff(putCounts, keyCounts(rep)); diff != "" || !rep.Done {
		t.Errorf("done %v, counts (-put +shown):\n%s", rep.Done, diff)
	}
}

// runKinesisOnce runs -once -json -field @key on the stream and returns the
// report.
func runKinesisOnce(t *testing.T, endpoint, name, from string) report {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var stdout, stderr strings.Builder
	code := run(ctx, []string{"-once", "-json", "-kinesis", name, "-from", from, "-field", "@key",
		"-region", awstest.Region, "-kinesis-endpoint", endpoint}, env{stdout: &stdout, stderr: &stderr, stdinTTY: true, now: time.Now})
	if code != 0 {
		t.Fatalf("-from %s: run = %d: %s", from, code, stderr.String())
	}
	var rep report
	if err := json.Unmarshal([]byte(stdout.String()), &rep); err != nil {
		t.Fatalf("-from %s: %v: %q", from, err, stdout.String())
	}
	return rep
}

func keyCounts(rep report) map[string]int {
	got := map[string]int{}
	for _, g := range rep.Groups {
		for _, r := range g.Top {
			got[r.Key] += int(r.Count)
		}
	}
	return got
}

// A -from time still to come fails at start, naming the flag.
func TestRunKinesisFromFuture(t *testing.T) {
	kinesisEnv(t)
	var stderr strings.Builder
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	code := run(t.Context(), []string{"-kinesis", "s", "-from", future, "-json"},
		env{stdout: &strings.Builder{}, stderr: &stderr, stdinTTY: true, now: time.Now})
	if code != 2 || !strings.Contains(stderr.String(), "-from "+future) {
		t.Errorf("run = %d, %q; want 2 and a message naming -from", code, stderr.String())
	}
}
