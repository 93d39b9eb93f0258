package source

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/internal/ratelog"
)

// resource is what a failing call was made on: the unit of the give-up rule
// and of the rate-limited warnings.
type resource int

const (
	resStream resource = iota
	resLeases
	numResources
)

func (r resource) String() string {
	if r == resStream {
		return "stream"
	}
	return "lease table"
}

// monitor is the Consumer's watch over its own health: which resource has
// been failing for how long with errors that do not heal (and so when to give
// up), the rate limit on retry warnings, and the count of recovered panics.
// Its methods are safe for concurrent use and cheap on the success path (one
// atomic load); a nil *monitor only logs, for tests that build a lease or a
// shard loop alone.
type monitor struct {
	giveUpAfter time.Duration
	kick        func() // wakes the sync loop, which checks err
	warns       ratelog.Limiter
	panics      atomic.Int64

	streaks [numResources]streak
	mu      sync.Mutex
	fatal   error // the first give-up, for Run
}

// streak is a run of failures of one resource that do not heal, with no
// success in between. failing mirrors since != zero, so that ok costs an
// atomic load when nothing fails.
type streak struct {
	failing atomic.Bool
	since   time.Time // first failure of the run; monitor.mu
	last    error     // the run's latest failure; monitor.mu
}

func newMonitor(giveUpAfter time.Duration, kick func()) *monitor {
	return &monitor{giveUpAfter: giveUpAfter, kick: kick}
}

// unhealable reports whether err is one that retrying will not cure until
// someone changes the setup: a missing stream or table, refused access.
func unhealable(err error) bool {
	return errors.Is(err, ErrStreamNotFound) || errors.Is(err, ErrAccessDenied) ||
		errors.Is(err, checkpoint.ErrTableNotFound) || errors.Is(err, checkpoint.ErrAccessDenied)
}

// ok records a successful call on r, which ends its streak.
func (m *monitor) ok(r resource) {
	if m == nil || !m.streaks[r].failing.Load() {
		return
	}
	m.mu.Lock()
	m.streaks[r].failing.Store(false)
	m.streaks[r].since, m.streaks[r].last = time.Time{}, nil
	m.mu.Unlock()
}

// failed records a failed call on r, to be retried, and logs msg with args
// and err: a warning at most once per resource per ratelog.DefaultEvery,
// or, for a failure that does not heal, an error with the time left before
// the Consumer gives up. Once such failures have lasted giveUpAfter, it sets
// the error Run returns and wakes the sync loop.
func (m *monitor) failed(log *slog.Logger, r resource, msg string, err error, args ...any) {
	if m == nil {
		log.Warn(msg, append(args, "err", err)...)
		return
	}
	now := time.Now()
	args = append(args, "err", err)
	if !unhealable(err) {
		m.warns.Log(log, slog.LevelWarn, r.String(), now, msg, args...)
		return
	}
	m.mu.Lock()
	if m.fatal != nil {
		// Given up already: Run is shutting down and says why.
		m.mu.Unlock()
		return
	}
	s := &m.streaks[r]
	if !s.failing.Load() {
		s.since = now
		s.failing.Store(true)
	}
	s.last = err
	failing := now.Sub(s.since)
	giveUp := failing >= m.giveUpAfter
	if giveUp {
		m.fatal = fmt.Errorf("source: giving up after %v of failures of the %s that do not heal by themselves: %w",
			failing.Round(time.Millisecond), r, err)
	}
	m.mu.Unlock()
	if giveUp {
		m.kick()
		return
	}
	m.warns.Log(log, slog.LevelError, r.String(), now, msg+"; this will not heal by itself",
		append(args, "failing", failing.Round(time.Millisecond), "give_up_in", (m.giveUpAfter-failing).Round(time.Millisecond))...)
}

// failing returns the latest failure of a resource failing with errors that
// do not heal, naming the resource, or nil.
func (m *monitor) failing() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for r := range numResources {
		if s := &m.streaks[r]; s.last != nil {
			return fmt.Errorf("%s failing for %v: %w", r, time.Since(s.since).Round(time.Second), s.last)
		}
	}
	return nil
}

// err returns the failure the Consumer gave up on, or nil.
func (m *monitor) err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.fatal
}

// guardedSession runs one session, recovering a panic of the processor (or
// of NewProcessor) in it. The session's deferred Close of its reader runs
// as the panic unwinds.
func (s *shardLoop) guardedSession() (again, panicked bool) {
	defer func() {
		if v := recover(); v != nil {
			s.panicked(v, debug.Stack())
			again, panicked = false, true
		}
	}()
	return s.session(), false
}

// maxPanicValue bounds how much of a panic's value is logged: the value is
// the application's, and may hold record data.
const maxPanicValue = 256

// panicked counts and logs a recovered panic. The stack is logged with the
// first panic of a streak (panics with no batch accepted in between) only:
// a processor that panics on the same record at every restart would
// otherwise write the same stack every backoff.
func (s *shardLoop) panicked(v any, stack []byte) {
	n := s.panics.Add(1)
	s.cfg.mon.countPanic()
	val := fmt.Sprint(v)
	if len(val) > maxPanicValue {
		val = strings.ToValidUTF8(val[:maxPanicValue], "") + "…"
	}
	args := []any{"panic", val, "panics", n}
	if !s.accepted.IsZero() {
		s.streak = 0 // a batch was accepted since the last panic
	}
	s.streak++
	if s.streak == 1 {
		args = append(args, "stack", string(stack))
	} else {
		args = append(args, "in_a_row", s.streak, "stack", "as logged with the first")
	}
	s.log.Error("processor panicked; restarting the shard with a new processor from its checkpoint", args...)
}

func (m *monitor) countPanic() {
	if m != nil {
		m.panics.Add(1)
	}
}

// restartAfterPanic decides what follows a recovered panic: it reports
// whether the shard is to start again (after a backoff), else it has ended
// the loop. A lost lease is left; when the loop was told to
// stop (shutdown, hand-off) the lease is released or handed over without
// calling the broken processor again. Otherwise this worker keeps the lease
// and starts the shard again with a new processor: giving it up would hand
// the record that made the processor panic to another worker, to panic
// there too.
func (s *shardLoop) restartAfterPanic() bool {
	if lost, done := s.lease.status(); lost || done || s.stopCtx.Err() != nil {
		s.finish(nil, nil)
		return false
	}
	return true
}

// progressLoop logs a progress line every ProgressInterval until ctx ends.
func (c *Consumer) progressLoop(ctx context.Context) {
	every := c.cfg.ProgressInterval
	if every < 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	last, lastAt := c.records.Load(), time.Now()
	for {
		var now time.Time
		select {
		case <-ctx.Done():
			return
		case now = <-t.C:
		}
		st := c.Stats()
		var lag int64
		for _, sh := range st.Shards {
			lag = max(lag, sh.MillisBehindLatest)
		}
		rate := float64(st.RecordsProcessed-last) / now.Sub(lastAt).Seconds()
		args := []any{"records_per_sec", math.Round(rate*10) / 10, "records", st.RecordsProcessed - last,
			"shards", st.LeasesHeld, "lag", time.Duration(lag) * time.Millisecond}
		if st.Panics > 0 {
			args = append(args, "panics", st.Panics)
		}
		c.log.Info("progress", args...)
		last, lastAt = st.RecordsProcessed, now
	}
}

// prevOwners maps a lease key to the owner it had before its current one,
// as far as this worker saw: the table keeps only the current owner, and
// the "took lease" line names the one before. Owned by the sync loop.
type prevOwners map[string]string

// note records, for each lease whose owner differs from the one in seen,
// the owner seen; call it before observe updates seen.
func (p prevOwners) note(seen map[string]observation, leases []checkpoint.Lease) {
	for _, l := range leases {
		if o, ok := seen[l.Key]; ok && o.owner != l.Owner {
			p[l.Key] = o.owner
		}
	}
	if len(p) > len(leases) {
		// Forget leases that are gone.
		present := make(map[string]bool, len(leases))
		for _, l := range leases {
			present[l.Key] = true
		}
		for k := range p {
			if !present[k] {
				delete(p, k)
			}
		}
	}
}

// takeOrigin says how a lease came to this worker, and from whom, for the
// "took lease" line. why is the balancing step (take, adopt, steal), owner
// the lease's owner in the table when it was taken, prev the owner before
// it as this worker saw. An adopted lease is one the table says this worker
// owns: a hand-off to it completed (from prev), or it restarted under the
// same ID.
func takeOrigin(why, owner, self, prev string) (how, from string) {
	switch {
	case why == "adopt" && prev != "" && prev != self:
		return "handed over", prev
	case why == "adopt":
		return "restarted", self
	case why == "steal":
		return "stolen (hand-off not honoured within the failover time)", owner
	case owner != "":
		return "expired", owner
	case prev != "":
		return "released", prev
	}
	return "unowned", ""
}

// reshardLog collects the shards a sync created leases for because a
// reshard made them, to log one line per split or merge.
type reshardLog struct {
	parents  [][]string
	children [][]string
}

func (r *reshardLog) add(s Shard) {
	ps := s.Parents()
	for i, p := range r.parents {
		if slices.Equal(p, ps) {
			r.children[i] = append(r.children[i], s.ID)
			return
		}
	}
	r.parents = append(r.parents, ps)
	r.children = append(r.children, []string{s.ID})
}

func (r *reshardLog) log(log *slog.Logger) {
	for i, ps := range r.parents {
		kind := "split"
		if len(ps) > 1 {
			kind = "merge"
		}
		log.Info("reshard seen", "kind", kind, "parents", ps, "children", r.children[i])
	}
}
