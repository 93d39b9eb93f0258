package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/streamtop/streamtop/source"
)

// Every bad command line fails at start, with a message that names the flag
// at fault.
func TestParseFlagsRejects(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // in the message
	}{
		{[]string{"-nosuch"}, "-nosuch"},
		{[]string{"-window", "0s"}, "-window"},
		{[]string{"-window", "-1m"}, "-window"},
		{[]string{"-bucket", "0s"}, "-bucket"},
		{[]string{"-window", "45s", "-bucket", "10s"}, "-window 45s is not a whole multiple of -bucket 10s"},
		{[]string{"-window", "24h", "-bucket", "1ms"}, "-bucket"},
		{[]string{"-window", "banana"}, "-window"},
		{[]string{"-n", "0"}, "-n 0"},
		{[]string{"-groups", "0"}, "-groups"},
		{[]string{"-refresh", "1ms"}, "-refresh"},
		{[]string{"-capacity", "0"}, "-capacity 0"},
		{[]string{"-capacity", "5", "-n", "10"}, "-capacity 5 is below -n 10"},
		{[]string{"-capacity", "1000000"}, "-capacity 1000000"},
		{[]string{"-exact", "-capacity", "100"}, "-exact and -capacity"},
		{[]string{"-rate", "10"}, "-rate"},
		{[]string{"-demo", "-rate", "0"}, "-rate 0"},
		{[]string{"-demo", "-once"}, "-once with -demo"},
		{[]string{"-json", "-plain"}, "-json and -plain"},
		{[]string{"-group-filter", "x"}, "-group-filter"},
		{[]string{"-field", "a", "-match", "(b)"}, "-field and -match"},
		{[]string{"-field", "a..b"}, "-field"},
		{[]string{"-field", "@key"}, "-field @key"},
		{[]string{"-group-field", "@key"}, "-group-field @key"},
		{[]string{"-match", "(unclosed"}, "-match"},
		{[]string{"-match", "no group"}, "-match"},
		{[]string{"-match", "(a)", "-weight", "bytes"}, "-weight \"bytes\""},
		{[]string{"-match", "(a)", "-time-field", "2"}, "-time-field \"2\""},
		{[]string{"-time-field", "."}, "-time-field"},
		{[]string{"stray"}, "unexpected argument \"stray\""},
		{[]string{"-kinesis", "s", "-from", "yesterday"}, "-from \"yesterday\""},
		{[]string{"-kinesis", "s", "-from", "2026-01-02 15:04:05"}, "-from"},
		{[]string{"-kinesis", "s", "-from", ""}, "-from"},
		{[]string{"-from", "latest"}, "-from: only for -kinesis"},
		{[]string{"-region", "eu-west-1"}, "-region: only for -kinesis"},
		{[]string{"-kinesis-endpoint", "http://127.0.0.1:4567"}, "-kinesis-endpoint: only for -kinesis"},
		{[]string{"-kinesis", ""}, "-kinesis: needs a stream name"},
		{[]string{"-kinesis", "visits/today"}, "-kinesis \"visits/today\""},
		{[]string{"-kinesis", "s", "-demo"}, "-kinesis and -demo"},
		{[]string{"-kinesis", "s", "-kinesis-endpoint", "127.0.0.1:4567"}, "-kinesis-endpoint"},
		{[]string{"-kinesis", "s", "-kinesis-endpoint", "http://u:p@127.0.0.1:4567"}, "-kinesis-endpoint"},
		{[]string{"-group", "g"}, "-group: only for -kinesis"},
		{[]string{"-kinesis", "s", "-group", ""}, "-group \"\""},
		{[]string{"-kinesis", "s", "-group", "my group"}, "-group \"my group\""},
		{[]string{"-kinesis", "s", "-group", strings.Repeat("g", maxGroupName+1)}, "-group \"ggg"},
		{[]string{"-dynamodb-endpoint", "http://127.0.0.1:4568"}, "-dynamodb-endpoint: only for -kinesis with -group"},
		{[]string{"-kinesis", "s", "-dynamodb-endpoint", "http://127.0.0.1:4568"}, "-dynamodb-endpoint: only with -group"},
		{[]string{"-kinesis", "s", "-group", "g", "-dynamodb-endpoint", "127.0.0.1:4568"}, "-dynamodb-endpoint: must be a URL"},
		{[]string{"-kinesis", "s", "-group", "g", "-once"}, "-once with -kinesis"},
		{[]string{"-kinesis", "s", "-once"}, "-once with -kinesis"},
		{[]string{"-kinesis", "s", "-once", "-from", "latest"}, "-from trim-horizon"},
	} {
		var stderr strings.Builder
		_, err := parseFlags(tc.args, &stderr)
		if err == nil {
			t.Errorf("parseFlags(%q) = nil error, want one naming %q", tc.args, tc.want)
			continue
		}
		if msg := err.Error() + stderr.String(); !strings.Contains(msg, tc.want) {
			t.Errorf("parseFlags(%q) = %q, want it to name %q", tc.args, msg, tc.want)
		}
		if _, ok := err.(*usageError); !ok {
			t.Errorf("parseFlags(%q) error is %T, want *usageError (exit status 2)", tc.args, err)
		}
	}
}

func TestParseFlagsAccepts(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"-field", "request.headers.host", "-group-field", "status", "-weight", "bytes", "-time-field", "ts"},
		{"-match", `(?P<ip>\S+) .* (?P<bytes>\d+)$`, "-weight", "bytes", "-group-field", "ip"},
		{"-match", `(\S+) (\S+)`, "-group-field", "2"},
		{"-capacity", "100", "-window", "10s", "-bucket", "1s"},
		{"-demo", "-field", "@key", "-json"},
		{"-demo", "-group-field", "resource", "-group-filter", "/index.html"},
		{"-kinesis", "visits", "-field", "@key", "-from", "trim-horizon"},
		{"-kinesis", "visits", "-once", "-from", "2026-01-02T15:04:05Z"},
		{"-kinesis", "visits.v2", "-from", "2026-01-02T15:04:05.5+01:00", "-region", "eu-west-1",
			"-kinesis-endpoint", "http://127.0.0.1:4567"},
		{"-kinesis", "visits", "-group", "web.v2_a-b", "-dynamodb-endpoint", "https://dynamodb.eu-west-1.amazonaws.com",
			"-capacity", "100", "-group-field", "status"},
		{"-kinesis", "visits", "-group", strings.Repeat("g", maxGroupName), "-once", "-from", "trim-horizon"},
	} {
		if _, err := parseFlags(args, io.Discard); err != nil {
			t.Errorf("parseFlags(%q) = %v", args, err)
		}
	}
}

func TestParseFrom(t *testing.T) {
	at := time.Date(2026, 1, 2, 14, 4, 5, 0, time.UTC) // date-proof: parseFrom only parses; the future check is tested from time.Now
	for _, tc := range []struct {
		in   string
		want source.Position
	}{
		{"latest", source.Position{Type: source.Latest}},
		{"LATEST", source.Position{Type: source.Latest}},
		{"trim-horizon", source.Position{Type: source.TrimHorizon}},
		{"TRIM_HORIZON", source.Position{Type: source.TrimHorizon}},
		{"2026-01-02T15:04:05+01:00", source.Position{Type: source.AtTimestamp, Timestamp: at}},
	} {
		got, err := parseFrom(tc.in)
		if err != nil || got.Type != tc.want.Type || !got.Timestamp.Equal(tc.want.Timestamp) {
			t.Errorf("parseFrom(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	c, err := parseFlags([]string{"-kinesis", "s"}, io.Discard)
	if err != nil || c.from.Type != source.Latest {
		t.Errorf("-kinesis without -from starts at %v (%v), want LATEST", c.from.Type, err)
	}
}

// -demo alone shows the visualizer's view: referrers per page.
func TestDemoDefaults(t *testing.T) {
	c, err := parseFlags([]string{"-demo"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.field != "referrer" || c.groupField != "resource" {
		t.Errorf("-demo counts %q per %q, want referrer per resource", c.field, c.groupField)
	}
}

// The command exits with 2 and one line naming the flag, before reading.
func TestRunBadFlag(t *testing.T) {
	var stdout, stderr strings.Builder
	code := run(t.Context(), []string{"-window", "45s", "-bucket", "10s"}, env{
		stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr,
	})
	if code != 2 || !strings.Contains(stderr.String(), "-window 45s") || stdout.Len() != 0 {
		t.Errorf("run = %d, stderr %q, stdout %q; want 2 and a message naming -window", code, stderr.String(), stdout.String())
	}
}

func TestRunNoInput(t *testing.T) {
	var stderr strings.Builder
	code := run(t.Context(), nil, env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &stderr, stdinTTY: true})
	if code != 2 || !strings.Contains(stderr.String(), "-demo") {
		t.Errorf("run with a terminal on stdin = %d, %q; want 2 and a hint at -demo", code, stderr.String())
	}
}
