package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/streamtop/streamtop/source"
)

// shardSource reads every shard of a source.Stream itself, read-only: no
// leases and no checkpoints, as one watcher of a stream needs. Each record's
// arrival time is the stream's (Record.ArrivalTime). A shard that ends (after
// a reshard) is followed by its children, read from their start.
//
// With untilCaughtUp, a shard is done when a read returns nothing and the
// stream reports it caught up (MillisBehindLatest 0, or no lag reported), and
// run returns nil once every shard it started is done or ended and no child
// is left to start: what -once needs, a stream having no end of its own.
//
// Its zero value is not usable: stream and label are required. It runs one
// goroutine per shard; deliveries are serialised under a lock. Each Read asks
// for up to maxRecords records; an empty one waits for more (source.Waiter) or
// sleeps idleWait.
type shardSource struct {
	stream     source.Stream
	label      string
	from       source.Position
	maxRecords int
	idleWait   time.Duration
	// lagKnown, when set, says whether the stream's MillisBehindLatest
	// can be trusted; when it says no, the source reports no lag.
	lagKnown      func() bool
	untilCaughtUp bool

	mu       sync.Mutex
	lag      map[string]int64 // per shard, from its last read
	started  map[string]bool
	ended    map[string]bool
	caughtUp map[string]bool // untilCaughtUp: read no further
	endc     chan struct{}   // a shard ended or caught up: look again
}

func (s *shardSource) name() string { return s.label }

func (s *shardSource) run(ctx context.Context, deliver func(batch)) error {
	if s.maxRecords == 0 {
		s.maxRecords = source.DefaultMaxRecords
	}
	if s.idleWait == 0 {
		s.idleWait = source.DefaultIdleWait
	}
	s.lag, s.started, s.ended, s.caughtUp = map[string]int64{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	s.endc = make(chan struct{}, 1)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	defer wg.Wait()
	start := func(shardID string, from source.Position) {
		s.started[shardID] = true
		r, err := s.stream.Open(ctx, shardID, from)
		if err != nil {
			cancel(fmt.Errorf("open shard %s: %w", shardID, err))
			return
		}
		wg.Go(func() {
			defer r.Close()
			if err := s.readShard(ctx, shardID, r, deliver); err != nil && ctx.Err() == nil {
				cancel(err)
			}
		})
	}
	// follow lists the shards and starts the ones not started yet: first
	// every shard from s.from (a closed one is skipped at LATEST, where nothing
	// more will come from it), then the children of ended shards from their
	// start. It reports whether every shard started is done (untilCaughtUp).
	follow := func(first bool) (done bool, err error) {
		shards, err := s.stream.Shards(ctx)
		if err != nil {
			return false, fmt.Errorf("list shards: %w", err)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, sh := range shards {
			switch {
			case s.started[sh.ID]:
			case first:
				if !sh.Closed() || s.from.Type != source.Latest {
					start(sh.ID, s.from)
				}
			default:
				ready := true
				for _, p := range sh.Parents() {
					ready = ready && (s.ended[p] || !s.started[p])
				}
				if ready {
					start(sh.ID, source.Position{Type: source.TrimHorizon})
				}
			}
		}
		for id := range s.started {
			if !s.ended[id] && !s.caughtUp[id] {
				return false, nil
			}
		}
		return s.untilCaughtUp, nil
	}
	done, err := follow(true)
	if err != nil {
		return err
	}
	tick := time.NewTicker(time.Minute) // a safety net; an ended shard signals
	defer tick.Stop()
	for !done {
		select {
		case <-ctx.Done():
			wg.Wait()
			if err := context.Cause(ctx); !errors.Is(err, context.Canceled) {
				return err
			}
			return ctx.Err()
		case <-s.endc:
		case <-tick.C:
		}
		if done, err = follow(false); err != nil {
			cancel(err)
		}
	}
	return nil
}

func (s *shardSource) readShard(ctx context.Context, shardID string, r source.ShardReader, deliver func(batch)) error {
	var recs []rec
	for {
		res, err := r.Read(ctx, s.maxRecords)
		if err != nil {
			return fmt.Errorf("read shard %s: %w", shardID, err)
		}
		recs = recs[:0]
		for _, x := range res.Records {
			recs = append(recs, rec{Data: x.Data, Key: x.PartitionKey, Arrival: x.ArrivalTime})
		}
		s.mu.Lock()
		s.lag[shardID] = res.MillisBehindLatest
		var lag int64
		for _, l := range s.lag {
			lag = max(lag, l)
		}
		if s.lagKnown != nil && !s.lagKnown() {
			lag = -1
		}
		if len(recs) > 0 {
			deliver(batch{recs: recs, lagMs: lag})
		}
		if res.End {
			s.ended[shardID] = true
			delete(s.lag, shardID)
		}
		caughtUp := s.untilCaughtUp && len(res.Records) == 0 && (res.MillisBehindLatest == 0 || lag < 0)
		if caughtUp {
			s.caughtUp[shardID] = true
		}
		s.mu.Unlock()
		if res.End || caughtUp {
			select {
			case s.endc <- struct{}{}:
			default:
			}
			return nil
		}
		if len(res.Records) > 0 {
			continue
		}
		if w, ok := r.(source.Waiter); ok {
			if err := w.Wait(ctx); err != nil {
				return err
			}
		} else {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(s.idleWait):
			}
		}
	}
}
