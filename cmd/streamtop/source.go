package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"time"
)

// recordSource is where records come from: stdin, the demo's embedded stream,
// a Kinesis stream read directly, and later one read through a lease group.
type recordSource interface {
	// name says what is read, for the header.
	name() string
	// run reads until the input ends (then it returns nil) or ctx ends
	// (ctx.Err()). It calls deliver from one goroutine at a time; a batch's
	// records and their Data are only valid during the call.
	run(ctx context.Context, deliver func(batch)) error
}

// batch is what a source hands over at once.
type batch struct {
	recs []rec
	// lagMs is how far the source is behind the newest record of its stream,
	// or -1 if it cannot say.
	lagMs int64
	// tooLong counts records the source had to drop whole.
	tooLong int
}

var errTooLong = errors.New("line too long")

// Line sizes: lines are read in chunks of lineChunk bytes; a line longer than
// maxLine is skipped and counted as malformed, so one endless line cannot take
// all memory.
const (
	lineChunk = 256 << 10
	maxLine   = 16 << 20
)

// lineSource reads newline-separated records (text or JSON lines) from a
// reader. Every line of a chunk gets the time the chunk was read as its
// arrival time: a Read returns what is available, so a line from tail -f is
// counted as soon as it arrives.
//
// Its zero value is not usable: r and now are required. Each line costs a
// search for its newline; the buffer is reused, so reading allocates nothing
// once it has grown to the longest line.
type lineSource struct {
	r     io.Reader
	label string
	now   func() time.Time
}

func (s *lineSource) name() string { return s.label }

func (s *lineSource) run(ctx context.Context, deliver func(batch)) error {
	buf := make([]byte, 0, lineChunk)
	var recs []rec
	discarding := false // in a line too long, skipping to its end
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if len(buf) == cap(buf) { // one unfinished line fills the buffer
			if cap(buf) < maxLine {
				grown := make([]byte, len(buf), 2*cap(buf))
				buf = grown[:copy(grown, buf)]
			} else {
				if !discarding {
					deliver(batch{lagMs: -1, tooLong: 1})
				}
				discarding, buf = true, buf[:0]
			}
		}
		n, err := s.r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		t := s.now()
		recs = recs[:0]
		start := 0
		for {
			i := bytes.IndexByte(buf[start:], '\n')
			if i < 0 {
				break
			}
			line := buf[start : start+i]
			start += i + 1
			if discarding {
				discarding = false
				continue
			}
			recs = append(recs, rec{Data: trimCR(line), Arrival: t})
		}
		if err != nil && start < len(buf) && !discarding { // a last line with no newline
			recs = append(recs, rec{Data: trimCR(buf[start:]), Arrival: t})
			start = len(buf)
		}
		if len(recs) > 0 {
			deliver(batch{recs: recs, lagMs: -1})
		}
		buf = buf[:copy(buf, buf[start:])]
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func trimCR(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		return b[:len(b)-1]
	}
	return b
}
