// Command visualizer is the web traffic demo: a producer of simulated page
// visits, a consumer that counts the top referrers of each page over a
// 10-second sliding window, and a web page that charts them live.
//
// With no flags everything runs in this process on an embedded stream:
//
//	go run ./examples/visualizer
//
// then open the URL it prints. Ctrl-C stops it gracefully.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/streamtop/streamtop/aggregate"
	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/hook"
	"github.com/streamtop/streamtop/source"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "visualizer:", err)
		os.Exit(2)
	}
	if err := run(ctx, c, os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "visualizer:", err)
		os.Exit(1)
	}
}

// shutdownGrace bounds how long the web server waits for requests in flight
// when the program stops.
const shutdownGrace = 5 * time.Second

// app is a running visualizer, for tests that need its parts. Fields of
// roles the process does not run are nil; run owns the values, so callers
// only read them.
type app struct {
	url      string
	backend  *backend
	producer *producer
	consumer *source.Consumer
	agg      *aggregate.Aggregator
}

// run starts the parts of the program its roles name (by default the
// producer, the consumer and the web server) and returns once ctx ends and
// all of them have stopped. started, if not nil, is called once everything
// is up.
//
// A producer that lost records makes run return an error (and the program
// exit 1), whether it noticed while running or when Close sent what was
// left.
func run(ctx context.Context, c config, stdout io.Writer, started func(*app)) (err error) {
	// The web server's error log writes from its own goroutines.
	stdout = &lockedWriter{w: stdout}
	if c.cleanup {
		return cleanupAWS(ctx, c, stdout)
	}
	b, err := openBackend(ctx, c, stdout)
	if err != nil {
		return err
	}
	defer func() {
		// In the AWS mode this sends what the producer still buffers, and
		// reports what it lost.
		cerr := b.close()
		switch {
		case cerr == nil:
		case err == nil:
			err = fmt.Errorf("closing: %w", cerr)
		default:
			fmt.Fprintln(stdout, "visualizer: closing:", cerr)
		}
	}()

	var ln net.Listener
	if c.roles.web {
		if ln, err = net.Listen("tcp", c.addr); err != nil {
			return fmt.Errorf("-addr %s: %w", c.addr, err)
		}
		defer ln.Close()
		if !loopback(ln.Addr()) {
			fmt.Fprintf(stdout, "visualizer: -addr %s: listening beyond this machine; the page and its API have no authentication\n", c.addr)
		}
	}

	logger := slog.New(slog.NewTextHandler(stdout, nil))
	var (
		agg      *aggregate.Aggregator
		consumer *source.Consumer
	)
	if c.roles.consumer {
		agg, err = aggregate.New(aggregate.Config{
			Size:       windowSize,
			Bucket:     windowBucket,
			NewDecoder: newVisitDecoder,
			Sink:       b.out,
			Host:       c.host,
			MaxGroups:  maxResources,
			Logger:     logger,
			Hooks:      []hook.Hook{b.hooks},
		})
		if err != nil {
			return fmt.Errorf("consumer: %w", err)
		}
		consumer, err = source.NewConsumer(source.Config{
			Stream:          b.stream,
			Leases:          b.leases,
			WorkerID:        c.host,
			NewProcessor:    agg.NewProcessor,
			InitialPosition: source.Position{Type: source.TrimHorizon},
			Logger:          logger.With("worker", c.host),
			Hooks:           []hook.Hook{b.hooks},
		})
		if err != nil {
			return fmt.Errorf("consumer: %w", err)
		}
	}
	var prod *producer
	if c.roles.producer {
		prod = &producer{traffic: newTraffic(c.seed, c.drift, c.partitionKey), rate: c.rate, batch: 500, put: b.put}
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	fail := func(err error) {
		if err != nil {
			cancel(err)
		}
	}
	meter := newRateMeter(5 * time.Second)
	// consumerErr is what the consumer's Run returned: kept apart from
	// ctx's cause, so that a failure during the shutdown that a signal
	// began still makes the process exit non-zero.
	var consumerErr error
	if consumer != nil {
		wg.Go(func() {
			if consumerErr = consumer.Run(ctx); consumerErr != nil {
				consumerErr = fmt.Errorf("consumer: %w", consumerErr)
			}
			fail(consumerErr)
		})
		wg.Go(func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case now := <-t.C:
					meter.observe(now, agg.Stats().Records)
				}
			}
		})
	}
	if prod != nil {
		wg.Go(func() {
			t := time.NewTicker(10 * time.Millisecond)
			defer t.Stop()
			if err := prod.run(ctx, time.Now(), t.C); err != nil {
				fail(fmt.Errorf("producer: %w", err))
			}
		})
	}
	url := ""
	if ln != nil {
		srv := &server{reader: b.in, groups: b.groups, now: time.Now, log: logger, metrics: metricsHandler(consumer, agg, b)}
		if consumer != nil {
			srv.status = func() status {
				m := agg.Stats().Malformed
				h := consumer.Health()
				st := status{RecordsPerSecond: meter.rate(), LagMillis: &h.MaxLagMillis, Malformed: &m}
				st.Error = healthProblem(h)
				return st
			}
		} else {
			srv.status = newSinkStatus(b.in, b.groups, time.Now).get
		}
		httpSrv := newHTTPServer(srv.handler(), stdout)
		wg.Go(func() {
			if err := httpSrv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				fail(fmt.Errorf("web server: %w", err))
			}
		})
		wg.Go(func() {
			<-ctx.Done()
			sctx, scancel := context.WithTimeout(context.Background(), shutdownGrace)
			defer scancel()
			httpSrv.Shutdown(sctx)
		})
		url = pageURL(c.addr, ln.Addr())
		fmt.Fprintf(stdout, "visualizer: serving %s\n", url)
	}
	if prod != nil {
		fmt.Fprintf(stdout, "visualizer: producing %d visits/s\n", c.rate)
	}
	if consumer != nil {
		fmt.Fprintf(stdout, "visualizer: consuming as worker %s\n", c.host)
	}
	if started != nil {
		started(&app{url: url, backend: b, producer: prod, consumer: consumer, agg: agg})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	if consumerErr != nil {
		return consumerErr
	}
	fmt.Fprintln(stdout, "visualizer: stopped")
	return nil
}

// healthProblem describes what the consumer's health says is wrong, in the
// few words the page shows, or "".
func healthProblem(h source.Health) string {
	switch {
	case errors.Is(h.Failing, checkpoint.ErrTableNotFound):
		return "lease table not found"
	case errors.Is(h.Failing, source.ErrStreamNotFound):
		return "stream not found"
	case errors.Is(h.Failing, source.ErrAccessDenied), errors.Is(h.Failing, checkpoint.ErrAccessDenied):
		return "access denied"
	case !h.Ready && !h.LastSync.IsZero():
		return "lease table unreachable"
	}
	return ""
}

// loopback reports whether a listener's address is reachable from this
// machine only. The default -addr is; a wildcard or a public address is worth
// a warning, since anyone who can reach it sees the page.
func loopback(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// pageURL is the address to print for a listener on addr (the -addr flag):
// one a browser on this machine can open. A wildcard listener reports
// itself as [::] (or 0.0.0.0), which is no place to browse to; the loopback
// address of the same family reaches it.
func pageURL(addr string, a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return "http://" + a.String() + "/"
	}
	ip := tcp.IP
	if ip.IsUnspecified() {
		// Go listens on both families for "0.0.0.0" or an empty host,
		// and says [::]; only an IPv6 wildcard given as such needs ::1.
		ip = net.IPv4(127, 0, 0, 1)
		if host, _, err := net.SplitHostPort(addr); err == nil {
			if h := net.ParseIP(host); h != nil && h.To4() == nil {
				ip = net.IPv6loopback
			}
		}
	}
	return "http://" + net.JoinHostPort(ip.String(), strconv.Itoa(tcp.Port)) + "/"
}

// lockedWriter serializes writes to w, so that lines written from several
// goroutines do not interleave. It is safe for concurrent use.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
