// Package memstream is an embedded sharded stream with the semantics of
// Amazon Kinesis Data Streams: the default backend of streamtop, and the test
// double that behaves like the real thing.
//
// A record goes to the open shard whose hash key range holds the MD5 of its
// partition key (read as an unsigned 128-bit integer); shards are named
// "shardId-000000000000" and up; every record gets a sequence number and an
// arrival time from the stream's clock; records older than the retention
// period are trimmed. SplitShard and MergeShards close their parents and open
// children exactly as Kinesis does, so a reader that finishes the parents
// before the children sees every partition key's records in put order.
//
// Sequence numbers are 32-digit decimal strings: a 20-digit counter shared by
// the whole stream, then the 12-digit number of the shard (as in its ID). They
// increase within a shard, sort as strings, a record put after another
// returned sorts after it whatever its shard, and every record of a child
// shard sorts after every record of its parents. The shard's number lets Open
// refuse a sequence number of another shard even after retention trimmed it,
// as Kinesis does.
//
// What differs from Kinesis, on purpose: there are no throughput limits or
// request size limits beyond one record's (so PutRecords takes any number of
// entries and Read any max), a shard's records may be bounded by count
// (WithMaxRecords) besides age, resharding takes effect at once (no UPDATING
// state), and a Read returns records that share memory with the stream (see
// Reader.Read).
package memstream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/streamtop/streamtop/internal/option"
	"github.com/streamtop/streamtop/source"
)

// Errors memstream reports besides source.ErrShardNotFound and
// source.ErrInvalidPosition. Each is wrapped, so test with errors.Is.
var (
	// ErrInvalidOption reports a bad shard count or option given to New.
	ErrInvalidOption = errors.New("memstream: invalid option")
	// ErrInvalidArgument reports a request Kinesis would refuse with
	// InvalidArgumentException: a bad partition key, hash key, payload size,
	// Read size, or a split key or merge pair that does not fit the shards.
	ErrInvalidArgument = errors.New("memstream: invalid argument")
	// ErrShardClosed reports a SplitShard or MergeShards that named a shard
	// a previous reshard already closed.
	ErrShardClosed = errors.New("memstream: shard closed")
	// ErrClosed reports use of a Reader after Close.
	ErrClosed = errors.New("memstream: reader closed")
)

// Limits that Kinesis enforces on one record and that memstream enforces too,
// so code developed against memstream does not break on Kinesis.
const (
	// MaxPartitionKeyLen is the most Unicode characters a partition key has.
	MaxPartitionKeyLen = 256
	// MaxDataLen is the largest payload, in bytes.
	MaxDataLen = 1 << 20
	// MaxShards is the most shards New creates.
	MaxShards = 10000
	// DefaultRetention is how long records are kept unless WithRetention
	// says otherwise: 24 hours, Kinesis' default.
	DefaultRetention = 24 * time.Hour
)

// Option configures a Stream in New. WithClock, WithRetention and
// WithMaxRecords make one. An Option is a plain value, safe to share and reuse; it checks its
// argument when New applies it, and a bad one (or a nil Option) makes New
// return an error wrapping ErrInvalidOption that names the option and value.
type Option interface {
	apply(*config) error
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

type config struct {
	now        func() time.Time
	retention  time.Duration
	maxRecords int64 // per shard; 0 for no bound
}

// WithClock sets the clock that stamps arrival times and judges retention;
// the default is time.Now. Arrival times are data (windows count by them),
// so a test or a replay that needs them to be particular instants passes
// its own clock; now must be safe for concurrent use.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(c *config) error { return option.Clock(&c.now, ErrInvalidOption, now) })
}

// WithRetention sets how long records are kept after they arrive (default
// DefaultRetention). A closed shard is listed until its records have aged
// out: until its closing time plus the retention period.
func WithRetention(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		return option.Positive(&c.retention, ErrInvalidOption, "WithRetention", d)
	})
}

// WithMaxRecords bounds each shard to its newest n records: a Put that goes
// past n trims the oldest, as retention would, and a reader that had not
// reached them skips to the oldest retained one. Retention alone bounds
// memory only as far as the rate of Puts is bounded; this bounds it whatever
// the rate. Memory is freed 16,384 records at a time, so a shard holds up
// to n+16,384 records. Kinesis has no such limit; by default there is none.
func WithMaxRecords(n int) Option {
	return optionFunc(func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: WithMaxRecords(%d): must be positive", ErrInvalidOption, n)
		}
		c.maxRecords = int64(n)
		return nil
	})
}

// Stream is an in-memory sharded stream. It implements source.Stream.
//
// Use New; the zero value is not usable. All methods are safe for concurrent
// use. Put costs one MD5 of the partition key (or a map lookup, for one of
// the last 65,536 distinct keys), one copy of the payload, and an append
// under the shard's lock; Read returns a sub-slice of the
// shard's records without copying them. Memory grows with the records
// retained: see WithRetention and WithMaxRecords.
type Stream struct {
	cfg config

	// seq is the last sequence number handed out. It is advanced only under
	// the lock of the shard that gets the number, so numbers increase in
	// each shard's append order.
	seq atomic.Uint64

	keys keyCache

	// routes is the current set of open shards, swapped whole on a reshard,
	// so Put routes without taking a stream-wide lock.
	routes atomic.Pointer[routeTable]

	// mu serializes reshards and guards shards, byID and nextID.
	mu     sync.RWMutex
	shards []*shard // every shard ever created, in ID order
	byID   map[string]*shard
	nextID int
}

// routeTable lists the open shards in hash key order; their ranges are
// contiguous and cover the whole hash key space.
type routeTable struct{ open []*shard }

func (t *routeTable) find(h hashKey) *shard { return t.open[t.index(h)] }

// index returns the position in t.open of the shard whose range holds h.
func (t *routeTable) index(h hashKey) int {
	i, _ := slices.BinarySearchFunc(t.open, h, func(s *shard, h hashKey) int {
		return s.hi.cmp(h)
	})
	return i
}

// Entry is one record for PutRecords: a plain value, whose zero value is
// invalid (a partition key is required). PutRecords copies Data.
type Entry struct {
	PartitionKey string
	Data         []byte
	// ExplicitHashKey, if not empty, is a decimal hash key that routes the
	// record instead of the MD5 of PartitionKey, as in Kinesis.
	ExplicitHashKey string
}

// PutResult says where PutRecords stored one entry: a plain value.
type PutResult struct {
	ShardID        string
	SequenceNumber string
}

// New returns a stream with the given number of open shards, whose hash key
// ranges split the hash key space evenly, as Kinesis' CreateStream does.
func New(shards int, opts ...Option) (*Stream, error) {
	if shards < 1 || shards > MaxShards {
		return nil, fmt.Errorf("%w: %d shards, want 1 to %d", ErrInvalidOption, shards, MaxShards)
	}
	cfg := config{now: time.Now, retention: DefaultRetention}
	if err := option.Apply(&cfg, ErrInvalidOption, opts, Option.apply); err != nil {
		return nil, err
	}
	s := &Stream{cfg: cfg, byID: make(map[string]*shard)}
	rt := &routeTable{}
	for _, r := range evenRanges(shards) {
		sh := s.newShardLocked(r[0], r[1], "", "")
		sh.startSeq = 1
		rt.open = append(rt.open, sh)
	}
	s.routes.Store(rt)
	return s, nil
}

// newShardLocked registers a new open shard; the caller holds s.mu (or is New).
func (s *Stream) newShardLocked(lo, hi hashKey, parent, adjacent string) *shard {
	sh := &shard{
		id:       fmt.Sprintf("shardId-%012d", s.nextID),
		num:      uint64(s.nextID),
		lo:       lo,
		hi:       hi,
		loText:   lo.String(),
		hiText:   hi.String(),
		parent:   parent,
		adjacent: adjacent,
		log:      newRecordLog(chunkBits),
	}
	s.nextID++
	s.shards = append(s.shards, sh)
	s.byID[sh.id] = sh
	return sh
}

func (s *Stream) now() time.Time { return s.cfg.now().Round(0) }

// Put stores one record in the shard that owns its partition key and returns
// that shard's ID and the record's sequence number. The payload is copied, so
// the caller may reuse data at once.
func (s *Stream) Put(ctx context.Context, partitionKey string, data []byte) (shardID, sequenceNumber string, err error) {
	if err := ctx.Err(); err != nil {
		return "", "", err
	}
	if err := checkRecord(partitionKey, data); err != nil {
		return "", "", err
	}
	h := s.keys.hash(partitionKey)
	var d []byte
	if len(data) > 0 {
		d = make([]byte, len(data))
		copy(d, data)
	}
	now := s.now()
	for {
		sh := s.routes.Load().find(h)
		sh.mu.Lock()
		if sh.closed {
			// A reshard closed it after we loaded the routes; the new
			// routes are already published.
			sh.mu.Unlock()
			continue
		}
		sh.trimLocked(now.Add(-s.cfg.retention))
		n := s.seq.Add(1)
		seq := formatSeq(n, sh.num)
		sh.appendLocked(source.Record{
			Data:           d,
			PartitionKey:   partitionKey,
			SequenceNumber: seq,
			ShardID:        sh.id,
		}, now)
		sh.limitLocked(s.cfg.maxRecords)
		sh.mu.Unlock()
		return sh.id, seq, nil
	}
}

// PutRecords stores a batch of records, each in the shard that owns it, and
// returns where each went, in the order of entries. Records of one shard are
// appended in the order of entries, under one lock acquisition. Unlike
// Kinesis there are no partial failures: an invalid entry fails the whole
// call before anything is stored.
func (s *Stream) PutRecords(ctx context.Context, entries []Entry) ([]PutResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	hashes := make([]hashKey, len(entries))
	total := 0
	for i, e := range entries {
		if err := checkRecord(e.PartitionKey, e.Data); err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		if e.ExplicitHashKey != "" {
			h, err := parseHashKey(e.ExplicitHashKey)
			if err != nil {
				return nil, fmt.Errorf("%w: entry %d: %v", ErrInvalidArgument, i, err)
			}
			hashes[i] = h
		}
		total += len(e.Data)
	}
	s.keys.hashAll(entries, hashes)
	// One allocation holds every payload; each record's Data is capped at
	// its own length so an append by a reader cannot spill into the next.
	buf := make([]byte, 0, total)
	results := make([]PutResult, len(entries))
	now := s.now()
	cutoff := now.Add(-s.cfg.retention)

	pending := make([]int, len(entries))
	for i := range pending {
		pending[i] = i
	}
	for len(pending) > 0 {
		rt := s.routes.Load()
		groups := groupByShard(rt, hashes, pending)
		var retry []int
		for _, g := range groups {
			sh := g.shard
			sh.mu.Lock()
			if sh.closed {
				sh.mu.Unlock()
				retry = append(retry, g.idx...)
				continue
			}
			sh.trimLocked(cutoff)
			first := s.seq.Add(uint64(len(g.idx))) - uint64(len(g.idx)) + 1
			seqs := formatSeqs(first, len(g.idx), sh.num)
			for j, i := range g.idx {
				seq := seqs[j*seqWidth : (j+1)*seqWidth]
				var data []byte
				if n := len(entries[i].Data); n > 0 {
					off := len(buf)
					buf = append(buf, entries[i].Data...)
					data = buf[off : off+n : off+n]
				}
				sh.appendLocked(source.Record{
					Data:           data,
					PartitionKey:   entries[i].PartitionKey,
					SequenceNumber: seq,
					ShardID:        sh.id,
				}, now)
				results[i] = PutResult{ShardID: sh.id, SequenceNumber: seq}
			}
			sh.limitLocked(s.cfg.maxRecords)
			sh.mu.Unlock()
		}
		slices.Sort(retry)
		pending = retry
	}
	return results, nil
}

type group struct {
	shard *shard
	idx   []int
}

// groupByShard splits the pending entry indexes by the shard that owns them,
// keeping their order within each shard.
func groupByShard(rt *routeTable, hashes []hashKey, pending []int) []group {
	if len(rt.open) == 1 {
		return []group{{rt.open[0], pending}}
	}
	groups := make([]group, len(rt.open))
	for _, i := range pending {
		k := rt.index(hashes[i])
		groups[k].idx = append(groups[k].idx, i)
	}
	out := groups[:0]
	for k, g := range groups {
		if len(g.idx) > 0 {
			g.shard = rt.open[k]
			out = append(out, g)
		}
	}
	return out
}

func checkRecord(partitionKey string, data []byte) error {
	if partitionKey == "" {
		return fmt.Errorf("%w: empty partition key", ErrInvalidArgument)
	}
	if len(partitionKey) > MaxPartitionKeyLen && utf8.RuneCountInString(partitionKey) > MaxPartitionKeyLen {
		return fmt.Errorf("%w: partition key longer than %d characters", ErrInvalidArgument, MaxPartitionKeyLen)
	}
	if len(data) > MaxDataLen {
		return fmt.Errorf("%w: payload of %d bytes exceeds %d", ErrInvalidArgument, len(data), MaxDataLen)
	}
	return nil
}

// Shards lists the stream's shards, open and closed, in ID order (which is
// creation order). A closed shard drops out once its retention has passed.
func (s *Stream) Shards(ctx context.Context) ([]source.Shard, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cutoff := s.now().Add(-s.cfg.retention)
	// Holding s.mu keeps reshards out, so the list is a consistent
	// snapshot: a closed shard is never listed without its children.
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]source.Shard, 0, len(s.shards))
	for _, sh := range s.shards {
		sh.mu.RLock()
		info, gone := sh.describeLocked(cutoff)
		sh.mu.RUnlock()
		if !gone {
			out = append(out, info)
		}
	}
	return out, nil
}

// lookup returns the shard with the given ID, unless it does not exist or
// has aged out.
func (s *Stream) lookup(shardID string) (*shard, error) {
	s.mu.RLock()
	sh := s.byID[shardID]
	s.mu.RUnlock()
	if sh == nil {
		return nil, fmt.Errorf("%w: %q", source.ErrShardNotFound, shardID)
	}
	cutoff := s.now().Add(-s.cfg.retention)
	sh.mu.RLock()
	gone := sh.agedOutLocked(cutoff)
	sh.mu.RUnlock()
	if gone {
		return nil, fmt.Errorf("%w: %q aged out", source.ErrShardNotFound, shardID)
	}
	return sh, nil
}

// SplitShard closes an open shard and opens two children that share its
// hash key range: [start, newStartingHashKey-1] and [newStartingHashKey, end],
// with IDs in that order. newStartingHashKey is decimal and must lie strictly
// above the shard's starting hash key and at most at its ending one.
func (s *Stream) SplitShard(ctx context.Context, shardID, newStartingHashKey string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	key, err := parseHashKey(newStartingHashKey)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	parent, err := s.openShardLocked(shardID)
	if err != nil {
		return err
	}
	if key.cmp(parent.lo) <= 0 || key.cmp(parent.hi) > 0 {
		return fmt.Errorf("%w: split key %s is not inside (%s, %s] of %s",
			ErrInvalidArgument, newStartingHashKey, parent.lo, parent.hi, shardID)
	}
	low := s.newShardLocked(parent.lo, key.prev(), parent.id, "")
	high := s.newShardLocked(key, parent.hi, parent.id, "")
	s.replaceLocked([]*shard{parent}, []*shard{low, high})
	return nil
}

// MergeShards closes two open shards with adjacent hash key ranges and opens
// one child over their union, whose ParentID is shardID and whose
// AdjacentParentID is adjacentShardID, as in Kinesis.
func (s *Stream) MergeShards(ctx context.Context, shardID, adjacentShardID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if shardID == adjacentShardID {
		return fmt.Errorf("%w: cannot merge %s with itself", ErrInvalidArgument, shardID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.openShardLocked(shardID)
	if err != nil {
		return err
	}
	b, err := s.openShardLocked(adjacentShardID)
	if err != nil {
		return err
	}
	lo, hi := a, b
	if b.lo.cmp(a.lo) < 0 {
		lo, hi = b, a
	}
	if lo.hi == maxHashKey || lo.hi.next() != hi.lo {
		return fmt.Errorf("%w: %s and %s do not have adjacent hash key ranges",
			ErrInvalidArgument, shardID, adjacentShardID)
	}
	child := s.newShardLocked(lo.lo, hi.hi, a.id, b.id)
	s.replaceLocked([]*shard{lo, hi}, []*shard{child})
	return nil
}

// openShardLocked finds a shard a reshard may use; the caller holds s.mu.
func (s *Stream) openShardLocked(id string) (*shard, error) {
	sh := s.byID[id]
	if sh == nil {
		return nil, fmt.Errorf("%w: %q", source.ErrShardNotFound, id)
	}
	// Only reshards close shards, and they hold s.mu, so this read is stable.
	sh.mu.RLock()
	closed := sh.closed
	sh.mu.RUnlock()
	if closed {
		return nil, fmt.Errorf("%w: %s", ErrShardClosed, id)
	}
	return sh, nil
}

// replaceLocked closes parents (contiguous, in hash key order) and routes
// their range to children. The caller holds s.mu.
//
// The parents' locks are held while the new routes are published, so a Put
// that finds a parent closed is sure to load routes without it: it never
// spins. The parents' ending sequence number is read under those locks, so
// it is at least every parent record's number and below every child's.
func (s *Stream) replaceLocked(parents, children []*shard) {
	for _, p := range parents {
		p.mu.Lock()
	}
	end := s.seq.Load()
	now := s.now()
	for _, c := range children {
		c.startSeq = end + 1
	}
	old := s.routes.Load().open
	i := slices.Index(old, parents[0])
	open := slices.Concat(old[:i], children, old[i+len(parents):])
	s.routes.Store(&routeTable{open: open})
	for _, p := range parents {
		p.closed = true
		p.endSeq = end
		p.closedAt = now
		p.wakeLocked()
		p.mu.Unlock()
	}
}
