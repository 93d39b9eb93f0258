package main

import (
	"bytes"
	"context"
	"io"
	"sync"
	"time"
)

// lineCounter counts what a lineSource reads, for -once when every record
// is timed by its arrival and has no group: `streamtop -once < access.log`.
// It counts the same as the pipeline and the tally do, for less: the lines of
// a read are cut among workers, and each worker decodes and sums its lines
// by key in a table of its own (sumTable), straight from the read buffer,
// with no record or key copied on the way. The sums go to the window (one
// Add per key) when the bucket changes, before waiting for input (so an
// interrupted -once shows what was read), when a worker holds more than
// maxHeld keys, and at the end.
//
// Every line of a read is timed alike (see lineSource), so all the lines
// summed since the last Add to the window share one bucket, and adding a
// key's sum at once counts it as adding each line would: exactly with a
// Counter, within the same error bounds with a Sketch (as the tally's slots).
//
// Use newLineCounter, then run once. Memory: the read-ahead buffers, and in
// each worker about 80 bytes a key held (see sumTable), besides the keys
// longer than shortKey.
type lineCounter struct {
	mu      *sync.Mutex // the tally's
	tally   *tally
	bucket  int64
	maxHeld int // keys a worker holds before they go to the window
	split   int // the least bytes of a read cut among the workers
	workers []*lineWorker

	// The sums held since the last Add to the window: whether there are
	// any, their bucket, the time of the read that began them (any time in
	// the bucket counts alike) and of the latest.
	held    bool
	heldIn  int64
	heldAt  time.Time
	latest  time.Time
	tooLong int64
}

// lineWorker decodes and sums one part of each read. It is used by one
// goroutine at a time.
type lineWorker struct {
	dec decoder
	// wholeLine: the key is the line, the weight 1; decode would say so
	// at the price of a call and a record a line.
	wholeLine bool
	sums      sumTable
	records   int64
	skipped   skipped
}

// Read sizes of lineCounter: reads of readChunk bytes, readAhead of them
// waiting while one is counted, and a read worth cutting among the workers
// from splitBytes up.
const (
	readChunk  = 1 << 20
	readAhead  = 2
	splitBytes = 64 << 10
)

// newLineCounter makes a counter into t, under mu, with the given number of
// workers. With Sketches (not exact), the workers hold at most slotLimit
// keys together, as the tally's slots do, so memory stays bounded; with
// Counters, whose memory grows with the keys anyway, each worker holds as
// many, so that a log of some 60,000 addresses is added to the window once.
func newLineCounter(mu *sync.Mutex, t *tally, dec decoder, workers int, exact bool) *lineCounter {
	c := &lineCounter{mu: mu, tally: t, bucket: t.bucket, maxHeld: slotLimit / max(1, workers), split: splitBytes}
	if exact {
		c.maxHeld = slotLimit
	}
	for range max(1, workers) {
		w := &lineWorker{dec: dec}
		w.wholeLine = dec.key.kind == fromLine && dec.re == nil && dec.weight.kind == fromNone
		w.dec.scratch = [4][]byte{} // each worker its own
		c.workers = append(c.workers, w)
	}
	return c
}

// run reads src to its end and counts it; it returns nil at the end of the
// input, with everything read added to the tally, or ctx.Err() or the read
// error. A goroutine reads ahead while the lines read are counted.
func (c *lineCounter) run(ctx context.Context, src *lineSource) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	free := make(chan []byte, readAhead+2)
	blocks := make(chan lineBlock, readAhead)
	go func() {
		defer close(blocks)
		lb := lineBlocks{r: src.r}
		for ctx.Err() == nil {
			var buf []byte
			select {
			case buf = <-free:
			default:
				buf = make([]byte, readChunk)
			}
			b := lb.next(buf)
			b.at = src.now()
			select {
			case blocks <- b:
			case <-ctx.Done():
				return
			}
			if b.err != nil {
				return
			}
		}
	}()
	for {
		var (
			b  lineBlock
			ok bool
		)
		select {
		case b, ok = <-blocks:
		default:
			c.add() // counting is ahead of the input: show what it has
			select {
			case b, ok = <-blocks:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if !ok || ctx.Err() != nil {
			return ctx.Err()
		}
		if in := floorDiv(b.at.UnixNano(), c.bucket); !c.held || in != c.heldIn {
			c.add()
			c.held, c.heldIn, c.heldAt, c.latest = true, in, b.at, b.at
		} else if b.at.After(c.latest) {
			c.latest = b.at
		}
		c.tooLong += int64(b.tooLong)
		c.count(b.lines)
		select {
		case free <- b.buf[:cap(b.buf)]:
		default:
		}
		if b.err != nil {
			c.add()
			if b.err != io.EOF {
				return b.err
			}
			return nil
		}
		for _, w := range c.workers {
			if w.sums.len() > c.maxHeld {
				c.add()
				break
			}
		}
	}
}

// count cuts lines among the workers at newlines and has them sum their
// parts at once.
func (c *lineCounter) count(lines []byte) {
	n := 1
	if len(lines) >= c.split {
		n = len(c.workers)
	}
	var wg sync.WaitGroup
	for i, w := range c.workers[:n] {
		part := lines
		if i < n-1 {
			cut := len(lines) / (n - i)
			if j := bytes.IndexByte(lines[cut:], '\n'); j >= 0 {
				cut += j + 1
			} else {
				cut = len(lines)
			}
			part, lines = lines[:cut], lines[cut:]
			wg.Go(func() { w.sum(part) })
			continue
		}
		w.sum(part)
	}
	wg.Wait()
}

// sum decodes lines and adds each one's weight to its key's sum.
func (w *lineWorker) sum(lines []byte) {
	var out decoded
	for len(lines) > 0 {
		var line []byte
		line, lines = cutLine(lines)
		w.records++
		if w.wholeLine {
			out.key, out.weight = line, 1
		} else if err := w.dec.decode(rec{Data: line}, &out); err != nil {
			w.skipped.count(err)
			continue
		}
		w.sums.add(out.key, out.weight, 1)
	}
}

// add adds the sums held to the window, at the time of the read that began
// them, under the tally's lock, as tally.flush adds its slots. A worker
// holding more than maxHeld keys forgets them.
func (c *lineCounter) add() {
	if !c.held {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.tally
	g := t.group(nil) // one group, never past maxGroups
	// The workers' sums meet in the first's table: most keys are in every
	// worker's, and a sum there costs less than an Add.
	all := &c.workers[0].sums
	for _, w := range c.workers[1:] {
		w.sums.drainInto(all)
	}
	counted := false
	all.drain(func(key string, weight, records int64) {
		if g.w.Add(key, c.heldAt, weight) {
			counted = true
		} else {
			t.skipped.Late += records
		}
	})
	for _, w := range c.workers {
		t.records += w.records
		t.skipped.add(w.skipped)
		w.records, w.skipped = 0, skipped{}
		if w.sums.len() > c.maxHeld {
			w.sums.reset()
		}
	}
	t.records += c.tooLong
	t.skipped.TooLong += c.tooLong
	c.tooLong = 0
	if counted && c.latest.After(t.newest) {
		t.newest = c.latest
	}
	c.held = false
}
