package main

import (
	"context"
	"sync"
	"time"

	"github.com/streamtop/streamtop/sink"
)

// sinkStatusEvery bounds how often a web-only process reads the counts
// table for its status line: listing the groups scans the table.
const sinkStatusEvery = 2 * time.Second

// sinkStatus is the status of a web server with no consumer in its process,
// read from the counts table: records per second from the newest complete
// window of each resource, and lag as the age of the newest complete window
// beyond one bucket. (A window not every shard has written yet holds only
// part of its records, and the consumers are not done with it.)
//
// The zero value is not usable; use newSinkStatus. It is safe for concurrent
// use. Each refresh costs one listing of the groups and one query per group.
type sinkStatus struct {
	reader sink.Reader
	groups func(context.Context) ([]string, error)
	now    func() time.Time

	mu   sync.Mutex
	at   time.Time
	last status
}

func newSinkStatus(r sink.Reader, groups func(context.Context) ([]string, error), now func() time.Time) *sinkStatus {
	return &sinkStatus{reader: r, groups: groups, now: now}
}

func (s *sinkStatus) get() status {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if !s.at.IsZero() && now.Sub(s.at) < sinkStatusEvery {
		return s.last
	}
	s.at = now
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	groups, err := s.groups(ctx)
	if err != nil {
		s.last = status{Error: "counts table unreachable"}
		return s.last
	}
	var total int64
	var newest time.Time
	for _, g := range groups {
		snaps, err := sink.QueryComplete(ctx, s.reader, g, now.Add(-latestWithin))
		if err != nil {
			s.last = status{Error: "counts table unreachable"}
			return s.last
		}
		if len(snaps) == 0 {
			continue
		}
		sn := snaps[len(snaps)-1]
		for _, e := range sn.Counts {
			total += e.Count
		}
		if sn.Time.After(newest) {
			newest = sn.Time
		}
	}
	st := status{RecordsPerSecond: float64(total) / windowSize.Seconds()}
	if !newest.IsZero() {
		lag := max(0, now.Sub(newest)-windowBucket).Milliseconds()
		st.LagMillis = &lag
	}
	s.last = st
	return st
}
