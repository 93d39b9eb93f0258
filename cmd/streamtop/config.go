package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"time"

	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/topk"
)

// config is the command line, checked.
type config struct {
	demo bool
	rate int // demo records per second

	kinesis         string          // stream name: read it directly
	from            source.Position // where -kinesis starts
	region          string
	kinesisEndpoint string
	group           string // lease group to join, with -kinesis
	dynamoEndpoint  string // the group's tables

	field, match          string
	groupField, groupOnly string
	weight, timeField     string

	window, bucket time.Duration
	n              int
	exact          bool
	capacity       int // 0: exact
	groups         int // most group tables shown

	once, json, plain bool
	refresh           time.Duration
}

// usageError is an error in the command line: the command exits with 2.
// printed says the flag package has already shown it, with the usage.
type usageError struct {
	msg     string
	printed bool
}

func (e *usageError) Error() string { return e.msg }

// sketchBudget is the memory the -capacity windows may take together, so the
// process stays under 100 MiB whatever the number of distinct keys (with
// keys of a few dozen bytes; each window keeps up to capacity keys in each
// bucket). A unit of capacity costs about 44 bytes in each of buckets+2
// summaries (see window.Sketch), plus its key, taken here as 64 bytes with
// the string header. Measured when a unit cost 92 bytes: -capacity 5000
// over 60 buckets held 51 MB live with 27-byte keys, where the estimate
// then said 48 MB.
//
// capacityMemoryLimit is the Go runtime's soft memory limit in -capacity
// mode: with the live heap held to sketchBudget plus the pending keys, it
// keeps the garbage collector from letting the heap double before it runs.
const (
	sketchBudget        = 48 << 20
	sketchUnitBytes     = 44 + 64
	capacityMemoryLimit = 85 << 20
	maxExactGroups      = 10_000
)

const usageText = `streamtop counts the most frequent keys of a stream over a sliding window,
and shows them live, as top does.

Usage:
  streamtop [flags] < input          lines or JSON lines on stdin (tail -f works)
  streamtop -kinesis STREAM [flags]  every shard of a Kinesis stream, read-only
  streamtop -kinesis STREAM -group NAME [flags]
                                     share the shards with the group's other
                                     processes; every one shows the merged counts
  streamtop -demo [flags]            simulated web traffic, no input needed

Examples:
  streamtop -field ip -once < access.jsonl      # a windowed sort | uniq -c | sort -rn
  tail -f access.log | streamtop -match '"GET (\S+)'
  streamtop -demo -capacity 100
  streamtop -kinesis visits -field @key -from trim-horizon -once
  streamtop -kinesis visits -group web -field referrer   # on each of several machines

On a terminal the table refreshes in place: q quits, p (or space) pauses,
+ and - change the number of rows. Otherwise, or with -plain, a plain table
is printed every -refresh; -json prints one JSON object instead. Records that
cannot be decoded are counted in the header and skipped.

Flags:
`

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("streamtop", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageText)
		fs.PrintDefaults()
	}
	fs.BoolVar(&c.demo, "demo", false, "read the visualizer's simulated page visits from an embedded stream instead of stdin;\ncounts -field referrer per -group-field resource unless told otherwise")
	fs.IntVar(&c.rate, "rate", 1000, "`records` per second the -demo producer puts")
	fs.StringVar(&c.kinesis, "kinesis", "", "read every shard of this Kinesis `stream` instead of stdin: no leases, no checkpoints,\nnothing written (unless -group); records are timed by their arrival in the stream")
	from := fs.String("from", "latest", "where -kinesis starts: latest, trim-horizon, or an RFC 3339 `time`")
	fs.StringVar(&c.region, "region", "", "AWS `region` of -kinesis; default: the SDK's (AWS_REGION, the shared config)")
	fs.StringVar(&c.kinesisEndpoint, "kinesis-endpoint", "", "Kinesis endpoint `URL`, such as a local kinesalite's http://127.0.0.1:4567")
	fs.StringVar(&c.group, "group", "", "read -kinesis as one worker of the lease group of this `name`: the processes of a group\nshare the shards, write their counts to the DynamoDB table streamtop-NAME-counts\n(leases in streamtop-NAME-leases; both made if missing), and show the counts merged")
	fs.StringVar(&c.dynamoEndpoint, "dynamodb-endpoint", "", "DynamoDB endpoint `URL` of -group's tables, such as a local dynalite's http://127.0.0.1:4568")
	fs.StringVar(&c.field, "field", "", "count the value at this JSON `path` (referrer, request.headers.host),\nor the stream's partition key with @key; default: the whole line")
	fs.StringVar(&c.match, "match", "", "count the first capture group of this `regexp` (as in 'GET (\\S+)');\nthen -group-field, -weight and -time-field name capture groups")
	fs.StringVar(&c.groupField, "group-field", "", "one table per value of this `field`")
	fs.StringVar(&c.groupOnly, "group-filter", "", "count only records whose -group-field has this `value`")
	fs.StringVar(&c.weight, "weight", "", "sum this `field` (a whole number >= 0) instead of counting records")
	fs.StringVar(&c.timeField, "time-field", "", "take each record's time from this `field` (RFC 3339, or epoch seconds,\nmillis, micros or nanos); default: the time it was read")
	fs.DurationVar(&c.window, "window", time.Minute, "length of the sliding window")
	fs.DurationVar(&c.bucket, "bucket", time.Second, "the window moves in steps of this `duration`")
	fs.IntVar(&c.n, "n", 20, "keys shown per table")
	fs.BoolVar(&c.exact, "exact", false, "count every key exactly (the default)")
	fs.IntVar(&c.capacity, "capacity", 0, "approximate in bounded memory: keep this many `keys` per bucket,\nand show each count's error bound")
	fs.IntVar(&c.groups, "groups", 10, "most group `tables` shown, largest first")
	fs.BoolVar(&c.once, "once", false, "print the top once at the end of the input (-kinesis: once caught up\nwith every shard; with -group: once the group's counts are complete up to\nthe start), then exit")
	fs.BoolVar(&c.json, "json", false, "print one JSON object per refresh (with -once: one at the end)")
	fs.BoolVar(&c.plain, "plain", false, "print plain tables per refresh even on a terminal")
	fs.DurationVar(&c.refresh, "refresh", time.Second, "time between refreshes")

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, &usageError{msg: err.Error(), printed: true} // the flag package names the flag
	}
	if fs.NArg() > 0 {
		return nil, &usageError{msg: fmt.Sprintf("unexpected argument %q: streamtop reads stdin (or -kinesis, or -demo), and takes no file names", fs.Arg(0))}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["from"] {
		var err error
		if c.from, err = parseFrom(*from); err != nil {
			return nil, &usageError{msg: err.Error()}
		}
	} else {
		c.from = source.Position{Type: source.Latest}
	}
	if c.demo && !set["field"] && !set["match"] {
		c.field = "referrer"
		if !set["group-field"] {
			c.groupField = "resource"
		}
	}
	if err := c.check(set); err != nil {
		return nil, &usageError{msg: err.Error()}
	}
	return c, nil
}

// check validates the flags together; each message names the flag at fault.
func (c *config) check(set map[string]bool) error {
	if c.window <= 0 {
		return fmt.Errorf("-window %v: must be positive", c.window)
	}
	if c.bucket <= 0 {
		return fmt.Errorf("-bucket %v: must be positive", c.bucket)
	}
	if c.window%c.bucket != 0 {
		return fmt.Errorf("-window %v is not a whole multiple of -bucket %v", c.window, c.bucket)
	}
	buckets := c.window / c.bucket
	if buckets > 1<<16 {
		return fmt.Errorf("-window %v / -bucket %v makes %d buckets; at most %d: use a longer -bucket", c.window, c.bucket, buckets, 1<<16)
	}
	if c.n < 1 {
		return fmt.Errorf("-n %d: must be at least 1", c.n)
	}
	if c.groups < 1 {
		return fmt.Errorf("-groups %d: must be at least 1", c.groups)
	}
	if c.refresh < 10*time.Millisecond {
		return fmt.Errorf("-refresh %v: must be at least 10ms", c.refresh)
	}
	if c.exact && set["capacity"] {
		return errors.New("-exact and -capacity: choose one (-capacity approximates in bounded memory)")
	}
	if set["capacity"] {
		if c.capacity < 1 || c.capacity > topk.MaxCapacity {
			return fmt.Errorf("-capacity %d: must be between 1 and %d", c.capacity, topk.MaxCapacity)
		}
		if c.capacity < c.n {
			return fmt.Errorf("-capacity %d is below -n %d: the sketch could not fill the table", c.capacity, c.n)
		}
		if per := c.sketchBytes(); per > sketchBudget {
			return fmt.Errorf("-capacity %d over %d buckets takes about %d MiB, over the %d MiB budget: lower -capacity or raise -bucket",
				c.capacity, buckets, per>>20, sketchBudget>>20)
		}
	}
	if c.demo {
		if c.rate < 1 || c.rate > 1_000_000 {
			return fmt.Errorf("-rate %d: must be between 1 and 1000000", c.rate)
		}
		if c.once {
			return errors.New("-once with -demo: the demo never ends; use -json or -plain to print refreshes")
		}
	} else if set["rate"] {
		return errors.New("-rate: only for -demo")
	}
	if err := c.checkKinesis(set); err != nil {
		return err
	}
	if c.json && c.plain {
		return errors.New("-json and -plain: choose one")
	}
	if c.groupOnly != "" && c.groupField == "" {
		return errors.New("-group-filter: needs -group-field to say which field to filter on")
	}
	if c.field != "" && c.match != "" {
		return errors.New("-field and -match: choose one (-match counts its first capture group)")
	}
	_, err := c.decoder()
	return err
}

// sketchBytes estimates the memory of one group's window.Sketch.
func (c *config) sketchBytes() int64 {
	return int64(c.window/c.bucket+2) * int64(c.capacity) * sketchUnitBytes
}

// maxGroups is the most groups counted at once: with -capacity, as many
// sketches as fit the memory budget.
func (c *config) maxGroups() int {
	if c.capacity == 0 {
		return maxExactGroups
	}
	return int(max(1, min(int64(maxExactGroups), sketchBudget/c.sketchBytes())))
}

// decoder builds the record decoder the flags describe.
func (c *config) decoder() (decoder, error) {
	var d decoder
	if c.match != "" {
		re, err := regexp.Compile(c.match)
		if err != nil {
			return d, fmt.Errorf("-match: %v", err)
		}
		if re.NumSubexp() < 1 {
			return d, fmt.Errorf("-match %q: needs a capture group, the part to count, as in 'GET (\\S+)'", c.match)
		}
		d.re = re
		if re.NumSubexp() == 1 {
			d.fast = compileFast(c.match)
		}
		d.key = field{kind: fromCapture, capture: 1}
	} else {
		var err error
		if d.key, err = c.parseField("field", c.field, nil); err != nil {
			return d, err
		}
	}
	for _, f := range []struct {
		flag, value string
		into        *field
	}{
		{"group-field", c.groupField, &d.group},
		{"weight", c.weight, &d.weight},
		{"time-field", c.timeField, &d.time},
	} {
		if f.value == "" {
			continue
		}
		var err error
		if *f.into, err = c.parseField(f.flag, f.value, d.re); err != nil {
			return d, err
		}
	}
	return d, nil
}

// parseField reads one field flag: @key, a capture group of re (by name or
// number) when -match is set, else a JSON path. Empty means the whole line.
func (c *config) parseField(flagName, value string, re *regexp.Regexp) (field, error) {
	switch {
	case value == "":
		return field{kind: fromLine}, nil
	case value == "@key":
		if !c.demo && c.kinesis == "" {
			return field{}, fmt.Errorf("-%s @key: stdin records have no partition key (only the stream sources, -kinesis and -demo, do)", flagName)
		}
		return field{kind: fromKey}, nil
	case re != nil:
		if i := re.SubexpIndex(value); i > 0 {
			return field{kind: fromCapture, capture: i}, nil
		}
		if i, err := strconv.Atoi(value); err == nil && i >= 1 && i <= re.NumSubexp() {
			return field{kind: fromCapture, capture: i}, nil
		}
		return field{}, fmt.Errorf("-%s %q: with -match, name a capture group of it, by name (?P<%s>...) or number (1 to %d)",
			flagName, value, value, re.NumSubexp())
	}
	p, err := parseJSONPath(value)
	if err != nil {
		return field{}, fmt.Errorf("-%s %q: %v", flagName, value, err)
	}
	return field{kind: fromJSON, path: p}, nil
}
