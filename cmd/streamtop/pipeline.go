package main

import (
	"sync"
	"time"
)

// decodedBatch is a batch decoded away from the tally: the keys and groups
// are copied into arena, so the source may reuse its buffers at once.
type decodedBatch struct {
	arena   []byte
	items   []item
	records int64
	skipped skipped
	lagMs   int64
}

// item is one decoded record; key and group are [start, end) in the arena,
// and the time is in Unix nanoseconds: an item holds no pointer, so filling a
// batch of them costs the garbage collector nothing.
type item struct {
	key, group [2]uint32
	weight     int64
	unixNano   int64
}

// decodeInto decodes recs into db, which it resets first.
func (d *decoder) decodeInto(recs []rec, db *decodedBatch) {
	db.arena, db.items, db.records, db.skipped = db.arena[:0], db.items[:0], 0, skipped{}
	var out decoded
	for i := range recs {
		db.records++
		if err := d.decode(recs[i], &out); err != nil {
			db.skipped.count(err)
			continue
		}
		it := item{weight: out.weight, unixNano: out.t.UnixNano()}
		it.key[0] = uint32(len(db.arena))
		db.arena = append(db.arena, out.key...)
		it.key[1] = uint32(len(db.arena))
		db.arena = append(db.arena, out.group...)
		it.group = [2]uint32{it.key[1], uint32(len(db.arena))}
		db.items = append(db.items, it)
	}
}

// addDecoded counts a decoded batch, as add would have counted its records.
func (t *tally) addDecoded(db *decodedBatch) {
	t.lagMs = db.lagMs
	t.records += db.records
	t.skipped.add(db.skipped)
	var d decoded
	for i := range db.items {
		it := &db.items[i]
		d.key = db.arena[it.key[0]:it.key[1]]
		d.group = db.arena[it.group[0]:it.group[1]]
		d.weight, d.t = it.weight, time.Unix(0, it.unixNano)
		t.count(&d)
	}
}

// splitMin is the smallest part of a batch worth decoding on another
// goroutine.
const splitMin = 512

// pipeline counts what a source delivers on several cores without changing
// what is counted: each batch is cut into parts that workers decode at once
// (the regular expression or the JSON walk, the costly part), then the parts
// go, in order, to one goroutine that counts them under the tally's lock while
// the source reads on. The windows see the records in the source's order.
//
// Use newPipeline, deliver from one goroutine at a time, then close. Memory:
// a few batches' keys in flight, at most.
type pipeline struct {
	mu      *sync.Mutex
	tally   *tally
	workers []decoder
	free    chan *decodedBatch
	counted chan []*decodedBatch
	done    chan struct{}
}

func newPipeline(mu *sync.Mutex, t *tally, dec decoder, workers int) *pipeline {
	p := &pipeline{
		mu:      mu,
		tally:   t,
		free:    make(chan *decodedBatch, 4*workers),
		counted: make(chan []*decodedBatch, 2),
		done:    make(chan struct{}),
	}
	for range max(1, workers) {
		w := dec
		w.scratch = [4][]byte{} // each worker its own
		p.workers = append(p.workers, w)
	}
	go p.count()
	return p
}

func (p *pipeline) count() {
	defer close(p.done)
	for parts := range p.counted {
		p.mu.Lock()
		for _, db := range parts {
			p.tally.addDecoded(db)
		}
		p.mu.Unlock()
		for _, db := range parts {
			select {
			case p.free <- db:
			default:
			}
		}
	}
}

func (p *pipeline) batch() *decodedBatch {
	select {
	case db := <-p.free:
		return db
	default:
		return &decodedBatch{}
	}
}

// deliver decodes b and queues it for counting; b's records may be reused as
// soon as it returns.
func (p *pipeline) deliver(b batch) {
	n := min(len(p.workers), max(1, len(b.recs)/splitMin))
	parts := make([]*decodedBatch, n)
	var wg sync.WaitGroup
	for i := range n {
		lo, hi := i*len(b.recs)/n, (i+1)*len(b.recs)/n
		parts[i] = p.batch()
		parts[i].lagMs = b.lagMs
		if i == n-1 {
			p.workers[i].decodeInto(b.recs[lo:hi], parts[i])
			parts[i].records += int64(b.tooLong)
			parts[i].skipped.TooLong += int64(b.tooLong)
			continue
		}
		wg.Go(func() { p.workers[i].decodeInto(b.recs[lo:hi], parts[i]) })
	}
	wg.Wait()
	p.counted <- parts
}

// close waits until everything delivered is counted.
func (p *pipeline) close() {
	close(p.counted)
	<-p.done
}
