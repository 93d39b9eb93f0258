package source

import (
	"errors"
	"fmt"
	"log/slog"
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
// up), and the rate limit on retry warnings.
// Its methods are safe for concurrent use and cheap on the success path (one
// atomic load); a nil *monitor only logs, for tests that build a lease or a
// shard loop alone.
type monitor struct {
	giveUpAfter time.Duration
	kick        func() // wakes the sync loop, which checks err
	warns       ratelog.Limiter

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
	m.streaks[r].since = time.Time{}
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
	s := &m.streaks[r]
	if !s.failing.Load() {
		s.since = now
		s.failing.Store(true)
	}
	failing := now.Sub(s.since)
	giveUp := failing >= m.giveUpAfter && m.fatal == nil
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

// err returns the failure the Consumer gave up on, or nil.
func (m *monitor) err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.fatal
}
