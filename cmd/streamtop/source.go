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
	lb := lineBlocks{r: s.r}
	buf := make([]byte, lineChunk)
	var recs []rec
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		b := lb.next(buf)
		t := s.now()
		if b.tooLong > 0 {
			deliver(batch{lagMs: -1, tooLong: b.tooLong})
		}
		recs = recs[:0]
		for lines := b.lines; len(lines) > 0; {
			var line []byte
			line, lines = cutLine(lines)
			recs = append(recs, rec{Data: line, Arrival: t})
		}
		if len(recs) > 0 {
			deliver(batch{recs: recs, lagMs: -1})
		}
		buf = b.buf
		if b.err == io.EOF {
			return nil
		}
		if b.err != nil {
			return b.err
		}
	}
}

// lineBlocks cuts what a reader returns into blocks of whole lines, one
// block per Read, for lineSource and lineCounter. A line longer than maxLine
// is skipped and counted, so one endless line cannot take all memory.
//
// Its zero value is not usable: r is required. It is used by one goroutine
// at a time; it copies only the unfinished line at the end of each Read.
type lineBlocks struct {
	r io.Reader
	// rest is the unfinished line after the last block, still in that
	// block's buffer: the buffer must not be written before the next call,
	// unless it is the one handed to it.
	rest       []byte
	discarding bool // in a line too long, skipping to its end
}

// lineBlock is what one Read gave.
type lineBlock struct {
	buf []byte // the buffer read into, whole (a larger one if a line needed it)
	// lines are the whole lines read, within buf: each ends with a newline
	// but the last line of the input, which may not.
	lines   []byte
	tooLong int // lines too long, skipped
	err     error
	at      time.Time // when it was read, set by the caller
}

// next reads once into buf, after the unfinished line of the last block,
// and returns the whole lines it has then. buf is taken whole, up to its
// capacity; when the unfinished line fills it, next makes a buffer twice as
// large, up to maxLine, and then skips the line.
func (lb *lineBlocks) next(buf []byte) lineBlock {
	var b lineBlock
	if len(lb.rest) >= cap(buf) { // one unfinished line fills the buffer
		if len(lb.rest) < maxLine {
			buf = make([]byte, 0, 2*len(lb.rest))
		} else {
			if !lb.discarding {
				b.tooLong = 1
			}
			lb.discarding, lb.rest = true, nil
		}
	}
	buf = buf[:copy(buf[:cap(buf)], lb.rest)]
	n, err := lb.r.Read(buf[len(buf):cap(buf)])
	buf = buf[:len(buf)+n]
	b.buf, b.err = buf, err
	start := 0
	if lb.discarding {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			lb.rest = nil
			b.lines = buf[:0]
			return b
		}
		start, lb.discarding = i+1, false
	}
	end := start + bytes.LastIndexByte(buf[start:], '\n') + 1
	if err != nil { // a last line with no newline
		end = len(buf)
	}
	b.lines, lb.rest = buf[start:end], buf[end:]
	return b
}

// cutLine returns the first line of lines, without its newline (nor a
// carriage return before it), and what follows.
func cutLine(lines []byte) (line, rest []byte) {
	i := bytes.IndexByte(lines, '\n')
	if i < 0 {
		return trimCR(lines), nil
	}
	return trimCR(lines[:i]), lines[i+1:]
}

func trimCR(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		return b[:len(b)-1]
	}
	return b
}
