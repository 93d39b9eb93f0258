package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/streamtop/streamtop/aggregate"
	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/checkpoint/dynamostore"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/sink/dynamosink"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/kinesisstream"
)

// A lease group's processes count with package aggregate: each shard's
// processor writes its partial counts to the group's counts table, and every
// process reads the partials back merged (sink.Reader.Query), so all of them
// show the same table whichever shards they hold.
//
// The counts table holds, per window end, two kinds of sink groups: one per
// value of -group-field, named keysPrefix+value, whose keys are the counted
// keys; and totalsGroup, whose keys are totalsPrefix+value, counting each
// value's records (or weights). One read of totalsGroup gives the values
// ranked by total and their totals exactly (one key per value, so no
// partial leaves a value out until there are more values than a partial
// lists); then one read per value shown gives its keys. The prefixes also
// keep the names non-empty, as the sink requires, without -group-field.
const (
	keysPrefix   = "keys:"
	totalsGroup  = "totals"
	totalsPrefix = "group:"
	clockGroup   = "clock" // see groupSource.run
)

// Sizes in the counts table. The partials of every shard for one group and
// window end share one DynamoDB item, of at most 400 KB (see dynamosink).
// Each partial lists aggregate.DefaultPartialK(maxGroupK) = 128 keys at
// most, so the merged top is exact in the common case for the first
// maxGroupK rows (and bounded below them); keys longer than maxGroupKey
// bytes are skipped as too long. With keys of 50 bytes a partial takes about
// 9 KB, room for some 40 shards.
const (
	maxGroupK   = 32
	maxGroupKey = 256
)

// countsTTL is how long the counts table keeps a window past its end: the
// view reads the last few windows only.
const countsTTL = time.Hour

// Table names: DynamoDB's are 3 to 255 letters, digits, '_', '-' or '.'.
func leaseTable(group string) string  { return "streamtop-" + group + "-leases" }
func countsTable(group string) string { return "streamtop-" + group + "-counts" }

// maxGroupName leaves room for the tables' prefix and suffix.
const maxGroupName = 255 - len("streamtop--leases")

// checkGroup validates -group and -dynamodb-endpoint; c.kinesis is set.
func (c *config) checkGroup(set map[string]bool) error {
	if !set["group"] {
		if set["dynamodb-endpoint"] {
			return errors.New("-dynamodb-endpoint: only with -group")
		}
		return nil
	}
	if !validName(c.group, maxGroupName) {
		return fmt.Errorf("-group %q: a group name is 1 to %d letters, digits, '_', '-' or '.' (it names the DynamoDB tables %s and %s)",
			c.group, maxGroupName, leaseTable("NAME"), countsTable("NAME"))
	}
	return checkEndpoint("dynamodb-endpoint", c.dynamoEndpoint, "http://127.0.0.1:4568")
}

// dynamoWhere names the DynamoDB endpoint and the flag that chose it.
func dynamoWhere(c *config, region string) string {
	if c.dynamoEndpoint != "" {
		return "at -dynamodb-endpoint " + c.dynamoEndpoint
	}
	return fmt.Sprintf("in region %s (-region)", region)
}

// workerID names this process in the lease table and on the partials it
// writes: unique among live workers, readable by a person.
func workerID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "streamtop"
	}
	return fmt.Sprintf("%s-%d-%04x", host, os.Getpid(), rand.Uint32N(1<<16))
}

// openGroup checks the stream, makes the group's tables if they are missing,
// and returns the source that joins the group. Within startCheckTimeout each,
// a missing stream or a table that cannot be made or reached fails, naming
// the flag.
func openGroup(ctx context.Context, c *config, awsCfg aws.Config, client kinesisClient, where string, e env) (*groupSource, error) {
	if err := checkStream(ctx, client, c, where); err != nil {
		return nil, err
	}
	db := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		if c.dynamoEndpoint != "" {
			o.BaseEndpoint = aws.String(c.dynamoEndpoint)
		}
	})
	dbWhere := dynamoWhere(c, awsCfg.Region)
	tableErr := func(kind, table string, err error) error {
		return fmt.Errorf("-group %s: %s table %s %s: %w", c.group, kind, table, dbWhere, err)
	}
	cctx, cancel := context.WithTimeout(ctx, startCheckTimeout)
	defer cancel()
	leases, counts := leaseTable(c.group), countsTable(c.group)
	if err := dynamostore.CreateTable(cctx, db, leases); err != nil {
		return nil, tableErr("lease", leases, err)
	}
	err := dynamosink.CreateTable(cctx, db, counts)
	if err != nil && !errors.Is(err, dynamosink.ErrNoTTL) {
		return nil, tableErr("counts", counts, err)
	}
	// Without TTL (a local emulator) old windows stay in the table; reads
	// skip them all the same, so this is not worth a word at every start.
	store, err := dynamostore.New(db, leases)
	if err != nil {
		return nil, tableErr("lease", leases, err)
	}
	snk, err := dynamosink.New(db, counts, dynamosink.WithTTL(countsTTL+c.window))
	if err != nil {
		return nil, tableErr("counts", counts, err)
	}
	stream, err := kinesisstream.New(client, c.kinesis, e.streamOptions...)
	if err != nil {
		return nil, err
	}
	return newGroupSource(c, stream, store, snk, workerID(), e.now)
}

// groupSource is one worker of a lease group: a source.Consumer whose
// processors count with package aggregate into the group's counts table. It
// delivers nothing itself; its reporter reads the merged counts back.
//
// Its zero value is not usable; use newGroupSource. run may be called once.
type groupSource struct {
	cfg      *config
	label    string
	consumer *source.Consumer
	agg      *aggregate.Aggregator
	counts   countsStore
	skips    *skipCounter
	warns    *warnings // the consumer's and aggregator's, for the view
	// poll is the pause between reads of the counts table while -once
	// waits for its window.
	poll   time.Duration
	now    func() time.Time
	worker string
	// through, with -once, is the end (Unix nanoseconds) of the window
	// up to which every shard had written when run returned; 0 before.
	through atomic.Int64
}

// countsStore is where a group's counts go and come back from.
type countsStore interface {
	sink.Writer
	sink.Reader
}

// newGroupSource makes the consumer and its aggregator: windows of c's
// length, counted exactly or with c's capacity, the shards without a
// checkpoint read from c.from.
func newGroupSource(c *config, stream source.Stream, leases checkpoint.Store, counts countsStore, worker string, now func() time.Time) (*groupSource, error) {
	dec, _ := c.decoder() // checked by parseFlags
	skips := &skipCounter{}
	warns := &warnings{}
	log := slog.New(warns.handler())
	agg, err := aggregate.New(aggregate.Config{
		Size: c.window, Bucket: c.bucket,
		NewDecoder: func(string) aggregate.Decoder {
			d := &groupDecoder{dec: dec, skips: skips, only: c.groupOnly}
			d.dec.scratch = [4][]byte{} // each shard its own
			return d
		},
		Sink: counts, Host: worker,
		K: min(c.n, maxGroupK), SketchCapacity: c.capacity,
		MaxGroups: c.maxGroups() + 1, // and the totals
		Logger:    log,
	})
	if err != nil {
		return nil, err
	}
	consumer, err := source.NewConsumer(source.Config{
		Stream: stream, Leases: leases, WorkerID: worker,
		NewProcessor: agg.NewProcessor, InitialPosition: c.from,
		Logger: log,
	})
	if err != nil {
		return nil, err
	}
	return &groupSource{
		cfg: c, label: fmt.Sprintf("kinesis %s group %s", c.kinesis, c.group),
		consumer: consumer, agg: agg, counts: counts, skips: skips, warns: warns,
		poll: min(c.refresh, 250*time.Millisecond), now: now, worker: worker,
	}, nil
}

func (s *groupSource) name() string { return s.label }

// The clock. A whole snapshot makes its window complete, and a Reader then
// fills in an empty complete window at every later step that every shard has
// written through, records or none (see sink.Merge). So each worker writes a
// whole, empty snapshot of the group clockGroup a bucket before it starts,
// and again every clockPeriod: the filled-in windows after one (those with
// no Host) say up to where every shard has written, which the totals group
// alone cannot say once a window holds no record.
//
// clockPeriod is at most half a window, so a clock is always written within
// two windows and a period back from now, where the reporter reads.
func clockPeriod(c *config) time.Duration { return max(c.bucket, min(c.window/2, time.Minute)) }

// writeClock writes the clock a bucket before t.
func (s *groupSource) writeClock(ctx context.Context, t time.Time) (time.Time, error) {
	b := int64(s.cfg.bucket)
	at := time.Unix(0, (floorDiv(t.UnixNano(), b)-1)*b).UTC()
	err := s.counts.Write(ctx, []sink.Snapshot{{Group: clockGroup, Time: at, Window: s.cfg.window, Host: s.worker}})
	if err != nil {
		return at, fmt.Errorf("-group %s: writing to the counts table: %w", s.cfg.group, err)
	}
	return at, nil
}

// completeThrough returns the end of the newest window that every shard has
// written through, as the clocks written from since on say; zero if none.
func completeThrough(ctx context.Context, r sink.Reader, since time.Time) (time.Time, error) {
	snaps, err := r.Query(ctx, clockGroup, since)
	if err != nil {
		return time.Time{}, err
	}
	var through time.Time
	for _, s := range snaps {
		if s.Complete && s.Host == "" { // filled in, not a clock as written
			through = s.Time
		}
	}
	return through, nil
}

// run works as one of the group's workers until ctx ends. With -once it
// stops, and returns nil, once every shard has written through a window
// ending at or after the moment it started: every record the stream held
// then, within a window's length of it, is counted there. It ignores
// deliver: the counts go to the counts table.
func (s *groupSource) run(ctx context.Context, _ func(batch)) error {
	start := s.now()
	first, err := s.writeClock(ctx, start)
	if err != nil {
		return err
	}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- s.consumer.Run(wctx) }()
	poll := s.poll
	if !s.cfg.once {
		poll = clockPeriod(s.cfg)
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err == nil {
				err = ctx.Err()
			}
			if err == nil {
				err = errors.New("the consumer stopped") // not expected: Run works until ctx ends
			}
			return err
		case <-tick.C:
		}
		if !s.cfg.once {
			if _, err := s.writeClock(ctx, s.now()); err != nil && ctx.Err() == nil {
				s.warns.set(s.now(), err.Error())
			}
			continue
		}
		through, err := completeThrough(ctx, s.counts, first)
		if err != nil {
			continue // the reporter shows read errors; -once keeps trying
		}
		if !through.Before(start) {
			s.through.Store(through.UnixNano())
			stop() // a graceful shutdown: the leases go to the others
			return <-done
		}
	}
}

// skipCounter sums the records the shards' decoders skip, by reason. It is
// safe for concurrent use; only a skip takes its lock.
type skipCounter struct {
	mu sync.Mutex
	s  skipped
}

func (c *skipCounter) add(f func(*skipped)) {
	c.mu.Lock()
	f(&c.s)
	c.mu.Unlock()
}

func (c *skipCounter) get() skipped {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s
}

// groupDecoder is one shard's aggregate.Decoder: the command's decoder, with
// the record's two items, its key in its group and its group's total. A
// record it skips is counted in skips, by reason, and yields no item, so the
// aggregator sees no error. It is used by one shard's goroutine.
type groupDecoder struct {
	dec   decoder
	skips *skipCounter
	only  string // -group-filter, if set
	out   decoded

	// The last group seen and its sink group names, kept so that a run of
	// one group's records does not build them again.
	group, keys, total string
}

func (d *groupDecoder) Decode(r source.Record, dst []aggregate.Item) ([]aggregate.Item, error) {
	err := d.dec.decode(rec{Data: r.Data, Key: r.PartitionKey, Arrival: r.ArrivalTime}, &d.out)
	switch {
	case err != nil:
		d.skips.add(func(s *skipped) { s.count(err) })
		return dst, nil
	case d.only != "" && string(d.out.group) != d.only:
		d.skips.add(func(s *skipped) { s.OtherGroups++ })
		return dst, nil
	case len(d.out.key) == 0:
		d.skips.add(func(s *skipped) { s.BadValue++ }) // the sink keeps no empty key
		return dst, nil
	case len(d.out.key) > maxGroupKey:
		d.skips.add(func(s *skipped) { s.TooLong++ })
		return dst, nil
	case d.out.weight == 0:
		return dst, nil // counted, adding nothing
	}
	if string(d.out.group) != d.group || d.keys == "" {
		d.group = string(d.out.group)
		d.keys, d.total = keysPrefix+d.group, totalsPrefix+d.group
	}
	return append(dst,
		aggregate.Item{Group: d.keys, Key: string(d.out.key), Time: d.out.t, N: d.out.weight},
		aggregate.Item{Group: totalsGroup, Key: d.total, Time: d.out.t, N: d.out.weight},
	), nil
}

// reporter returns the maker of the group's reports.
func (s *groupSource) reporter(maxShown int) *mergedReporter {
	return &mergedReporter{src: s, maxShown: maxShown, past: pastReport{time: s.now()}}
}

// mergedReporter makes reports from the group's counts table: the newest
// complete window, merged from every shard's partials, or, while no window
// is complete yet, the newest one, marked incomplete. The header's records,
// rate and skips are this process's; lag is how far the window shown ends
// before now.
//
// Its zero value is not usable; groupSource.reporter makes one. It is used by
// one goroutine at a time. A report reads the counts table 1 + (groups shown)
// times, each read from the window last shown on, so a refresh reads the
// windows written since the last one.
type mergedReporter struct {
	src      *groupSource
	maxShown int
	past     pastReport
	// shown is the end of the newest complete window shown so far: reads
	// start there.
	shown time.Time
}

// readTimeout bounds one report's reads of the counts table; warningAge is
// how long the view shows the worker's last warning.
const (
	readTimeout = 5 * time.Second
	warningAge  = 30 * time.Second
	// staleAfter is the lag past which the view says the counts are
	// behind: the shards write a window two buckets after its end.
	staleAfter = 10 * time.Second
)

func (r *mergedReporter) report(now time.Time, n int) report {
	c := r.src.cfg
	st := r.src.agg.Stats()
	rep := report{
		Time:     now,
		Source:   r.src.label,
		Exact:    c.capacity == 0,
		Capacity: c.capacity,
		Records:  st.Records,
		Skipped:  r.src.skips.get(),
		Window:   windowInfo{Size: duration(c.window), Bucket: duration(c.bucket)},
		Groups:   []group{},
	}
	rep.Skipped.Late = st.Late
	rep.Skipped.OverLimit = st.Malformed // the decoder skips the rest itself
	rep.Malformed = rep.Skipped.malformed()
	r.past.rate(&rep)

	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	if err := r.read(ctx, now, n, &rep); err != nil {
		rep.Note = "reading the counts table: " + err.Error()
	}
	if w := r.src.warns.last(now, warningAge); w != "" {
		rep.Note = strings.TrimPrefix(rep.Note+"; worker: "+w, "; ")
	}
	return rep
}

// read fills rep's window and groups from the counts table: the window the
// clocks say every shard has written through, or, when they say nothing (the
// workers are more than a window behind now), the newest complete window of
// the totals, or the newest one, marked incomplete.
func (r *mergedReporter) read(ctx context.Context, now time.Time, n int, rep *report) error {
	w := r.src.cfg.window
	through := time.Unix(0, r.src.through.Load()) // -once: where it stopped
	if r.src.through.Load() == 0 {
		var err error
		// The clocks are written a bucket before now, ahead of the
		// shards (which close a window IdleTimeout after its end, or
		// later when behind): read two windows back, so that workers up
		// to a window behind still have a clock before their progress.
		if through, err = completeThrough(ctx, r.src.counts, now.Add(-2*w-clockPeriod(r.src.cfg))); err != nil {
			return err
		}
	}
	since := r.shown
	if !through.IsZero() {
		since = through
	} else if since.IsZero() {
		since = now.Add(-w)
	}
	totals, err := r.src.counts.Query(ctx, totalsGroup, since)
	if err != nil {
		return err
	}
	var shown *sink.Snapshot
	for i := range totals {
		if totals[i].Complete && (through.IsZero() || totals[i].Time.Equal(through)) {
			shown = &totals[i]
		}
	}
	switch {
	case shown == nil && !through.IsZero():
		// Every shard wrote through this window, and none had a record
		// in it.
		shown = &sink.Snapshot{Time: through.UTC(), Complete: true}
	case shown == nil && len(totals) == 0:
		rep.Note = "no window written yet: the group's first ends a -bucket after its workers started " +
			"(from trim-horizon), or a -window after (from latest or a time)"
		return nil
	case shown == nil:
		shown = &totals[len(totals)-1]
		rep.Incomplete = true
	}
	if shown.Complete {
		r.shown = shown.Time
	}
	rep.Window.Start, rep.Window.End = shown.Time.Add(-w), shown.Time
	lag := max(0, now.Sub(shown.Time).Milliseconds())
	rep.LagMillis = &lag
	if behind := time.Duration(lag) * time.Millisecond; behind > max(staleAfter, 10*r.src.cfg.bucket) {
		// The consumer retries a shard it cannot read without a word;
		// say what a growing lag means.
		rep.Note = fmt.Sprintf("the merged counts are %v behind: a worker of the group is catching up, "+
			"or cannot read its shards or write its counts", behind.Round(time.Second))
	}

	ranks := map[string]map[string]int{}
	for _, t := range shown.Counts {
		if len(rep.Groups) == r.maxShown {
			break
		}
		if t.Count == 0 {
			continue // a window emptied: written once at zero
		}
		name := strings.TrimPrefix(t.Key, totalsPrefix)
		snaps, err := r.src.counts.Query(ctx, keysPrefix+name, shown.Time)
		if err != nil {
			return err
		}
		g := group{Name: name, Total: t.Count, Top: []row{}}
		for _, s := range snaps {
			if !s.Time.Equal(shown.Time) {
				continue
			}
			g.Keys = len(s.Counts)
			g.ErrBound = s.Floor
			for _, e := range s.Counts {
				g.ErrBound = max(g.ErrBound, e.Err)
			}
			r.past.rows(ranks, &g, s.Counts[:min(n, len(s.Counts))])
		}
		rep.Groups = append(rep.Groups, g)
	}
	r.past.ranks = ranks
	return nil
}
