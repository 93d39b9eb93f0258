package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// warnings keeps the last warning or error that a lease group's consumer and
// aggregator logged (a shard that cannot be read, a sink write that fails
// and is retried), so the view can show it: on a terminal there is nowhere
// else to log, and a worker that retries in silence looks like one that has
// nothing to count.
//
// Its zero value is ready to use, and it is safe for concurrent use. Each
// warning costs a formatting of its attributes; records below Warn cost
// nothing.
type warnings struct {
	mu   sync.Mutex
	at   time.Time
	text string
}

// last returns the last warning logged at most maxAge before now, or "".
func (w *warnings) last(now time.Time, maxAge time.Duration) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.text == "" || now.Sub(w.at) > maxAge {
		return ""
	}
	return w.text
}

// set records a warning of the command's own.
func (w *warnings) set(at time.Time, text string) {
	w.mu.Lock()
	w.at, w.text = at, text
	w.mu.Unlock()
}

// handler returns a slog.Handler that records into w.
func (w *warnings) handler() slog.Handler { return &warnHandler{w: w} }

type warnHandler struct {
	w      *warnings
	prefix []slog.Attr
}

func (h *warnHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h *warnHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	add := func(a slog.Attr) bool {
		if a.Key != "worker" { // the same on every line of this process
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		}
		return true
	}
	for _, a := range h.prefix {
		add(a)
	}
	r.Attrs(add)
	h.w.set(r.Time, b.String())
	return nil
}

func (h *warnHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &warnHandler{w: h.w, prefix: append(h.prefix[:len(h.prefix):len(h.prefix)], as...)}
}

// WithGroup keeps the attributes flat: the messages are one line to read.
func (h *warnHandler) WithGroup(string) slog.Handler { return h }
