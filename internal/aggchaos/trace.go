package aggchaos

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamtop/streamtop/source"
)

// Trace keeps what the workers logged (the Consumer's and the aggregator's
// logs, info and above, less the retried reads and renewals) and what the
// test did to them, so that a missing window can be explained after the run:
// who held its shard, who took it over and from which checkpoint, whether a
// saved state was thrown away.
type Trace struct {
	mu     sync.Mutex
	events []traceEvent
}

type traceEvent struct {
	at          time.Time
	level       slog.Level
	shard, text string
}

// Add notes what the test did (shard may be empty).
func (tr *Trace) Add(shard, format string, args ...any) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.events = append(tr.events, traceEvent{at: time.Now(), shard: shard, text: fmt.Sprintf(format, args...)})
}

// Logger returns a logger that feeds the Trace.
func (tr *Trace) Logger(worker string) *slog.Logger {
	return slog.New(traceHandler{tr: tr}).With("worker", worker)
}

type traceHandler struct {
	tr    *Trace
	attrs []slog.Attr
}

// noise are messages too frequent under injected faults to be worth keeping.
var noise = []string{"reading shard failed", "renewing lease failed", "listing shards failed", "listing leases failed", "hand-off request failed"}

func (h traceHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h traceHandler) Handle(_ context.Context, r slog.Record) error {
	for _, m := range noise {
		if strings.HasPrefix(r.Message, m) {
			return nil
		}
	}
	var b strings.Builder
	b.WriteString(r.Message)
	shard := ""
	add := func(a slog.Attr) bool {
		if a.Key == "shard" {
			shard = a.Value.String()
			return true
		}
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	h.tr.mu.Lock()
	defer h.tr.mu.Unlock()
	h.tr.events = append(h.tr.events, traceEvent{at: r.Time, level: r.Level, shard: shard, text: b.String()})
	return nil
}

func (h traceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return traceHandler{tr: h.tr, attrs: append(slices.Clone(h.attrs), as...)}
}

func (h traceHandler) WithGroup(string) slog.Handler { return h }

// LogErrors logs every event at error level: a state thrown away, a shard end
// not checkpointed, a shutdown cut short.
func (tr *Trace) LogErrors(t testing.TB) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, e := range tr.events {
		if e.level >= slog.LevelError {
			t.Logf("%s %s: %s", e.at.Format("15:04:05.000"), e.shard, e.text)
		}
	}
}

// Explain logs the missing windows (the first ten): where the group's
// records in each were, and who wrote the windows around it; then what
// happened on those shards from two windows before the first to failover
// after the last.
func (tr *Trace) Explain(t testing.TB, missing []MissingWindow, records []source.Record, out *RecordingSink, size, bucket, failover time.Duration) {
	if len(missing) == 0 {
		return
	}
	n := int64(size / bucket)
	writers := map[MissingWindow][]string{}
	for _, s := range out.All() {
		k := MissingWindow{s.Group, BucketOf(s.Time, bucket)}
		if !slices.Contains(writers[k], s.Host) {
			writers[k] = append(writers[k], s.Host)
		}
	}
	shards := map[string]bool{}
	for i, m := range missing {
		in := map[string]int{}
		for _, r := range records {
			if g, _, _ := ParseVisit(r); g == m.Group {
				if b := BucketOf(r.ArrivalTime, bucket); m.End-n <= b && b < m.End {
					in[r.ShardID]++
					shards[r.ShardID] = true
				}
			}
		}
		if i >= 10 {
			continue
		}
		var around []string
		for e := m.End - 2; e <= m.End+2; e++ {
			around = append(around, fmt.Sprintf("%+d:%v", e-m.End, writers[MissingWindow{m.Group, e}]))
		}
		t.Logf("missing: %s, window ending %s, its records per shard %v, writers of the windows ending a bucket apart %s",
			m.Group, time.Unix(0, m.End*int64(bucket)).Format("15:04:05.000"), in, strings.Join(around, " "))
	}
	if len(missing) > 10 {
		t.Logf("... and %d more missing windows", len(missing)-10)
	}
	from := time.Unix(0, missing[0].End*int64(bucket)).Add(-2 * size)
	to := time.Unix(0, missing[len(missing)-1].End*int64(bucket)).Add(failover + size)
	t.Logf("on shards %v from %s to %s:", slices.Sorted(maps.Keys(shards)), from.Format("15:04:05.000"), to.Format("15:04:05.000"))
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, e := range tr.events {
		if !e.at.Before(from) && e.at.Before(to) && (e.shard == "" || shards[e.shard]) {
			t.Logf("  %s %s %s", e.at.Format("15:04:05.000"), e.shard, e.text)
		}
	}
}
