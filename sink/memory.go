package sink

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/streamtop/streamtop/internal/option"
)

// DefaultRetention is how much history a Memory keeps per group unless told
// otherwise: the visualizer charts 2 minutes, and 10 leave room for a slow
// reader or a longer chart.
const DefaultRetention = 10 * time.Minute

// Memory is a sink that keeps a bounded history of snapshots in memory: the
// embedded default, and what tests read results from. It implements Writer,
// ProgressWriter, Reader and Lister.
//
// History is bounded by time, not by count: a group keeps the snapshots whose
// Time is within the retention of its newest snapshot's Time. Judging by the
// data rather than a wall clock keeps results stable under replay and in
// tests. A group, once written, is kept (with at least its newest snapshot)
// for the life of the Memory. Progress is kept for every shard that wrote
// any.
//
// Use NewMemory; the zero value is not usable. It is safe for concurrent use:
// a read-write mutex lets queries run side by side. Writing b snapshots of c
// counts costs O(b·(c + log n)) for n retained per group, plus a shift of the
// group's history when one arrives out of order; Query costs O(log n) plus
// the Merge of what it returns.
type Memory struct {
	retention time.Duration

	mu       sync.RWMutex
	groups   map[string][]Snapshot // each in ascending (Time, Shard), unique
	progress map[string]Progress   // by shard
}

// MemoryOption configures a Memory in NewMemory; WithRetention makes one.
// A MemoryOption is a plain value, safe to share and reuse; it checks its
// argument when NewMemory applies it, and a bad one (or a nil MemoryOption)
// makes NewMemory return an error wrapping ErrInvalidOption that names the
// option and value.
type MemoryOption interface {
	applyMemory(*Memory) error
}

type memoryOption func(*Memory) error

func (f memoryOption) applyMemory(m *Memory) error { return f(m) }

// WithRetention sets how far back from a group's newest snapshot the history
// reaches (default DefaultRetention). It must be positive.
func WithRetention(d time.Duration) MemoryOption {
	return memoryOption(func(m *Memory) error {
		return option.Positive(&m.retention, ErrInvalidOption, "WithRetention", d)
	})
}

// NewMemory returns an empty Memory.
func NewMemory(opts ...MemoryOption) (*Memory, error) {
	m := &Memory{retention: DefaultRetention, groups: make(map[string][]Snapshot), progress: make(map[string]Progress)}
	if err := option.Apply(m, ErrInvalidOption, opts, MemoryOption.applyMemory); err != nil {
		return nil, err
	}
	return m, nil
}

var (
	_ ProgressWriter = (*Memory)(nil)
	_ Reader         = (*Memory)(nil)
	_ Lister         = (*Memory)(nil)
)

// Write stores snapshots, replacing any with the same Group, Time and Shard;
// within one call a later snapshot replaces an earlier one. The Memory keeps its own
// copy of each snapshot's Counts, so the caller may reuse them.
func (m *Memory) Write(ctx context.Context, snapshots []Snapshot) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for i, s := range snapshots {
		if err := validate(s); err != nil {
			return fmt.Errorf("sink: snapshot %d: %w", i, err)
		}
	}
	// Copy outside the lock, so readers wait only for the inserts.
	copies := make([]Snapshot, len(snapshots))
	for i, s := range snapshots {
		copies[i] = clone(s)
		// Readers get UTC, as from a persistent sink, whatever zone (and
		// monotonic reading) the writer's clock attached.
		copies[i].Time = s.Time.UTC()
		copies[i].Complete = false
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	touched := make(map[string]struct{})
	for _, s := range copies {
		h := m.groups[s.Group]
		i, found := slices.BinarySearchFunc(h, s, byTimeShard)
		if found {
			h[i] = s
		} else {
			h = slices.Insert(h, i, s)
		}
		m.groups[s.Group] = h
		touched[s.Group] = struct{}{}
	}
	for g := range touched {
		m.groups[g] = m.trim(m.groups[g])
	}
	return nil
}

func validate(s Snapshot) error {
	switch {
	case s.Group == "":
		return fmt.Errorf("%w: empty group", ErrInvalidSnapshot)
	case s.Time.IsZero():
		return fmt.Errorf("%w: group %q: zero time", ErrInvalidSnapshot, s.Group)
	}
	return nil
}

// trim drops what is older than the retention allows, clearing the dropped
// slots so their Counts can be collected before the array is reallocated.
func (m *Memory) trim(h []Snapshot) []Snapshot {
	cutoff := h[len(h)-1].Time.Add(-m.retention)
	i, _ := slices.BinarySearchFunc(h, cutoff, byTime)
	clear(h[:i])
	return h[i:]
}

func byTime(s Snapshot, t time.Time) int { return s.Time.Compare(t) }

func byTimeShard(s, t Snapshot) int {
	if c := s.Time.Compare(t.Time); c != 0 {
		return c
	}
	return strings.Compare(s.Shard, t.Shard)
}

// WriteProgress records a shard's progress; see ProgressWriter.
func (m *Memory) WriteProgress(ctx context.Context, p Progress) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validateProgress(p); err != nil {
		return err
	}
	p.Parents = slices.Clone(p.Parents)
	p.From, p.Through = p.From.UTC(), p.Through.UTC()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.progress[p.Shard] = Advance(m.progress[p.Shard], p)
	if p.Ended {
		// Forget the shards that ended longer ago than the retention,
		// by data time: their windows are gone, and their children
		// cover their hash keys for the later ones.
		cutoff := p.Through.Add(-m.retention)
		for k, q := range m.progress {
			if q.Ended && q.Through.Before(cutoff) {
				delete(m.progress, k)
			}
		}
	}
	return nil
}

// Advance returns the progress stored after writing p over old, by the rules
// of ProgressWriter: Through never moves back, Ended stays set, and the rest
// comes from p. A sink outside this module can use it to keep the rules.
func Advance(old, p Progress) Progress {
	if old.Shard == "" {
		return p
	}
	if old.Through.After(p.Through) {
		p.Through = old.Through
	}
	p.Ended = p.Ended || old.Ended
	return p
}

// validateProgress refuses progress that names no shard.
func validateProgress(p Progress) error {
	if p.Shard == "" {
		return fmt.Errorf("%w: progress without a shard", ErrInvalidSnapshot)
	}
	return nil
}

func clone(s Snapshot) Snapshot {
	s.Counts = slices.Clone(s.Counts)
	return s
}

// Query returns the group's snapshots with Time at or after since, merged
// and judged complete as Merge does: an empty, non-nil slice for a group it
// does not hold. The result is the caller's own.
func (m *Memory) Query(ctx context.Context, group string, since time.Time) ([]Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	h := m.groups[group]
	i, _ := slices.BinarySearchFunc(h, since, byTime)
	return Merge(h[i:], m.progressList()), nil
}

// progressList returns the stored progress; the caller holds the lock.
func (m *Memory) progressList() []Progress {
	out := make([]Progress, 0, len(m.progress))
	for _, p := range m.progress {
		out = append(out, p)
	}
	return out
}

// Latest returns the group's newest window, merged, and false if the group
// has none. It costs the Merge of one window, where Query would merge the
// history.
func (m *Memory) Latest(group string) (Snapshot, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	h := m.groups[group]
	if len(h) == 0 {
		return Snapshot{}, false
	}
	i, _ := slices.BinarySearchFunc(h, h[len(h)-1].Time, byTime)
	merged := Merge(h[i:], m.progressList())
	return merged[len(merged)-1], true
}

// Groups returns the names of the groups written so far, in ascending order.
func (m *Memory) Groups(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	out := make([]string, 0, len(m.groups))
	for g := range m.groups {
		out = append(out, g)
	}
	m.mu.RUnlock()
	slices.Sort(out)
	return out, nil
}
