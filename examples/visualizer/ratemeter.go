package main

import (
	"sync"
	"time"
)

// rateMeter turns a growing counter into a rate per second over a trailing
// span, from samples taken by the caller at times the caller gives.
//
// The zero value is not usable; use newRateMeter. It is safe for concurrent
// use. Memory is one sample per observation within the span.
type rateMeter struct {
	span    time.Duration
	mu      sync.Mutex
	samples []rateSample // oldest first
}

type rateSample struct {
	t time.Time
	n int64
}

func newRateMeter(span time.Duration) *rateMeter {
	return &rateMeter{span: span}
}

// observe records that the counter read n at time t.
func (m *rateMeter) observe(t time.Time, n int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.samples = append(m.samples, rateSample{t, n})
	// Keep one sample at or before the span's start so the rate covers the
	// whole span.
	drop := 0
	for drop+1 < len(m.samples) && !m.samples[drop+1].t.After(t.Add(-m.span)) {
		drop++
	}
	m.samples = append(m.samples[:0], m.samples[drop:]...)
}

// rate returns the counter's growth per second between the oldest and newest
// samples, 0 with fewer than two.
func (m *rateMeter) rate() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.samples) < 2 {
		return 0
	}
	a, b := m.samples[0], m.samples[len(m.samples)-1]
	dt := b.t.Sub(a.t).Seconds()
	if dt <= 0 {
		return 0
	}
	return float64(b.n-a.n) / dt
}
