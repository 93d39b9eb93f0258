package memstream

import (
	"sync"
	"time"

	"github.com/streamtop/streamtop/source"
)

// shard holds one shard's records. Fields above mu never change after the
// shard is published; the rest are guarded by mu.
type shard struct {
	id               string
	num              uint64 // the number in id, the suffix of its sequence numbers
	parent, adjacent string
	lo, hi           hashKey
	loText, hiText   string // lo and hi in decimal, for Shards
	startSeq         uint64 // set before the shard is published

	mu  sync.RWMutex
	log recordLog
	// trimmedSeq is the counter of the last record trimmed, 0 if none was:
	// this shard's positions at or below it are valid but gone.
	trimmedSeq  uint64
	lastArrival time.Time
	closed      bool
	endSeq      uint64
	closedAt    time.Time
	// wake is closed (and cleared) by the next append or close. It is made
	// only when a reader waits, so an append nobody waits for pays a nil
	// check.
	wake chan struct{}
}

// appendLocked adds r, stamping its arrival time. Arrival times never go
// backwards within a shard, even if the clock does, so a search by
// timestamp stays a binary search.
func (sh *shard) appendLocked(r source.Record, now time.Time) {
	if now.Before(sh.lastArrival) {
		now = sh.lastArrival
	}
	r.ArrivalTime = now
	sh.lastArrival = now
	sh.log.append(r)
	sh.wakeLocked()
}

func (sh *shard) wakeLocked() {
	if sh.wake != nil {
		close(sh.wake)
		sh.wake = nil
	}
}

// trimLocked drops records that arrived before cutoff. The caller holds the
// write lock.
func (sh *shard) trimLocked(cutoff time.Time) {
	if !sh.staleLocked(cutoff) {
		return
	}
	k := sh.log.search(sh.log.start, func(r *source.Record) bool { return !r.ArrivalTime.Before(cutoff) })
	sh.trimmedSeq, _, _ = parseSeq(sh.log.at(k - 1).SequenceNumber)
	sh.log.trimTo(k)
}

// limitLocked trims the oldest records beyond the newest max; max 0 means
// no bound. The caller holds the write lock.
func (sh *shard) limitLocked(max int64) {
	if max == 0 || sh.log.end-sh.log.start <= max {
		return
	}
	k := sh.log.end - max
	sh.trimmedSeq, _, _ = parseSeq(sh.log.at(k - 1).SequenceNumber)
	sh.log.trimTo(k)
}

func (sh *shard) staleLocked(cutoff time.Time) bool {
	return sh.log.start < sh.log.end && sh.log.at(sh.log.start).ArrivalTime.Before(cutoff)
}

// trim is trimLocked for callers that hold no lock; it takes the write lock
// only when there is something to trim.
func (sh *shard) trim(cutoff time.Time) {
	sh.mu.RLock()
	stale := sh.staleLocked(cutoff)
	sh.mu.RUnlock()
	if stale {
		sh.mu.Lock()
		sh.trimLocked(cutoff)
		sh.mu.Unlock()
	}
}

// agedOutLocked reports whether the shard was closed before cutoff, so
// every record it held is past retention and Kinesis would no longer list it.
func (sh *shard) agedOutLocked(cutoff time.Time) bool {
	return sh.closed && sh.closedAt.Before(cutoff)
}

func (sh *shard) describeLocked(cutoff time.Time) (info source.Shard, gone bool) {
	info = source.Shard{
		ID:                     sh.id,
		ParentID:               sh.parent,
		AdjacentParentID:       sh.adjacent,
		HashKeyStart:           sh.loText,
		HashKeyEnd:             sh.hiText,
		StartingSequenceNumber: formatSeq(sh.startSeq, sh.num),
	}
	if sh.closed {
		info.EndingSequenceNumber = formatSeq(sh.endSeq, sh.num)
	}
	return info, sh.agedOutLocked(cutoff)
}

// positionLocked resolves a position to the number of the first record to
// read, plus, for AT_TIMESTAMP, the earliest arrival time a reader accepts.
func (sh *shard) positionLocked(from source.Position) (next int64, notBefore time.Time, err error) {
	switch from.Type {
	case source.TrimHorizon:
		return sh.log.start, time.Time{}, nil
	case source.Latest:
		return sh.log.end, time.Time{}, nil
	case source.AtTimestamp:
		if from.Timestamp.IsZero() {
			return 0, time.Time{}, errPosition("AT_TIMESTAMP without a timestamp")
		}
		i := sh.log.search(sh.log.start, func(r *source.Record) bool { return !r.ArrivalTime.Before(from.Timestamp) })
		return i, from.Timestamp, nil
	case source.AtSequence, source.AfterSequence:
		n, num, ok := parseSeq(from.SequenceNumber)
		if !ok {
			return 0, time.Time{}, errPosition("malformed sequence number %q", from.SequenceNumber)
		}
		if num != sh.num {
			return 0, time.Time{}, errPosition("sequence number %s belongs to another shard than %s", from.SequenceNumber, sh.id)
		}
		if n <= sh.trimmedSeq && n >= sh.startSeq {
			// The record aged out; Kinesis starts at the trim horizon.
			return sh.log.start, time.Time{}, nil
		}
		// Fixed-width numbers compare as strings do.
		i := sh.log.search(sh.log.start, func(r *source.Record) bool { return r.SequenceNumber >= from.SequenceNumber })
		if i == sh.log.end || sh.log.at(i).SequenceNumber != from.SequenceNumber {
			return 0, time.Time{}, errPosition("sequence number %s is not in %s", from.SequenceNumber, sh.id)
		}
		if from.Type == source.AfterSequence {
			i++
		}
		return i, time.Time{}, nil
	}
	return 0, time.Time{}, errPosition("unknown position type %d", int(from.Type))
}
