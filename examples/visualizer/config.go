package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"time"
)

// The window of the original sample: the last 10 seconds in 1-second
// buckets, one snapshot per resource per second.
const (
	windowSize   = 10 * time.Second
	windowBucket = time.Second
)

// The producer's choices of partition key (-partition-key). Keyed by page,
// each page's visits stay on one shard, so one shard's processor counts a
// page alone. Keyed at random (a visitor ID per record, as real traffic is
// often keyed), every shard holds part of every page: each processor writes
// its shard's partial, and the page shows a window once the sink has merged
// every shard's part (sink.Snapshot.Complete).
const (
	keyPage   = "page"
	keyRandom = "random"
)

// maxRate bounds -rate: far above what one machine's producer sustains, low
// enough to catch a typo of a few extra zeros.
const maxRate = 10_000_000

// config is the program's flags, validated. Its zero value is not a valid
// configuration; parseFlags makes one. It is a plain value: copy it freely.
type config struct {
	addr   string
	rate   int
	shards int
	host   string
	// drift is the period over which the referrers' weights swing; 0 keeps
	// them fixed, which the end-to-end test uses to know the true shares.
	drift time.Duration
	seed  uint64
	// partitionKey is keyPage or keyRandom.
	partitionKey string

	// The AWS mode: Kinesis and DynamoDB instead of the embedded stream,
	// lease table and sink, with the roles free to run apart.
	region, kinesisEndpoint, dynamodbEndpoint string
	stream, leaseTable, countsTable           string
	cleanup                                   bool
	roles                                     roles
}

// roles says which of the three parts this process runs.
type roles struct{ producer, consumer, web bool }

// awsMode reports whether the flags ask for Kinesis and DynamoDB.
func (c config) awsMode() bool {
	return c.region != "" || c.kinesisEndpoint != "" || c.dynamodbEndpoint != ""
}

var errUsage = errors.New("usage")

// parseFlags reads and validates the command line. Every error names the
// flag at fault.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("visualizer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: visualizer [flags]\n\n"+
			"Simulates visits to a web site, counts the top referrers of each page over a\n"+
			"10-second sliding window, and serves a live chart of them.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	var c config
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "`host:port` the web page is served on")
	fs.IntVar(&c.rate, "rate", 100, "simulated visits per second put on the stream")
	fs.IntVar(&c.shards, "shards", 2, "shards of the stream: the embedded one, or the Kinesis stream when the AWS mode creates it")
	fs.StringVar(&c.host, "host", host+":"+strconv.Itoa(os.Getpid()),
		"name of this worker, shown on the page as the one that last updated the data")
	fs.StringVar(&c.partitionKey, "partition-key", keyRandom,
		"what the producer uses as each record's partition key: "+keyRandom+" (a visitor ID, so every shard holds part of every page) "+
			"or "+keyPage+" (each page's visits on one shard)")
	fs.DurationVar(&c.drift, "drift", 90*time.Second, "period over which the referrers' popularity swings (0: fixed)")
	var seed uint64
	fs.Uint64Var(&seed, "seed", 0, "random seed of the simulated traffic (0: from the clock)")
	fs.StringVar(&c.region, "region", "", "AWS region: use Kinesis and DynamoDB instead of the embedded stream (credentials from the SDK's default chain)")
	fs.StringVar(&c.kinesisEndpoint, "kinesis-endpoint", "", "Kinesis endpoint URL, e.g. a local kinesalite (implies the AWS mode)")
	fs.StringVar(&c.dynamodbEndpoint, "dynamodb-endpoint", "", "DynamoDB endpoint URL, e.g. a local dynalite (implies the AWS mode)")
	fs.StringVar(&c.stream, "stream", "streamtop-visualizer", "AWS mode: Kinesis stream, created with -shards shards if absent")
	fs.StringVar(&c.leaseTable, "lease-table", "streamtop-visualizer-leases", "AWS mode: DynamoDB lease table, created if absent")
	fs.StringVar(&c.countsTable, "counts-table", "streamtop-visualizer-counts", "AWS mode: DynamoDB counts table, created if absent")
	fs.BoolVar(&c.roles.producer, "producer", false, "AWS mode: run the producer (with none of -producer, -consumer, -web: all three)")
	fs.BoolVar(&c.roles.consumer, "consumer", false, "AWS mode: run a consumer; several share the shards")
	fs.BoolVar(&c.roles.web, "web", false, "AWS mode: run the web server")
	fs.BoolVar(&c.cleanup, "cleanup", false, "AWS mode: delete the stream and both tables, then exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return config{}, err
		}
		return config{}, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	c.seed = seed
	if c.seed == 0 {
		c.seed = uint64(time.Now().UnixNano())
	}
	split := c.roles != roles{}
	if err := c.validate(); err != nil {
		return config{}, err
	}
	switch {
	case split && !c.awsMode():
		return config{}, fmt.Errorf("%w: -producer, -consumer and -web run the parts in separate processes, "+
			"which needs the AWS mode (-region or the endpoint flags): the embedded stream lives in one process", errUsage)
	case c.cleanup && !c.awsMode():
		return config{}, fmt.Errorf("%w: -cleanup deletes the AWS resources: give -region or the endpoint flags", errUsage)
	case !split:
		c.roles = roles{producer: true, consumer: true, web: true}
	}
	return c, nil
}

func (c config) validate() error {
	// An empty host listens on every interface, which net.Listen accepts.
	_, port, err := net.SplitHostPort(c.addr)
	if err != nil {
		return fmt.Errorf("%w: -addr %q: %v", errUsage, c.addr, err)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("%w: -addr %q: port must be a number from 0 to 65535", errUsage, c.addr)
	}
	switch {
	case c.rate < 1 || c.rate > maxRate:
		return fmt.Errorf("%w: -rate %d: must be from 1 to %d", errUsage, c.rate, maxRate)
	case c.shards < 1 || c.shards > 64:
		return fmt.Errorf("%w: -shards %d: must be from 1 to 64", errUsage, c.shards)
	case c.host == "":
		return fmt.Errorf("%w: -host must not be empty", errUsage)
	case c.drift < 0:
		return fmt.Errorf("%w: -drift %v: must not be negative", errUsage, c.drift)
	case c.drift > 0 && c.drift < windowSize:
		return fmt.Errorf("%w: -drift %v: must be 0 or at least the %v window, or the chart shows noise", errUsage, c.drift, windowSize)
	case c.partitionKey != keyPage && c.partitionKey != keyRandom:
		return fmt.Errorf("%w: -partition-key %q: must be %s or %s", errUsage, c.partitionKey, keyRandom, keyPage)
	}
	for _, e := range []struct{ flag, value string }{{"kinesis-endpoint", c.kinesisEndpoint}, {"dynamodb-endpoint", c.dynamodbEndpoint}} {
		if e.value == "" {
			continue
		}
		u, err := url.Parse(e.value)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			// The value is not echoed: a mistyped URL may hold a secret.
			return fmt.Errorf("%w: -%s: must be a URL such as http://127.0.0.1:4567", errUsage, e.flag)
		}
		if u.User != nil {
			// Error messages and logs print endpoints; a password in one
			// would end up there, and the SDK would not use it anyway.
			return fmt.Errorf("%w: -%s %s: must not hold a user or password: "+
				"credentials come from the SDK's default chain", errUsage, e.flag, u.Redacted())
		}
	}
	if !validName(c.stream, 1, 128) {
		return fmt.Errorf("%w: -stream %q: 1 to 128 letters, digits, '_', '-' or '.'", errUsage, c.stream)
	}
	for _, t := range []struct{ flag, value string }{{"lease-table", c.leaseTable}, {"counts-table", c.countsTable}} {
		if !validName(t.value, 3, 255) {
			return fmt.Errorf("%w: -%s %q: 3 to 255 letters, digits, '_', '-' or '.'", errUsage, t.flag, t.value)
		}
	}
	if c.leaseTable == c.countsTable {
		return fmt.Errorf("%w: -lease-table and -counts-table must differ (both %q)", errUsage, c.leaseTable)
	}
	if c.partitionKey == keyRandom && c.awsMode() && !dynamoMergesPartials {
		return fmt.Errorf("%w: -partition-key %s: the DynamoDB counts table does not merge the shards' parts of a window yet, "+
			"so each window would show one shard's visits: use -partition-key %s in the AWS mode", errUsage, keyRandom, keyPage)
	}
	return nil
}

// validName checks a Kinesis stream or DynamoDB table name: both services
// allow the same characters.
func validName(s string, lo, hi int) bool {
	if len(s) < lo || len(s) > hi {
		return false
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.'
		if !ok {
			return false
		}
	}
	return true
}
