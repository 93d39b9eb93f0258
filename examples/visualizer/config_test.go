package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamtop/streamtop/internal/consumertest"
)

func TestParseFlagsDefaults(t *testing.T) {
	c, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.addr != "127.0.0.1:8080" || c.rate != 100 || c.shards != 2 || c.drift != 90*time.Second || c.host == "" || c.seed == 0 ||
		c.partitionKey != keyRandom {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestParseFlagsPartitionKey(t *testing.T) {
	for _, key := range []string{keyPage, keyRandom} {
		c, err := parseFlags([]string{"-partition-key", key}, io.Discard)
		if err != nil || c.partitionKey != key {
			t.Errorf("-partition-key %s: %q, %v", key, c.partitionKey, err)
		}
	}
}

// TestParseFlagsAWSPartitionKey: while the DynamoDB counts table cannot
// merge the shards' partials, the AWS mode refuses records keyed at random,
// default included, and takes them keyed by page.
func TestParseFlagsAWSPartitionKey(t *testing.T) {
	aws := []string{"-kinesis-endpoint", "http://127.0.0.1:4567", "-dynamodb-endpoint", "http://127.0.0.1:4568", "-region", "us-east-1"}
	if c, err := parseFlags(append(aws, "-partition-key", keyPage), io.Discard); err != nil || c.partitionKey != keyPage {
		t.Errorf("-partition-key page in the AWS mode: %q, %v", c.partitionKey, err)
	}
	for _, args := range [][]string{aws, append(aws, "-partition-key", keyRandom)} {
		_, err := parseFlags(args, io.Discard)
		switch {
		case dynamoMergesPartials && err != nil:
			t.Errorf("%v: %v; the counts table merges partials now", args, err)
		case !dynamoMergesPartials && (!errors.Is(err, errUsage) || !strings.Contains(err.Error(), "-partition-key random")):
			t.Errorf("%v: error %v, want one naming -partition-key random", args, err)
		}
	}
}

func TestParseFlagsErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // the flag the message must name
	}{
		{[]string{"-addr", "8080"}, "-addr"},
		{[]string{"-addr", "127.0.0.1:http"}, "-addr"},
		{[]string{"-addr", "127.0.0.1:70000"}, "-addr"},
		{[]string{"-rate", "0"}, "-rate"},
		{[]string{"-rate", "-5"}, "-rate"},
		{[]string{"-rate", "20000000"}, "-rate"},
		{[]string{"-rate", "fast"}, "-rate"},
		{[]string{"-shards", "0"}, "-shards"},
		{[]string{"-shards", "65"}, "-shards"},
		{[]string{"-host", ""}, "-host"},
		{[]string{"-drift", "-1s"}, "-drift"},
		{[]string{"-drift", "5s"}, "-drift"},
		{[]string{"-drift", "soon"}, "-drift"},
		{[]string{"-seed", "-1"}, "-seed"},
		{[]string{"-partition-key", "visitor"}, "-partition-key"},
		{[]string{"-partition-key", ""}, "-partition-key"},
		{[]string{"-partition-key", "Page"}, "-partition-key"},
		{[]string{"-no-such-flag"}, "-no-such-flag"},
		{[]string{"extra"}, `"extra"`},
		{[]string{"-kinesis-endpoint", "127.0.0.1:4567"}, "-kinesis-endpoint"},
		{[]string{"-dynamodb-endpoint", "ftp://127.0.0.1:4568"}, "-dynamodb-endpoint"},
		{[]string{"-dynamodb-endpoint", "http://"}, "-dynamodb-endpoint"},
		{[]string{"-kinesis-endpoint", "http://user@127.0.0.1:4567"}, "-kinesis-endpoint"},
		{[]string{"-dynamodb-endpoint", "http://user:pass@127.0.0.1:4568"}, "-dynamodb-endpoint"},
		{[]string{"-producer"}, "-producer"},
		{[]string{"-consumer"}, "-consumer"},
		{[]string{"-web"}, "-web"},
		{[]string{"-cleanup"}, "-cleanup"},
		{[]string{"-region", "us-east-1", "-stream", ""}, "-stream"},
		{[]string{"-region", "us-east-1", "-stream", "visits/today"}, "-stream"},
		{[]string{"-region", "us-east-1", "-lease-table", "ab"}, "-lease-table"},
		{[]string{"-region", "us-east-1", "-counts-table", "counts table"}, "-counts-table"},
		{[]string{"-region", "us-east-1", "-lease-table", "same", "-counts-table", "same"}, "-counts-table"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, err := parseFlags(tc.args, io.Discard)
			if !errors.Is(err, errUsage) {
				t.Fatalf("error %v, want a usage error", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not name %s", err, tc.want)
			}
		})
	}
}

// TestParseFlagsHidesEndpointSecrets: an endpoint with a password in it is
// refused, and the message does not repeat the password, whether the value
// parses as a URL or not.
func TestParseFlagsHidesEndpointSecrets(t *testing.T) {
	const secret = "s3cr3t-in-url"
	for _, v := range []string{
		"http://AKID:" + secret + "@127.0.0.1:4567",
		"https://AKID:" + secret + "@kinesis.example.com/",
		"AKID:" + secret + "@127.0.0.1:4567",
		"http://AKID:" + secret + "@[::1",
	} {
		for _, f := range []string{"-kinesis-endpoint", "-dynamodb-endpoint"} {
			_, err := parseFlags([]string{f, v}, io.Discard)
			if err == nil || !strings.Contains(err.Error(), f) {
				t.Errorf("%s %s: error %v, want one naming the flag", f, v, err)
				continue
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%s %s: error %q repeats the password", f, v, err)
			}
		}
	}
}

func TestParseFlagsRoles(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want roles
	}{
		{nil, roles{producer: true, consumer: true, web: true}},
		{[]string{"-region", "eu-west-1", "-partition-key", "page"}, roles{producer: true, consumer: true, web: true}},
		{[]string{"-region", "eu-west-1", "-partition-key", "page", "-consumer"}, roles{consumer: true}},
		{[]string{"-kinesis-endpoint", "http://127.0.0.1:4567", "-partition-key", "page", "-producer", "-web"}, roles{producer: true, web: true}},
	} {
		c, err := parseFlags(tc.args, io.Discard)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if c.roles != tc.want {
			t.Errorf("%v: roles %+v, want %+v", tc.args, c.roles, tc.want)
		}
	}
}

func TestParseFlagsHelp(t *testing.T) {
	var out strings.Builder
	if _, err := parseFlags([]string{"-h"}, &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"-addr", "-rate", "-partition-key", "10-second sliding window"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRateMeter(t *testing.T) {
	m := newRateMeter(5 * time.Second)
	if r := m.rate(); r != 0 {
		t.Fatalf("no samples: rate %v", r)
	}
	m.observe(t0, 0)
	if r := m.rate(); r != 0 {
		t.Fatalf("one sample: rate %v", r)
	}
	// 100/s for ten seconds, then 1000/s for five: the 5 s span sees only
	// the second rate.
	for i := 1; i <= 10; i++ {
		m.observe(t0.Add(time.Duration(i)*time.Second), int64(100*i))
	}
	if r := m.rate(); r != 100 {
		t.Fatalf("rate %v, want 100", r)
	}
	for i := 1; i <= 5; i++ {
		m.observe(t0.Add(time.Duration(10+i)*time.Second), int64(1000+1000*i))
	}
	if r := m.rate(); r != 1000 {
		t.Fatalf("rate %v, want 1000", r)
	}
	if n := len(m.samples); n > 6 {
		t.Fatalf("%d samples kept for a 5 s span of 1 s samples", n)
	}
}

// TestEmbeddedStreamBounded puts far more records than the embedded stream
// keeps and checks that it keeps no more than streamMaxRecords, whatever
// the rate: the bound that keeps -rate 100000 from growing without end.
func TestEmbeddedStreamBounded(t *testing.T) {
	c := testConfig()
	c.shards = 3
	b, err := openEmbedded(c)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	batch := make([]message, 500)
	for i := range batch {
		batch[i] = message{key: strconv.Itoa(i), data: []byte("{}")}
	}
	for range 3 * streamMaxRecords / len(batch) {
		if err := b.put(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	kept := len(consumertest.ReadAll(t, b.stream))
	if kept > streamMaxRecords || kept < streamMaxRecords*9/10 {
		t.Fatalf("the stream keeps %d of %d records put; want at most %d, and not much less",
			kept, 3*streamMaxRecords, streamMaxRecords)
	}
}
