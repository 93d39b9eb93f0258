package source

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/hook"
	"github.com/streamtop/streamtop/internal/crash"
)

// Defaults for the Config fields left at zero. They are chosen to meet the
// Consumer's targets with no tuning: a crashed worker's shards are processed
// again within about FailoverTime + 2*SyncInterval, a joining or leaving
// worker gets or gives its share within a few SyncIntervals.
const (
	// DefaultFailoverTime is how long a lease's counter must stand still
	// before other workers take it: the Kinesis Client Library's default.
	// Shorter means faster takeover after a crash but more renewals, and a
	// worker that pauses (GC, a slow store) for longer loses its leases.
	DefaultFailoverTime = 10 * time.Second
	// DefaultSyncInterval is the period of lease balancing, jittered by
	// ±20% so workers do not move in lockstep. Each sync lists the lease
	// table once (without states), so this is the bound on how late a
	// worker notices a released lease or a hand-off request: half a second
	// keeps graceful hand-over under a second at the cost of two small List
	// calls per second per worker.
	DefaultSyncInterval = 500 * time.Millisecond
	// DefaultShardSyncInterval is the longest a worker goes without listing
	// the stream's shards. A sync lists them sooner when the lease table
	// shows a shard that ended with no lease for its children yet, which is
	// when a split or merge needs new leases, so reshards are picked up
	// within a sync while a fleet of workers does not call ListShards twice
	// a second each (the Kinesis Client Library's default period is the
	// same minute).
	DefaultShardSyncInterval = time.Minute
	// DefaultMaxRecords is the largest batch read and handed to
	// ProcessRecords: the most a Kinesis GetRecords returns.
	DefaultMaxRecords = 10_000
	// DefaultIdleWait is the pause after an empty read when the reader
	// cannot say when records arrive (it is not a Waiter). Kinesis allows
	// five reads per second per shard, shared by every consumer.
	DefaultIdleWait = 200 * time.Millisecond
	// DefaultRetryBackoff is the first pause before retrying a failed read,
	// ProcessRecords or Initialize; each further failure doubles it, up to
	// DefaultMaxRetryBackoff.
	DefaultRetryBackoff = 100 * time.Millisecond
	// DefaultMaxRetryBackoff caps the retry pause.
	DefaultMaxRetryBackoff = 10 * time.Second
	// DefaultGiveUpAfter is how long the Consumer retries a failure that
	// does not heal by itself before Run returns it: long enough for IAM
	// changes to propagate and a table or stream being created to appear,
	// short enough that a wrong name or region fails a deployment.
	DefaultGiveUpAfter = 30 * time.Second
	// DefaultProgressInterval is the period of the progress line: records
	// per second, shards held, lag.
	DefaultProgressInterval = time.Minute
)

// ErrInvalidConfig reports a Config that NewConsumer rejects; the message
// names the field.
var ErrInvalidConfig = errors.New("source: invalid consumer config")

// Config configures a Consumer. Stream, Leases, WorkerID and NewProcessor are
// required, so the zero value is not valid; every other field has a default,
// used when the field is zero. NewConsumer copies it: changing a Config later
// changes no Consumer.
type Config struct {
	// Stream is read by every shard loop.
	Stream Stream
	// Leases is the lease table shared by every worker of this application
	// (one table per application and stream).
	Leases checkpoint.Store
	// WorkerID names this worker in the lease table. It must be unique
	// among live workers; a worker restarted with the same ID takes back
	// the leases it held at once.
	WorkerID string
	// NewProcessor returns the Processor for a shard the worker starts. It
	// is called again whenever the shard starts anew on this worker.
	NewProcessor func(shardID string) Processor
	// InitialPosition is where a shard with no checkpoint starts:
	// TrimHorizon (the default), Latest, or AtTimestamp with Timestamp set.
	// Shards created by a reshard while the application runs always start
	// at TrimHorizon, so no record put into a child is missed.
	InitialPosition Position
	// FailoverTime: see DefaultFailoverTime.
	FailoverTime time.Duration
	// RenewInterval is the period of lease renewal; default FailoverTime/3.
	// It must be shorter than FailoverTime. A worker that cannot renew
	// gives a lease up one period before other workers may take it: with
	// the default, after two failed renewals in a row.
	RenewInterval time.Duration
	// SyncInterval: see DefaultSyncInterval.
	SyncInterval time.Duration
	// ShardSyncInterval: see DefaultShardSyncInterval.
	ShardSyncInterval time.Duration
	// MaxRecords: see DefaultMaxRecords.
	MaxRecords int
	// IdleWait: see DefaultIdleWait.
	IdleWait time.Duration
	// RetryBackoff and MaxRetryBackoff: see DefaultRetryBackoff. Each pause
	// is drawn uniformly from [d/2, d] (jitter) so workers that fail
	// together do not retry together.
	RetryBackoff    time.Duration
	MaxRetryBackoff time.Duration
	// ShutdownTimeout bounds the graceful shutdown that follows the end of
	// Run's context: processors still busy after it are abandoned, their
	// leases left to expire. Default FailoverTime, after which other workers
	// would take the leases anyway.
	ShutdownTimeout time.Duration
	// GiveUpAfter bounds how long the Consumer keeps retrying a failure that
	// does not heal by itself: a stream or lease table that does not exist
	// (or not in this region or account), refused credentials or
	// permissions — errors matching ErrStreamNotFound, ErrAccessDenied,
	// checkpoint.ErrTableNotFound or checkpoint.ErrAccessDenied. Once such
	// failures of the stream or of the lease table have gone on for
	// GiveUpAfter with no success of that resource in between, the
	// Consumer shuts down as if Run's context had ended and Run returns the
	// last of them. Throttling, timeouts and server errors are retried for
	// as long as they last, with a warning at most every 10 s per resource.
	// Default DefaultGiveUpAfter.
	GiveUpAfter time.Duration
	// ProgressInterval is the period of an INFO line that says how the
	// worker is doing: records processed per second since the last line,
	// shards held, the largest lag (MillisBehindLatest) and processor
	// panics. Default DefaultProgressInterval; negative turns it off.
	ProgressInterval time.Duration
	// Hooks receive events as they happen: a hook.Batch for each
	// ProcessRecords call (hook.Batches) and a hook.Checkpoint for each
	// checkpoint write to Leases (hook.Checkpoints). Hooks implementing
	// neither are ignored. With none, the Consumer reads no clock for them.
	// They are called on the shard's goroutine, so they must be quick and
	// safe for concurrent use. See package hook.
	Hooks []hook.Hook
	// Logger receives the Consumer's logs, which name shards, workers and
	// sequence numbers but never carry record data. Lines do not carry the
	// WorkerID: to tell workers apart in one log, pass
	// Logger.With("worker", id). Default: no logging.
	Logger *slog.Logger
}

// withDefaults validates c and fills in its defaults.
func (c Config) withDefaults() (Config, error) {
	bad := func(format string, args ...any) (Config, error) {
		return Config{}, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	switch {
	case c.Stream == nil:
		return bad("Stream is nil")
	case c.Leases == nil:
		return bad("Leases is nil")
	case c.WorkerID == "":
		return bad("WorkerID is empty")
	case c.NewProcessor == nil:
		return bad("NewProcessor is nil")
	}
	switch c.InitialPosition.Type {
	case TrimHorizon, Latest:
	case AtTimestamp:
		if c.InitialPosition.Timestamp.IsZero() {
			return bad("InitialPosition is AT_TIMESTAMP with no Timestamp")
		}
	default:
		return bad("InitialPosition is %v; want TRIM_HORIZON, LATEST or AT_TIMESTAMP", c.InitialPosition.Type)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"FailoverTime", c.FailoverTime}, {"RenewInterval", c.RenewInterval},
		{"SyncInterval", c.SyncInterval}, {"ShardSyncInterval", c.ShardSyncInterval}, {"IdleWait", c.IdleWait},
		{"RetryBackoff", c.RetryBackoff}, {"MaxRetryBackoff", c.MaxRetryBackoff},
		{"ShutdownTimeout", c.ShutdownTimeout}, {"GiveUpAfter", c.GiveUpAfter},
	} {
		if d.v < 0 {
			return bad("%s is negative (%v)", d.name, d.v)
		}
	}
	if c.MaxRecords < 0 {
		return bad("MaxRecords is negative (%d)", c.MaxRecords)
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.FailoverTime, DefaultFailoverTime)
	def(&c.RenewInterval, c.FailoverTime/3)
	def(&c.SyncInterval, DefaultSyncInterval)
	def(&c.ShardSyncInterval, DefaultShardSyncInterval)
	def(&c.IdleWait, DefaultIdleWait)
	def(&c.RetryBackoff, DefaultRetryBackoff)
	def(&c.MaxRetryBackoff, max(DefaultMaxRetryBackoff, c.RetryBackoff))
	def(&c.ShutdownTimeout, c.FailoverTime)
	def(&c.GiveUpAfter, DefaultGiveUpAfter)
	def(&c.ProgressInterval, DefaultProgressInterval)
	if c.MaxRecords == 0 {
		c.MaxRecords = DefaultMaxRecords
	}
	if c.RenewInterval <= 0 || c.RenewInterval >= c.FailoverTime {
		return bad("RenewInterval (%v) must be positive and shorter than FailoverTime (%v)", c.RenewInterval, c.FailoverTime)
	}
	if c.MaxRetryBackoff < c.RetryBackoff {
		return bad("MaxRetryBackoff (%v) is shorter than RetryBackoff (%v)", c.MaxRetryBackoff, c.RetryBackoff)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Consumer is a worker: it shares a stream's shards with the other workers
// of the same lease table and runs one Processor per shard it holds.
//
// Workers split the shards evenly between them (each holds ceil or floor of
// shards/workers). A worker that joins gets its share by cooperative
// hand-off: the owner lets its current batch finish, calls ShutdownRequested
// so the processor checkpoints, and the newcomer starts just after that
// checkpoint, with no record processed twice. A worker that stops
// gracefully releases its leases, which others take within a SyncInterval. A
// worker that crashes or is cut off from the lease table loses its leases
// FailoverTime after its last renewal; it stops working on them before
// another worker may take them, and clocks need not agree, since each worker
// judges expiry on its own clock. A shard created by a reshard starts only
// once each parent was processed to its end, so per partition key records
// are processed in order across splits and merges.
//
// Each held shard's records go to its Processor in order, in batches of up to
// MaxRecords. A batch that fails is retried, the same batch, with exponential
// backoff and jitter, until it succeeds or the lease is lost: nothing is
// skipped. The Checkpointers the Processor gets are StateCheckpointers, so it
// can save its own state with a checkpoint and get it back in
// InitInput.State wherever the shard runs next. A record is processed twice
// only after a crash, a lost lease or a restarted shard end, and only if it
// came after the shard's last checkpoint. A processor whose ShardEnded does
// not checkpoint the end keeps its lease and is reported at error level; the
// shard is started again from its last checkpoint, with a new Processor,
// after a backoff, and its children wait.
//
// A panic in a Processor method, or in NewProcessor, is recovered on the
// shard's goroutine: it is logged at error level (with the stack, once per
// streak of panics with no batch accepted in between), counted in
// Stats.Panics, and the shard is started again from its last checkpoint
// with a new Processor after a backoff that grows to MaxRetryBackoff, as a
// failing batch is retried. The worker keeps the lease: releasing it would
// move the record that made the processor panic to another worker, to panic
// there. Other shards go on meanwhile. A panicking processor gets no
// further hook; on shutdown or hand-off its lease is released or handed
// over without one. Panics on goroutines the processor starts itself cannot
// be recovered and still end the process.
//
// Create one with NewConsumer; the zero value is not usable. Run may be
// called once; Stats is safe for concurrent use with it. The cost is one
// goroutine per held shard plus three; one lease renewal per held shard per
// RenewInterval; one conditional write per checkpoint that moves or saves
// state; one List of the lease table per SyncInterval, and one of the
// stream's shards per ShardSyncInterval or after a reshard.
type Consumer struct {
	cfg     Config
	log     *slog.Logger
	started atomic.Bool
	// The hooks among cfg.Hooks, by event.
	batchHooks      []hook.Batches
	checkpointHooks []hook.Checkpoints

	// hardCtx ends every store call and processor call; it carries Run's
	// values but not its end, and is cancelled when a graceful shutdown runs
	// out of time or the worker crashes (tests). Set by Run.
	hardCtx    context.Context
	hardCancel context.CancelCauseFunc

	mu           sync.Mutex
	held         map[string]*shardLoop // leases with a running shard loop
	shuttingDown bool
	loops        sync.WaitGroup

	counters
	lastSync   atomic.Int64 // Unix nanoseconds of the last sync that listed the leases
	mon        *monitor     // giving up, rate-limited warnings, panics
	prevOwners prevOwners   // owned by the sync loop

	shardsMu sync.Mutex
	shards   map[string]Shard // as last listed, for InitInput.Shard

	// Owned by the sync loop (Run's goroutine).
	seen         map[string]observation
	requested    map[string]time.Time
	kick         chan struct{}
	shardsListed time.Time // when the shards were last listed; zero before
}

// NewConsumer validates cfg and returns a Consumer that does nothing until
// Run. Errors wrap ErrInvalidConfig.
func NewConsumer(cfg Config) (*Consumer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Consumer{
		cfg:       cfg,
		log:       cfg.Logger,
		held:      make(map[string]*shardLoop),
		seen:      make(map[string]observation),
		requested: make(map[string]time.Time),
		kick:      make(chan struct{}, 1),

		batchHooks:      hook.Find[hook.Batches](cfg.Hooks),
		checkpointHooks: hook.Find[hook.Checkpoints](cfg.Hooks),
	}
	c.mon, c.prevOwners = newMonitor(cfg.GiveUpAfter, c.kickSync), make(prevOwners)
	return c, nil
}

// errCrash is crash.ErrKilled: a test killed the worker.
var errCrash = crash.ErrKilled

// Errors of Run.
var (
	// ErrShutdownTimeout reports a graceful shutdown cut short by
	// Config.ShutdownTimeout: some processors were abandoned, their
	// leases left to expire.
	ErrShutdownTimeout = errors.New("source: graceful shutdown timed out")
	// ErrAlreadyStarted reports a second call of Run on one Consumer.
	ErrAlreadyStarted = errors.New("source: Consumer.Run called twice")
)

// Run works until ctx ends, then shuts down gracefully: each shard loop
// finishes its batch, its processor's ShutdownRequested is called with a
// working Checkpointer, and its lease is released so another worker takes it
// at once. Run returns nil after a complete shutdown, or an error wrapping
// ErrShutdownTimeout if it was cut short by ShutdownTimeout, or
// ErrAlreadyStarted if Run was called before.
//
// Run also shuts down, and returns the failure, when the stream or the lease
// table fails in a way that does not heal by itself for
// Config.GiveUpAfter: the error then matches ErrStreamNotFound,
// ErrAccessDenied, checkpoint.ErrTableNotFound or
// checkpoint.ErrAccessDenied, and names the stream or table.
//
// The values of ctx (a trace id, say) reach every processor hook and every
// lease store call; its end does not cut them short. A ctx that ends with
// the cause crash.ErrKilled (tests only) stops the worker as if its process died:
// no processor hook, no release, no further write.
func (c *Consumer) Run(ctx context.Context) error {
	if !c.started.CompareAndSwap(false, true) {
		return ErrAlreadyStarted
	}
	c.hardCtx, c.hardCancel = context.WithCancelCause(context.WithoutCancel(ctx))
	renewCtx, stopRenew := context.WithCancel(c.hardCtx)
	renewDone := make(chan struct{})
	go func() {
		defer close(renewDone)
		var progress sync.WaitGroup
		progress.Go(func() { c.progressLoop(renewCtx) })
		c.renewLoop(renewCtx)
		progress.Wait()
	}()
	c.log.Info("consumer starting")

	crashed := false
	var fatal error
	for {
		wait := jitter(c.cfg.SyncInterval, 0.2)
		if d := c.sync(); d > 0 && d < wait {
			// A lease may expire before the next sync: look again
			// just after, so takeover waits for the failover time
			// and not a sync period more.
			wait = d + time.Millisecond
		}
		if fatal = c.mon.err(); fatal != nil {
			c.log.Error("giving up", "err", fatal)
			break
		}
		select {
		case <-ctx.Done():
			crashed = errors.Is(context.Cause(ctx), errCrash)
		case <-time.After(wait):
			continue
		case <-c.kick:
			continue
		}
		break
	}

	c.mu.Lock()
	c.shuttingDown = true
	held := slices.Collect(maps.Values(c.held))
	c.mu.Unlock()

	var err error
	if crashed {
		c.hardCancel(errCrash)
		c.loops.Wait()
	} else {
		c.log.Info("consumer shutting down", "leases", len(held))
		for _, h := range held {
			h.stop(errShutdown)
		}
		done := make(chan struct{})
		go func() { c.loops.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(c.cfg.ShutdownTimeout):
			c.mu.Lock()
			n := len(c.held)
			c.mu.Unlock()
			err = fmt.Errorf("%w after %v with %d shards still busy", ErrShutdownTimeout, c.cfg.ShutdownTimeout, n)
			c.log.Error("graceful shutdown timed out; abandoning busy shards", "timeout", c.cfg.ShutdownTimeout, "shards", n)
			c.hardCancel(ErrShutdownTimeout)
			// A processor that ignores its context would hold Run
			// forever; give the rest a moment to see the cancellation,
			// then leave them.
			select {
			case <-done:
			case <-time.After(time.Second):
			}
		}
	}
	stopRenew()
	<-renewDone
	c.hardCancel(context.Canceled)
	c.log.Info("consumer stopped")
	return errors.Join(fatal, err)
}

// start runs a shard loop for a lease just taken. During shutdown the lease
// is given straight back.
func (c *Consumer) start(l checkpoint.Lease) {
	log := c.log.With("shard", l.Key)
	timing := leaseTiming{self: c.cfg.WorkerID,
		renewInterval: c.cfg.RenewInterval, failover: c.cfg.FailoverTime}
	timing.mon = c.mon
	ls := newLease(l, c.cfg.Leases, timing, log, &c.counters)
	ls.hooks = c.checkpointHooks
	s := newShardLoop(c.hardCtx, c.loopConfig(), ls, log, &c.counters)
	c.mu.Lock()
	if c.shuttingDown || c.held[l.Key] != nil {
		c.mu.Unlock()
		if _, err := c.cfg.Leases.Release(c.hardCtx, l); err != nil {
			c.log.Warn("releasing lease failed", "shard", l.Key, "err", err)
		}
		return
	}
	c.held[l.Key] = s
	c.loops.Add(1)
	c.mu.Unlock()
	go func() {
		defer func() {
			c.mu.Lock()
			delete(c.held, l.Key)
			c.mu.Unlock()
			c.loops.Done()
			c.kickSync()
		}()
		s.run()
	}()
}

// kickSync asks for a sync now rather than at the next period: a lease was
// freed, a shard ended, a loop stopped.
func (c *Consumer) kickSync() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// renewLoop renews every held lease each RenewInterval until ctx ends.
func (c *Consumer) renewLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(c.cfg.RenewInterval):
		}
		c.mu.Lock()
		held := slices.Collect(maps.Values(c.held))
		c.mu.Unlock()
		// In parallel, so one slow write does not delay the others
		// towards their expiry; bounded, so a large worker does not
		// flood the store.
		sem := make(chan struct{}, maxParallelRenewals)
		var wg sync.WaitGroup
		for _, h := range held {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				h.lease.renew(ctx)
			}()
		}
		wg.Wait()
	}
}

// maxParallelRenewals bounds the renewals in flight at once.
const maxParallelRenewals = 16

// counters are the Consumer's running figures for Stats.
type counters struct {
	records, bytes, checkpoints              atomic.Int64
	leasesTaken, leasesLost, leasesHandedOff atomic.Int64
}

// Stats is a snapshot of a Consumer's work: a plain value, owned by the
// caller. The zero value means nothing held and nothing processed.
type Stats struct {
	WorkerID string
	// LeasesHeld counts the shards this worker is processing now.
	LeasesHeld int
	// LeasesTaken counts the leases this worker took since Run started
	// (new, expired, released, handed to it, or stolen), LeasesLost those
	// it lost to another worker or to their deletion, and LeasesHandedOff
	// those it handed over on request.
	LeasesTaken, LeasesLost, LeasesHandedOff int64
	// RecordsProcessed counts records in batches ProcessRecords accepted,
	// BytesProcessed their data, and Checkpoints the checkpoint writes,
	// since Run started.
	RecordsProcessed int64
	BytesProcessed   int64
	Checkpoints      int64
	// Panics counts the panics of Processor methods (and of NewProcessor)
	// that the Consumer recovered since Run started.
	Panics int64
	// Shards describes each held shard, in ID order.
	Shards []ShardStats
}

// ShardStats is one held shard's part of Stats, a plain value.
type ShardStats struct {
	ShardID string
	// RecordsProcessed counts records accepted since this worker took the
	// shard.
	RecordsProcessed int64
	// LastSequenceNumber is the last record ProcessRecords accepted.
	LastSequenceNumber string
	// Checkpoint is the lease's stored checkpoint.
	Checkpoint string
	// MillisBehindLatest is from the last read: 0 when caught up.
	MillisBehindLatest int64
	// Panics counts the processor panics recovered on this shard since
	// this worker took it.
	Panics int64
}

// Health is whether a Consumer is working, for a readiness or liveness
// probe. It is a plain value.
type Health struct {
	// Ready: the Consumer has listed the lease table within the last three
	// sync intervals (plus a second), and neither the stream nor the lease
	// table is failing with errors that do not heal (a missing resource,
	// refused access). A Consumer holding no lease can be ready: another
	// worker may hold them all.
	Ready bool
	// LastSync is when the Consumer last listed the lease table; zero
	// before its first sync.
	LastSync time.Time
	// Failing is the latest failure that does not heal, naming the
	// resource and how long it has failed, or nil. If it lasts
	// Config.GiveUpAfter, Run returns it.
	Failing error
	// LeasesHeld and MaxLagMillis (the furthest behind of the held shards,
	// from their last reads) are Stats' figures, for the probe's answer.
	LeasesHeld   int
	MaxLagMillis int64
}

// Health reports whether the Consumer is working. It is safe to call at any
// time, from any goroutine, and costs what Stats does.
func (c *Consumer) Health() Health {
	st := c.Stats()
	h := Health{Failing: c.mon.failing(), LeasesHeld: st.LeasesHeld}
	if ns := c.lastSync.Load(); ns != 0 {
		h.LastSync = time.Unix(0, ns)
	}
	for _, sh := range st.Shards {
		h.MaxLagMillis = max(h.MaxLagMillis, sh.MillisBehindLatest)
	}
	h.Ready = !h.LastSync.IsZero() && time.Since(h.LastSync) < 3*c.cfg.SyncInterval+time.Second && h.Failing == nil
	return h
}

// Stats returns a snapshot of the Consumer's counters. It is safe to call at
// any time, and costs O(s log s) for s held shards.
func (c *Consumer) Stats() Stats {
	c.mu.Lock()
	held := slices.Collect(maps.Values(c.held))
	c.mu.Unlock()
	s := Stats{
		WorkerID:         c.cfg.WorkerID,
		LeasesHeld:       len(held),
		LeasesTaken:      c.leasesTaken.Load(),
		LeasesLost:       c.leasesLost.Load(),
		LeasesHandedOff:  c.leasesHandedOff.Load(),
		RecordsProcessed: c.records.Load(),
		BytesProcessed:   c.bytes.Load(),
		Checkpoints:      c.checkpoints.Load(),
		Panics:           c.mon.panics.Load(),
	}
	for _, h := range held {
		st := ShardStats{
			ShardID:            h.key,
			RecordsProcessed:   h.records.Load(),
			MillisBehindLatest: h.behind.Load(),
			Panics:             h.panics.Load(),
		}
		if p := h.lastSeq.Load(); p != nil {
			st.LastSequenceNumber = *p
		}
		if p := h.lease.stored.Load(); p != nil {
			st.Checkpoint = *p
		}
		s.Shards = append(s.Shards, st)
	}
	slices.SortFunc(s.Shards, func(a, b ShardStats) int { return strings.Compare(a.ShardID, b.ShardID) })
	return s
}
