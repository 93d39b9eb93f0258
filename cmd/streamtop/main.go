// Command streamtop counts the most frequent keys of a stream over a sliding
// window and shows them live, as top does: lines or JSON lines on stdin, or the
// visualizer's simulated traffic with -demo, or every shard of a Kinesis
// stream with -kinesis. Run streamtop -h for the flags.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/term"

	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/kinesisstream"
	"github.com/streamtop/streamtop/window"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], env{
		stdin:     os.Stdin,
		stdout:    os.Stdout,
		stderr:    os.Stderr,
		stdinTTY:  term.IsTerminal(os.Stdin.Fd()),
		stdoutTTY: term.IsTerminal(os.Stdout.Fd()),
		now:       time.Now,
	})
	stop()
	os.Exit(code)
}

// env is what the command takes from its process, so tests can run it whole.
type env struct {
	stdin             io.Reader
	stdout, stderr    io.Writer
	stdinTTY          bool
	stdoutTTY         bool
	now               func() time.Time
	teaOptions        []tea.ProgramOption          // tests drive the terminal view
	streamOptions     []kinesisstream.StreamOption // tests read kinesalite faster
	forceTerminalView bool
}

// run is the command; it returns the exit code: 0, 1 for a failure while
// running, 2 for a bad command line.
func run(ctx context.Context, args []string, e env) int {
	cfg, err := parseFlags(args, e.stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		if u, ok := err.(*usageError); !ok || !u.printed {
			fmt.Fprintf(e.stderr, "streamtop: %v\n", err)
		}
		return 2
	}
	if cfg.readsStdin() && e.stdinTTY {
		fmt.Fprintln(e.stderr, "streamtop: no input: pipe lines into it (tail -f access.log | streamtop -field ip), read a stream with -kinesis NAME, or try streamtop -demo")
		return 2
	}
	if cfg.capacity > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(capacityMemoryLimit)
	}
	src, err := newSource(ctx, cfg, e)
	if err != nil {
		fmt.Fprintf(e.stderr, "streamtop: %v\n", err)
		if _, ok := err.(*usageError); ok {
			return 2
		}
		return 1
	}
	var (
		rep  reporting
		read func(context.Context) error
	)
	if g, ok := src.(*groupSource); ok {
		// The group's processors count; the reports read their counts back.
		rep = g.reporter(cfg.groups)
		read = func(ctx context.Context) error { return g.run(ctx, nil) }
	} else {
		rep, read = local(src, cfg, e)
	}

	switch {
	case cfg.once:
		// A read blocked on a quiet pipe does not see ctx end, so wait for
		// either: interrupted, -once prints what it counted so far.
		done := make(chan error, 1)
		go func() { done <- read(ctx) }()
		select {
		case err = <-done:
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err == nil || errors.Is(err, context.Canceled) {
			final := rep.report(e.now(), cfg.n)
			final.Done = err == nil
			err = errors.Join(err, write(e.stdout, cfg, &final))
		}
	case cfg.json || cfg.plain || !e.stdoutTTY && !e.forceTerminalView:
		err = periodic(ctx, read, rep, cfg, e)
	default:
		err = terminal(ctx, read, rep, cfg, e)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(e.stderr, "streamtop: %v\n", err)
		return 1
	}
	return 0
}

// local makes the reporter and the reading of a source counted in this
// process: read runs the source to its end, through a pipeline that decodes
// on every core, or for -once on stdin by arrival time and with no group,
// through a lineCounter; when it returns, everything read is counted.
func local(src recordSource, cfg *config, e env) (*reporter, func(context.Context) error) {
	dec, _ := cfg.decoder() // checked by parseFlags
	t := newTally(dec, cfg.newWindow, cfg.bucket, cfg.maxGroups())
	if cfg.once {
		t.flushLimit = slotLimit // no report until the end
	}
	if cfg.groupOnly != "" {
		t.filter, t.groupFilter = true, []byte(cfg.groupOnly)
	}
	var mu sync.Mutex
	if ls, ok := src.(*lineSource); ok && cfg.once && dec.time.kind == fromNone && dec.group.kind == fromNone {
		// One core is left to the reading goroutine and the runtime: on 2
		// cores, -once over the 1M-line files of bench/streamtop.sh took
		// less time with one worker than with two (whole lines: 0.07 s
		// against 0.09 s), the second worker's table costing more than the
		// half of the lines it took. More cores were not measured.
		c := newLineCounter(&mu, t, dec, max(1, runtime.GOMAXPROCS(0)-1), cfg.capacity == 0)
		read := func(ctx context.Context) error { return c.run(ctx, ls) }
		return &reporter{mu: &mu, tally: t, cfg: cfg, source: src.name(), maxShown: cfg.groups, past: pastReport{time: e.now()}}, read
	}
	read := func(ctx context.Context) error {
		p := newPipeline(&mu, t, dec, runtime.GOMAXPROCS(0))
		err := src.run(ctx, p.deliver)
		p.close()
		return err
	}
	return &reporter{mu: &mu, tally: t, cfg: cfg, source: src.name(), maxShown: cfg.groups, past: pastReport{time: e.now()}}, read
}

func newSource(ctx context.Context, cfg *config, e env) (recordSource, error) {
	switch {
	case cfg.demo:
		return newDemo(cfg.rate)
	case cfg.kinesis != "":
		if cfg.from.Type == source.AtTimestamp && cfg.from.Timestamp.After(e.now()) {
			return nil, &usageError{msg: fmt.Sprintf("-from %s: in the future; a stream is read from no later than now (-from latest)",
				cfg.from.Timestamp.Format(time.RFC3339Nano))}
		}
		awsCfg, err := loadAWS(ctx, cfg, e.stderr)
		if err != nil {
			return nil, err
		}
		client := newKinesisClient(awsCfg, cfg)
		where := kinesisWhere(cfg, awsCfg.Region)
		if cfg.group != "" {
			return openGroup(ctx, cfg, awsCfg, client, where, e)
		}
		return openKinesis(ctx, client, cfg, where)
	}
	return &lineSource{r: e.stdin, label: "stdin", now: e.now}, nil
}

// readsStdin says whether the records come from stdin.
func (c *config) readsStdin() bool { return !c.demo && c.kinesis == "" }

// newWindow makes one group's window: a Counter, or a Sketch with -capacity.
func (c *config) newWindow() (windowed, error) {
	if c.capacity > 0 {
		return window.NewSketch[string](c.window, c.bucket, c.capacity)
	}
	return window.NewCounter[string](c.window, c.bucket)
}

// write prints one report as -json or plain text asks.
func write(w io.Writer, cfg *config, rep *report) error {
	if cfg.json {
		b, err := json.Marshal(rep)
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	}
	if cfg.once {
		return writePlain(w, rep, 0)
	}
	return writePlain(w, rep, maxKeyWidth)
}

// periodic prints a report every refresh until the input ends (then a last
// one, marked done) or ctx ends.
func periodic(ctx context.Context, read func(context.Context) error, rep reporting, cfg *config, e env) error {
	done := make(chan error, 1)
	go func() { done <- read(ctx) }()
	tick := time.NewTicker(cfg.refresh)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				return err
			}
			final := rep.report(e.now(), cfg.n)
			final.Done = true
			return write(e.stdout, cfg, &final)
		case <-ctx.Done():
			return ctx.Err()
		case t := <-tick.C:
			r := rep.report(t, cfg.n)
			if err := write(e.stdout, cfg, &r); err != nil {
				return err
			}
			if !cfg.json {
				if _, err := io.WriteString(e.stdout, "\n"); err != nil {
					return err
				}
			}
		}
	}
}

// terminal runs the full-screen view until the user quits.
func terminal(ctx context.Context, read func(context.Context) error, rep reporting, cfg *config, e env) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts := []tea.ProgramOption{tea.WithContext(ctx), tea.WithOutput(e.stdout), tea.WithAltScreen()}
	if cfg.readsStdin() {
		opts = append(opts, tea.WithInputTTY()) // stdin carries the records
	}
	opts = append(opts, e.teaOptions...)
	p := tea.NewProgram(newView(rep, cfg.n, cfg.refresh), opts...)
	go func() {
		err := read(ctx)
		p.Send(doneMsg{err: err})
	}()
	_, err := p.Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil
	}
	return err
}
