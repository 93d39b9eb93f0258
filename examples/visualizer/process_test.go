package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/streamtop/streamtop/internal/awstest"
	"github.com/streamtop/streamtop/internal/logbuf"
	"github.com/streamtop/streamtop/source/kinesisstream"
)

// TestAWSModeProcesses runs the program as the original sample ran: a
// producer, two consumers and a web server as four processes on kinesalite
// and dynalite. One consumer is killed outright (SIGKILL, no graceful
// shutdown); once its leases expire the other takes its shards, restores
// their windows from the state saved with the checkpoints in the lease table
// (package aggregate), and the page's data flows on, now written by the
// surviving host, with full windows from the first one.
func TestAWSModeProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the program and starts the Kinesis and DynamoDB emulators")
	}
	kin, ddb := awstest.Kinesalite(t).Endpoint, awstest.Dynalite(t).Endpoint
	bin := filepath.Join(t.TempDir(), "visualizer")
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command, which go test puts on PATH: %v", err)
	}
	build := exec.Command(gobin, "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	stream := testStream(t)
	common := []string{
		"-kinesis-endpoint", kin, "-dynamodb-endpoint", ddb, "-region", awstest.Region,
		"-stream", stream,
		"-lease-table", awstest.UniqueName(t, "leases"),
		"-counts-table", awstest.UniqueName(t, "counts"),
		// Keyed by page: the one choice the AWS mode takes until the
		// counts table merges partials, and so a case here while the
		// other AWS tests key at random.
		"-partition-key", "page",
	}
	env := append(os.Environ(),
		"AWS_ACCESS_KEY_ID=AKIDVISUALIZER", "AWS_SECRET_ACCESS_KEY=visualizer-secret",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	urlLine := regexp.MustCompile(`serving (http://\S+)/`)

	// Everything the processes print is kept, to check at the end that none
	// of it holds the secret key or a record's payload. Registered first,
	// this cleanup runs after every process has stopped.
	const payload = "PAYLOAD-3d9e61"
	var logs logbuf.Buffer
	t.Cleanup(func() {
		all := logs.String()
		if !strings.Contains(all, "consuming as worker") {
			t.Errorf("the processes' output misses lines this test expects:\n%s", all)
		}
		for _, bad := range []string{"visualizer-secret", payload} {
			if strings.Contains(all, bad) {
				t.Errorf("the processes printed %q:\n%s", bad, all)
			}
		}
	})

	// start runs one process and waits until it prints the line that says
	// its role is up; the web process's gives the page's URL. Processes are
	// stopped with SIGINT when the test ends.
	start := func(upLine string, args ...string) (*exec.Cmd, string) {
		t.Helper()
		cmd := exec.Command(bin, append(append([]string{}, common...), args...)...)
		cmd.Env = env
		cmd.Stderr = io.MultiWriter(os.Stderr, &logs)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cmd.Process.Signal(syscall.SIGINT)
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				<-done
			}
		})
		up := make(chan string, 1)
		go func() {
			lines := bufio.NewScanner(out)
			for lines.Scan() {
				fmt.Fprintln(&logs, lines.Text())
				if strings.Contains(lines.Text(), upLine) {
					up <- lines.Text()
					break
				}
			}
			for lines.Scan() { // keep the pipe drained
				fmt.Fprintln(&logs, lines.Text())
			}
		}()
		select {
		case line := <-up:
			if m := urlLine.FindStringSubmatch(line); m != nil {
				return cmd, m[1]
			}
			return cmd, ""
		case <-time.After(60 * time.Second):
			t.Fatalf("%v: no %q within 60 s", args, upLine)
			return nil, ""
		}
	}

	start("producing", "-producer", "-rate", "300")
	// A malformed record with a payload easy to spot: the consumers count
	// it and print nothing of it.
	if _, err := awstest.Kinesis(t).PutRecord(context.Background(), &kinesis.PutRecordInput{
		StreamName: aws.String(stream), PartitionKey: aws.String(payload), Data: []byte(`{"resource":"` + payload),
	}); err != nil {
		t.Fatal(err)
	}
	c1, _ := start("consuming", "-consumer", "-host", "consumer-1")
	start("consuming", "-consumer", "-host", "consumer-2")
	_, page := start("serving", "-web", "-addr", "127.0.0.1:0")
	if page == "" {
		t.Fatal("the web process printed no URL")
	}

	hosts := func(after time.Time, within time.Duration) map[string]string {
		t.Helper()
		var h map[string]string
		if err := eventually(within, func() error {
			h = map[string]string{}
			for _, res := range resources {
				rows := completeRows(fetchJSON[[]countsRow](t, page, "/api/counts?range_in_seconds=30&resource="+url.QueryEscape(res)))
				if len(rows) == 0 || !time.UnixMilli(rows[len(rows)-1].Timestamp).After(after) {
					return fmt.Errorf("%s: no complete window after %v", res, after.Format(time.TimeOnly))
				}
				h[res] = rows[len(rows)-1].Host
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return h
	}
	// Wait until both consumers hold shards, so the kill takes some away.
	var before map[string]string
	if err := eventually(45*time.Second, func() error {
		before = hosts(time.Now().Add(-2*time.Second), 30*time.Second)
		for _, h := range before {
			if h == "consumer-1" {
				return nil
			}
		}
		return fmt.Errorf("consumer-1 writes none of %v", before)
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("before the kill: %v", before)
	// Run past one window, so consumer-1 has checkpointed and the survivor
	// resumes from a checkpoint rather than from the start of the stream.
	time.Sleep(12 * time.Second)

	if err := c1.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	// Leases expire after the failover time (10 s) on the survivor's clock.
	after := hosts(killed.Add(time.Second), 60*time.Second)
	t.Logf("after the kill: %v, %v later", after, time.Since(killed).Round(time.Second))
	for res, h := range after {
		if h != "consumer-2" {
			t.Errorf("%s: newest window written by %s, want consumer-2", res, h)
		}
	}

	// The survivor restored the windows it took over instead of starting
	// them empty (the original sample's 20 s refill): each window it wrote
	// after the kill holds about as many visits as the windows before the
	// kill. (A window the dead consumer wrote but did not checkpoint is
	// written again by the survivor, with the same counts, and carries its
	// name now.)
	checked := 0
	for _, res := range resources {
		rows := completeRows(fetchJSON[[]countsRow](t, page, "/api/counts?range_in_seconds=120&resource="+url.QueryEscape(res)))
		var before, taken []int64
		for _, r := range rows {
			var total int64
			for _, rc := range r.ReferrerCounts {
				total += rc.Count
			}
			switch {
			case time.UnixMilli(r.Timestamp).Before(killed.Add(-windowBucket)):
				before = append(before, total)
			case r.Host == "consumer-2" && time.UnixMilli(r.Timestamp).After(killed):
				taken = append(taken, total)
			}
		}
		if len(before) < 3 || len(taken) == 0 {
			continue
		}
		slices.Sort(before)
		// The upper quartile skips the first windows, which filled up as the
		// producer started.
		typical := before[len(before)*3/4]
		t.Logf("%s: windows before the kill typically %d visits; consumer-2's after it %v", res, typical, taken)
		checked++
		for i, n := range taken {
			if float64(n) < 0.7*float64(typical) {
				t.Errorf("%s: window %d after the takeover has %d visits, before it typically %d: the window was not rebuilt",
					res, i, n, typical)
			}
		}
	}
	if checked == 0 {
		t.Error("no resource had windows on both sides of the kill to compare")
	}

	// The producer process keyed the records by page, as it was told.
	onKinesis, err := kinesisstream.New(awstest.Kinesis(t), stream)
	if err != nil {
		t.Fatal(err)
	}
	checkPartitioning(t, keyPage, firstRecords(t, onKinesis))
}
