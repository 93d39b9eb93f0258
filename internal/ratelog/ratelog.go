// Package ratelog keeps a failure that repeats from flooding a log: a
// Limiter lets through at most one line per key per interval and counts the
// lines it held back, so the next line it lets through can say how many
// there were. The Consumer and the AWS adapters use one for the warnings of
// calls they retry (throttling, timeouts, server errors).
package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// DefaultEvery is the interval of a Limiter whose Every is zero: a retried
// failure is logged at most once per key every 10 s.
const DefaultEvery = 10 * time.Second

// Limiter lets through at most one line per key per Every. The zero value
// uses DefaultEvery. A Limiter is safe for concurrent use; it must not be
// copied after first use. Each call costs a map lookup under a mutex; it
// keeps one entry per key ever seen, so keys should come from a small set
// (operations, resources), never from data.
type Limiter struct {
	Every time.Duration

	mu   sync.Mutex
	keys map[string]*entry
}

type entry struct {
	last time.Time // when a line was last let through
	held int       // lines held back since
}

// Allow reports whether a line for key may be written at now, and, when it
// may, how many lines for key were held back since the last one.
func (l *Limiter) Allow(key string, now time.Time) (ok bool, held int) {
	every := l.Every
	if every <= 0 {
		every = DefaultEvery
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.keys == nil {
		l.keys = make(map[string]*entry)
	}
	e := l.keys[key]
	if e == nil {
		e = &entry{}
		l.keys[key] = e
	} else if now.Sub(e.last) < every {
		e.held++
		return false, 0
	}
	held, e.held, e.last = e.held, 0, now
	return true, held
}

// Log writes msg with args at level to log, if Allow lets a line for key
// through at now; the line then carries "suppressed", the number held back
// since the last one, when that is not zero. A nil log writes nothing.
func (l *Limiter) Log(log *slog.Logger, level slog.Level, key string, now time.Time, msg string, args ...any) {
	if log == nil || !log.Enabled(context.Background(), level) {
		return
	}
	ok, held := l.Allow(key, now)
	if !ok {
		return
	}
	if held > 0 {
		args = append(args, "suppressed", held)
	}
	log.Log(context.Background(), level, msg, args...)
}
