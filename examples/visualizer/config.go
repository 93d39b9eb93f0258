package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
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

// maxRate bounds -rate: far above what one machine's producer sustains, low
// enough to catch a typo of a few extra zeros.
const maxRate = 10_000_000

// config is the program's flags, validated.
type config struct {
	addr   string
	rate   int
	shards int
	host   string
	// drift is the period over which the referrers' weights swing; 0 keeps
	// them fixed, which the end-to-end test uses to know the true shares.
	drift time.Duration
	seed  uint64
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
	fs.IntVar(&c.shards, "shards", 2, "shards of the embedded stream")
	fs.StringVar(&c.host, "host", host+":"+strconv.Itoa(os.Getpid()),
		"name of this worker, shown on the page as the one that last updated the data")
	fs.DurationVar(&c.drift, "drift", 90*time.Second, "period over which the referrers' popularity swings (0: fixed)")
	var seed uint64
	fs.Uint64Var(&seed, "seed", 0, "random seed of the simulated traffic (0: from the clock)")
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
	return c, c.validate()
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
	}
	return nil
}
