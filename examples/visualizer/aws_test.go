package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	kintypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamtop/streamtop/internal/awstest"
	"github.com/streamtop/streamtop/internal/consumertest"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/kinesisstream"
)

// awsConfig points the program at the shared emulators, with names of its
// own. The SDK's default chain finds the static credentials in the
// environment, as a user's shell would provide them.
func awsConfig(t *testing.T, r roles, host string) config {
	t.Helper()
	c := testConfig()
	c.rate, c.drift, c.host, c.roles = 300, 0, host, r
	c.kinesisEndpoint = awstest.Kinesalite(t).Endpoint
	c.dynamodbEndpoint = awstest.Dynalite(t).Endpoint
	c.region = awstest.Region
	c.stream = testStream(t)
	return c
}

// testStream returns a stream name of t's own, and deletes the stream, if
// there is one, when t ends and its processes have stopped (for which the
// cleanup must be registered before theirs): every stream counts against
// the shard limit of the binary's one kinesalite.
func testStream(t *testing.T) string {
	t.Helper()
	name, kin := awstest.UniqueName(t, "visits"), awstest.Kinesis(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := kinesisstream.DeleteStream(ctx, kin, name); err != nil {
			t.Errorf("deleting the test's stream: %v", err)
		}
	})
	return name
}

func setAWSEnv(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDVISUALIZER")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "visualizer-secret")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
}

// startRole runs one role of the program in-process and returns a func that
// stops it gracefully and waits.
func startRole(t *testing.T, c config) (*app, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan *app, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, c, io.Discard, func(a *app) { started <- a }) }()
	var a *app
	select {
	case a = <-started:
	case err := <-done:
		cancel()
		t.Fatalf("run %+v: %v", c.roles, err)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatalf("run %+v: not started within 60 s", c.roles)
	}
	var stopped bool
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run %+v after shutdown: %v", c.roles, err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("run %+v: no graceful shutdown within 30 s", c.roles)
		}
	}
	t.Cleanup(stop)
	return a, stop
}

// TestAWSModeSplitRoles runs the three roles apart, as separate machines
// would, on kinesalite and dynalite: a producer, two consumers sharing the
// shards, and a web server reading the counts table. When one consumer
// stops, the other takes its shards and the page's data keeps flowing,
// now written by the other host.
func TestAWSModeSplitRoles(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the Kinesis and DynamoDB emulators")
	}
	setAWSEnv(t)
	base := awsConfig(t, roles{}, "")
	base.leaseTable = awstest.UniqueName(t, "leases")
	base.countsTable = awstest.UniqueName(t, "counts")
	with := func(r roles, host string) config {
		c := base
		c.roles, c.host = r, host
		return c
	}

	startRole(t, with(roles{producer: true}, "producer"))
	_, stopC1 := startRole(t, with(roles{consumer: true}, "consumer-1"))
	startRole(t, with(roles{consumer: true}, "consumer-2"))
	web, _ := startRole(t, with(roles{web: true}, "web"))
	root := strings.TrimSuffix(web.url, "/")

	// latestHosts waits until every resource has a complete window newer
	// than after, and returns who wrote each newest one. The producer keys
	// records at random, so a window is complete once the consumers of
	// both shards have written their parts.
	latestHosts := func(after time.Time, within time.Duration) map[string]string {
		t.Helper()
		var hosts map[string]string
		err := eventually(within, func() error {
			hosts = map[string]string{}
			for _, res := range resources {
				rows := completeRows(fetchJSON[[]countsRow](t, root, "/api/counts?range_in_seconds=30&resource="+url.QueryEscape(res)))
				if len(rows) == 0 || !time.UnixMilli(rows[len(rows)-1].Timestamp).After(after) {
					return fmt.Errorf("%s: no complete window after %v yet", res, after.Format(time.TimeOnly))
				}
				hosts[res] = rows[len(rows)-1].Host
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return hosts
	}

	before := latestHosts(time.Now(), 45*time.Second)
	t.Logf("newest complete windows written by %v", before)
	for _, res := range resources {
		// The top 3 of the newest complete window, which latestHosts saw.
		top := fetchJSON[[]referrerCount](t, root, "/api/top?n=3&resource="+url.QueryEscape(res))
		if len(top) != 3 {
			t.Errorf("%s: top %v, want 3 rows", res, top)
		}
	}
	if got := fetchJSON[[]string](t, root, "/api/resources"); len(got) != len(resources) {
		t.Errorf("resources %v", got)
	}
	st := fetchJSON[status](t, root, "/api/status")
	if st.RecordsPerSecond <= 0 || st.Malformed != nil {
		t.Errorf("web-only status %+v: want a rate read from the counts table and no malformed count", st)
	}

	stopC1()
	after := latestHosts(time.Now().Add(2*time.Second), 45*time.Second)
	for res, h := range after {
		if h != "consumer-2" {
			t.Errorf("%s: newest complete window written by %s after consumer-1 stopped", res, h)
		}
	}

	// The Kinesis producer keyed the records as -partition-key says.
	stream, err := kinesisstream.New(awstest.Kinesis(t), base.stream)
	if err != nil {
		t.Fatal(err)
	}
	checkPartitioning(t, base.partitionKey, firstRecords(t, stream))
}

// firstRecords reads up to 2,000 records from the start of each of the
// stream's shards: enough to see how the records were keyed.
func firstRecords(t *testing.T, s source.Stream) []source.Record {
	t.Helper()
	return consumertest.ReadFirst(t, s, 2000)
}

// TestAWSModeProducerKeys runs the producer role alone on kinesalite, keyed
// by page and at random, and checks the records on the stream: the Kinesis
// producer keys them as -partition-key says, as the embedded one does
// (TestEndToEnd). The producer is run without the flags' check, which keeps
// random keys out of the AWS mode only for the counts table's sake.
func TestAWSModeProducerKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the Kinesis emulator")
	}
	setAWSEnv(t)
	for _, key := range []string{keyPage, keyRandom} {
		t.Run("partition-key="+key, func(t *testing.T) {
			c := awsConfig(t, roles{producer: true}, "producer")
			c.partitionKey, c.rate = key, 1000
			a, stop := startRole(t, c)
			if err := eventually(20*time.Second, func() error {
				if n := a.producer.sent.Load(); n < 2000 {
					return fmt.Errorf("%d visits put, want 2000", n)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			stop() // sends what the producer buffers
			stream, err := kinesisstream.New(awstest.Kinesis(t), c.stream)
			if err != nil {
				t.Fatal(err)
			}
			records := firstRecords(t, stream)
			if len(records) < 1000 {
				t.Fatalf("%d records read back, want at least 1000", len(records))
			}
			checkPartitioning(t, key, records)
			ctx := context.Background()
			if err := kinesisstream.DeleteStream(ctx, awstest.Kinesis(t), c.stream); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestAWSModeCleanup(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the Kinesis and DynamoDB emulators")
	}
	setAWSEnv(t)
	c := awsConfig(t, roles{producer: true, consumer: true, web: true}, "all")
	c.leaseTable = awstest.UniqueName(t, "leases")
	c.countsTable = awstest.UniqueName(t, "counts")
	_, stop := startRole(t, c)
	stop()

	c.cleanup = true
	if err := run(context.Background(), c, io.Discard, nil); err != nil {
		t.Fatalf("cleanup: %v\nkinesalite said:\n%s", err, awstest.Kinesalite(t).Output())
	}
	ctx := context.Background()
	_, err := awstest.Kinesis(t).DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(c.stream)})
	var noStream *kintypes.ResourceNotFoundException
	if !errors.As(err, &noStream) {
		t.Errorf("stream after cleanup: %v, want not found", err)
	}
	for _, table := range []string{c.leaseTable, c.countsTable} {
		_, err := awstest.DynamoDB(t).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		var noTable *ddbtypes.ResourceNotFoundException
		if !errors.As(err, &noTable) {
			t.Errorf("table %s after cleanup: %v, want not found", table, err)
		}
	}
	// Cleaning up again finds nothing to delete, which is not an error.
	if err := run(context.Background(), c, io.Discard, nil); err != nil {
		t.Fatalf("second cleanup: %v", err)
	}
}

// TestAWSModeProducerReportsLoss deletes the stream under a running
// producer role: the program logs the first lost record and stops with an
// error (main exits 1) within seconds, and says how many were lost in all.
func TestAWSModeProducerReportsLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the Kinesis emulator")
	}
	setAWSEnv(t)
	c := awsConfig(t, roles{producer: true}, "producer")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer // run writes through its own lock; read after it returns
	started := make(chan *app, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, c, &out, func(a *app) { started <- a }) }()
	var a *app
	select {
	case a = <-started:
	case err := <-done:
		t.Fatalf("run: %v", err)
	}
	if err := eventually(30*time.Second, func() error {
		if a.producer.sent.Load() < 300 {
			return errors.New("the producer has not put 300 records yet")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := kinesisstream.DeleteStream(ctx, awstest.Kinesis(t), c.stream); err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	const bound = 10 * time.Second
	var err error
	select {
	case err = <-done:
	case <-time.After(bound):
		cancel()
		t.Fatalf("run still going %v after the stream was deleted; err %v", bound, <-done)
	}
	var notFound *kintypes.ResourceNotFoundException
	if err == nil || !strings.Contains(err.Error(), "records lost") || !errors.As(err, &notFound) {
		t.Fatalf("run = %v, want records lost because the stream is not found", err)
	}
	for _, want := range []string{"visualizer: producer: lost a record of ", "visualizer: closing: kinesisstream: records not sent: "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	t.Logf("run returned %v after the deletion: %v", time.Since(deleted).Round(time.Millisecond), err)
}

// TestAWSModeUnreachable: an endpoint nobody listens on fails the start with
// a message naming its flag.
func TestAWSModeUnreachable(t *testing.T) {
	setAWSEnv(t)
	for _, tc := range []struct {
		roles roles
		flag  string
	}{
		{roles{producer: true}, "-kinesis-endpoint"},
		{roles{web: true}, "-dynamodb-endpoint"},
	} {
		c := testConfig()
		c.roles = tc.roles
		c.region = "us-east-1"
		c.kinesisEndpoint, c.dynamodbEndpoint = "http://127.0.0.1:1", "http://127.0.0.1:1"
		start := time.Now()
		err := run(context.Background(), c, io.Discard, nil)
		if err == nil || !strings.Contains(err.Error(), tc.flag+" http://127.0.0.1:1") {
			t.Errorf("%+v: error %v, want one naming %s", tc.roles, err, tc.flag)
		}
		if d := time.Since(start); d > startCheckTimeout+5*time.Second {
			t.Errorf("%+v: took %v to fail", tc.roles, d)
		}
	}
}

// TestAWSModeNoCredentials: missing credentials are reported as such, not as
// an unreachable endpoint.
func TestAWSModeNoCredentials(t *testing.T) {
	setAWSEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_PROFILE", "")
	c := testConfig()
	c.roles = roles{web: true}
	c.region, c.dynamodbEndpoint = "us-east-1", "http://127.0.0.1:1"
	err := run(context.Background(), c, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "AWS credentials") {
		t.Fatalf("error %v, want one about credentials", err)
	}
}

// TestAWSModeSDKLogsThroughSlog: with no credentials, the SDK's warning
// that it falls back to IMDSv1 is a slog record of the program, at WARN and
// marked component=aws-sdk, not a line of the SDK's own. (That nothing
// reaches file descriptor 2 is checked in internal/awsconf.)
func TestAWSModeSDKLogsThroughSlog(t *testing.T) {
	awstest.NoCredentials(t)
	c := testConfig()
	c.roles = roles{web: true}
	c.region, c.dynamodbEndpoint = awstest.Region, "http://127.0.0.1:1"
	var out bytes.Buffer
	err := run(context.Background(), c, &out, nil)
	if err == nil || !strings.Contains(err.Error(), "AWS credentials") {
		t.Fatalf("error %v, want one about credentials", err)
	}
	found := false
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if !strings.HasPrefix(l, "time=") {
			t.Errorf("output line %q is not a slog record", l)
		}
		found = found || strings.Contains(l, "level=WARN") && strings.Contains(l, "IMDSv1") && strings.Contains(l, "component=aws-sdk")
	}
	if !found {
		t.Errorf("output %q: want the SDK's IMDS warning as a WARN record with component=aws-sdk", out.String())
	}
}

// TestAWSModeLogsNoSecrets runs the AWS mode's start, work and stop with
// static credentials in the environment and records on the stream that are
// easy to spot, one of them malformed, then checks that nothing the program
// wrote, nor any error it returned, holds the secret or a record's payload.
func TestAWSModeLogsNoSecrets(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the Kinesis and DynamoDB emulators")
	}
	const (
		secret  = "SECRET-9f3ac1-visualizer"
		token   = "TOKEN-5be2d7-visualizer"
		payload = "PAYLOAD-71c0e4"
	)
	setAWSEnv(t)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	t.Setenv("AWS_SESSION_TOKEN", token)
	c := awsConfig(t, roles{producer: true, consumer: true, web: true}, "logcheck")
	c.leaseTable = awstest.UniqueName(t, "leases")
	c.countsTable = awstest.UniqueName(t, "counts")

	// The marked records go first, so the consumer reads them at once.
	ctx := context.Background()
	kin := awstest.Kinesis(t)
	if err := kinesisstream.CreateStream(ctx, kin, c.stream, c.shards); err != nil {
		t.Fatal(err)
	}
	for _, data := range []string{
		`{"resource":"/` + payload + `-broken.html","referrer":`,
		`{"resource":"/` + payload + `.html","referrer":"http://` + payload + `.example"}`,
	} {
		if _, err := kin.PutRecord(ctx, &kinesis.PutRecordInput{
			StreamName: aws.String(c.stream), PartitionKey: aws.String(payload), Data: []byte(data),
		}); err != nil {
			t.Fatal(err)
		}
	}

	var out bytes.Buffer // run serializes its writes; read only after it returns
	var errs []string
	rctx, cancel := context.WithCancel(ctx)
	started := make(chan *app, 1)
	done := make(chan error, 1)
	go func() { done <- run(rctx, c, &out, func(a *app) { started <- a }) }()
	var a *app
	select {
	case a = <-started:
	case err := <-done:
		cancel()
		t.Fatalf("run: %v", err)
	}
	if err := eventually(30*time.Second, func() error {
		if m := a.agg.Stats().Malformed; m < 1 {
			return fmt.Errorf("%d malformed records counted, want the one put", m)
		}
		return nil
	}); err != nil {
		cancel()
		<-done
		t.Fatal(err)
	}
	// Requests that fail are answered, and not logged with what they held.
	for _, target := range []string{"/api/top?n=3&resource=/" + payload + ".html", "/api/counts?resource=" + payload, "/nothing"} {
		if res, err := http.Get(a.url + strings.TrimPrefix(target, "/")); err == nil {
			res.Body.Close()
		}
	}
	cancel()
	if err := <-done; err != nil {
		errs = append(errs, err.Error())
	}

	// The paths that fail print their errors; main writes those to stderr.
	unreachable := c
	unreachable.kinesisEndpoint, unreachable.dynamodbEndpoint = "http://127.0.0.1:1", "http://127.0.0.1:1"
	if err := run(ctx, unreachable, &out, nil); err != nil {
		errs = append(errs, err.Error())
	}
	c.cleanup = true
	if err := run(ctx, c, &out, nil); err != nil {
		errs = append(errs, err.Error())
	}

	all := out.String() + strings.Join(errs, "\n")
	if !strings.Contains(all, "serving http://127.0.0.1:") || !strings.Contains(all, "not reachable") {
		t.Fatalf("the output misses lines this test expects, so it checks nothing:\n%s", all)
	}
	for _, bad := range []string{secret, token, payload} {
		if strings.Contains(all, bad) {
			t.Errorf("the output holds %q:\n%s", bad, all)
		}
	}
}
