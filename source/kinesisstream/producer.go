package kinesisstream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamtop/streamtop/internal/awserr"
	"github.com/streamtop/streamtop/internal/backoff"
	"github.com/streamtop/streamtop/internal/hashkey"
)

// PutClient is the part of *kinesis.Client that a Producer calls:
// PutRecords. A *kinesis.Client has it; so can a wrapper or a fake. A
// Producer calls it from one goroutine per request in flight, so it must be
// safe for concurrent use, as the SDK's client is.
type PutClient interface {
	PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
}

// Producer writes records to a stream in PutRecords batches.
//
// Put hands a record to the Producer, which sends it with others in a batch
// of at most 500 records and 5 MiB, once a batch is full or the oldest record
// has lingered (WithLinger). Only the entries of a batch that the service
// refused are sent again, after a backoff with jitter; throttled records are
// retried until they are sent. Flush waits for every record accepted before
// it; Close does the same and stops the Producer. Nothing accepted is dropped
// silently: a record the service refuses for good (or that Close runs out of
// time for) is counted in Stats().Failed, passed at once to the
// WithFailureHandler function, and counted in the *LostError that the next
// Flush or Close returns. WithAggregation packs records into aggregated
// records, many to an entry.
//
// Without WithKeyOrder, records are sent in about the order Put took them,
// but retries and concurrent requests can reorder them, even within a key.
//
// The zero value is not usable; make one with NewProducer. All methods are
// safe for concurrent use. A Producer runs one goroutine, plus one per
// request in flight (WithConcurrency); Put costs a copy of the data and O(1)
// work, and the Producer holds at most the buffer limit in memory.
type Producer struct {
	client PutClient
	name   string
	cfg    *producerConfig
	shards *shardMap // with aggregation only

	// sendCtx carries the requests; Close cancels it when its own ctx ends,
	// so that no request outlives the Producer.
	sendCtx    context.Context
	cancelSend context.CancelCauseFunc
	wake       chan struct{} // to the dispatcher: something changed
	stop       chan struct{} // closed by Close when nothing is left
	stopped    chan struct{} // closed when the dispatcher has returned

	mu         sync.Mutex
	queue      deque // records ready to send; with keyOrder, one per key
	queueBytes int
	keys       map[string]*keyState // keyOrder only: keys with a record queued or in flight
	inFlight   int                  // requests
	bufRecords int                  // held: queued, waiting for their key, or in flight
	bufBytes   int
	gen        uint64         // Flush generation new records join
	unfinished map[uint64]int // records not yet sent or failed, by generation
	flushing   int            // Flush and Close calls waiting: linger is skipped
	blocked    int            // Puts waiting for room: linger is skipped too
	closing    bool
	changed    chan struct{} // closed (and replaced) when records finish
	failed     int           // failures since the last Flush or Close reported them
	failure    error         // the last of them
	// toReport holds failed records whose handler (WithFailureHandler) has
	// not run yet; they stay unfinished until it has, so that Flush and
	// Close return after the handler saw every failure they report.
	toReport []failure

	sent, retried, failedTotal, requests atomic.Int64
}

type failure struct {
	rec *pending
	err error
}

// ProducerStats counts a Producer's records since it was made. It is a
// snapshot, copied out by Stats; the zero value means nothing happened yet.
type ProducerStats struct {
	Sent int64 // acknowledged by the service
	// Retried counts records sent again: the service refused them, or
	// (WithAggregation) a reshard carried them to the wrong shard. Each
	// resend counts.
	Retried int64
	Failed  int64 // accepted but never sent: lost
	// Requests counts PutRecords calls; Sent/Requests is the records a call
	// carried, which aggregation raises.
	Requests int64
	// Buffered is how many records the Producer holds now.
	Buffered int
}

type pending struct {
	key  string
	data []byte
	size int
	gen  uint64
	at   time.Time // when Put took it: linger counts from here
}

type keyState struct {
	waiting []*pending // later records of the key, in Put order
}

// NewProducer returns a Producer that writes to the stream called streamName
// through client, usually a *kinesis.Client (it needs PutRecords). It starts
// the Producer's goroutine; call Close to stop it.
func NewProducer(client PutClient, streamName string, opts ...ProducerOption) (*Producer, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: nil client", ErrInvalidOption)
	}
	if streamName == "" {
		return nil, fmt.Errorf("%w: empty stream name", ErrInvalidOption)
	}
	cfg, err := newProducerConfig(opts)
	if err != nil {
		return nil, err
	}
	var shards *shardMap
	if cfg.aggSize > 0 {
		lister, ok := client.(shardLister)
		if !ok {
			return nil, fmt.Errorf("%w: WithAggregation: the client has no ListShards method to learn the shards by", ErrInvalidOption)
		}
		shards = &shardMap{lister: observe(lister, cfg.retryConfig), name: streamName, rc: cfg.retryConfig}
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	p := &Producer{
		client:     observe(client, cfg.retryConfig),
		name:       streamName,
		cfg:        cfg,
		shards:     shards,
		sendCtx:    ctx,
		cancelSend: cancel,
		wake:       make(chan struct{}, 1),
		stop:       make(chan struct{}),
		stopped:    make(chan struct{}),
		unfinished: make(map[uint64]int),
		changed:    make(chan struct{}),
	}
	if cfg.keyOrder {
		p.keys = make(map[string]*keyState)
	}
	go p.dispatch()
	return p, nil
}

// Put accepts one record for sending. It copies data, so the caller may
// reuse it. A record that the service could never accept (an empty partition
// key, one over 256 characters, or key and data over 1 MiB together) is
// refused with ErrInvalidRecord. When the buffer is full, Put blocks until
// there is room or ctx ends, or, with WithFailWhenFull, returns
// ErrBufferFull. After Close it returns ErrClosed. A nil error means the
// record will be sent, or reported as failed.
func (p *Producer) Put(ctx context.Context, partitionKey string, data []byte) error {
	if err := checkRecord(partitionKey, data); err != nil {
		return err
	}
	size := len(partitionKey) + len(data)
	// Never nil, even when empty: the SDK refuses an entry without Data,
	// and with it the whole request.
	rec := &pending{key: partitionKey, data: append(make([]byte, 0, len(data)), data...), size: size}
	p.mu.Lock()
	for {
		if p.closing {
			p.mu.Unlock()
			return ErrClosed
		}
		if p.bufRecords < p.cfg.bufRecords && p.bufBytes+size <= p.cfg.bufBytes {
			break
		}
		if p.cfg.failWhenFull {
			p.mu.Unlock()
			return ErrBufferFull
		}
		changed := p.changed
		p.blocked++
		p.mu.Unlock()
		p.poke() // nothing more can join a lingering batch: send it now
		var err error
		select {
		case <-changed:
		case <-ctx.Done():
			err = ctx.Err()
		}
		p.mu.Lock()
		p.blocked--
		if err != nil {
			p.mu.Unlock()
			return err
		}
	}
	rec.gen = p.gen
	rec.at = time.Now()
	p.unfinished[rec.gen]++
	p.bufRecords++
	p.bufBytes += size
	if ks := p.keyBusy(partitionKey); ks != nil {
		ks.waiting = append(ks.waiting, rec)
		p.mu.Unlock()
		return nil
	}
	p.queue.pushBack(rec)
	p.queueBytes += size
	p.mu.Unlock()
	p.poke()
	return nil
}

// keyBusy returns the state of a key that already has a record queued or in
// flight, marking the key busy if it had none; nil without WithKeyOrder.
func (p *Producer) keyBusy(key string) *keyState {
	if p.keys == nil {
		return nil
	}
	if ks := p.keys[key]; ks != nil {
		return ks
	}
	p.keys[key] = &keyState{}
	return nil
}

func checkRecord(key string, data []byte) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty partition key", ErrInvalidRecord)
	case len(key) > MaxPartitionKeyLen && utf8.RuneCountInString(key) > MaxPartitionKeyLen:
		return fmt.Errorf("%w: partition key of %d characters (max %d)", ErrInvalidRecord, utf8.RuneCountInString(key), MaxPartitionKeyLen)
	case len(key)+len(data) > MaxRecordSize:
		return fmt.Errorf("%w: %d bytes with its partition key (max %d)", ErrInvalidRecord, len(key)+len(data), MaxRecordSize)
	}
	return nil
}

// poke wakes the dispatcher without blocking.
func (p *Producer) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Flush sends every record accepted before it was called and waits until
// each is acknowledged or has failed, or until ctx ends. Records waiting to
// fill a batch go at once. It returns a *LostError (errors.Is
// ErrSendFailed) if any record failed since the last Flush or Close
// reported failures.
func (p *Producer) Flush(ctx context.Context) error {
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		return ErrClosed
	}
	g := p.gen
	p.gen++
	p.flushing++
	p.mu.Unlock()
	p.poke()
	err := p.waitFor(ctx, func() bool { return p.unfinishedUpTo(g) == 0 })
	p.mu.Lock()
	p.flushing--
	p.mu.Unlock()
	if err != nil {
		return err
	}
	return p.takeFailures()
}

// Close stops taking records, sends everything held, and stops the
// Producer. If ctx ends first, what is left is abandoned: requests in flight
// are cancelled (the service may or may not have stored them), and every
// record not acknowledged counts as failed. Close returns a *LostError
// (errors.Is ErrSendFailed) if any record failed since the last report;
// calling it again returns ErrClosed.
func (p *Producer) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		return ErrClosed
	}
	p.closing = true
	p.flushing++
	p.mu.Unlock()
	p.poke()
	idle := func() bool { return p.bufRecords == 0 && len(p.unfinished) == 0 }
	err := p.waitFor(ctx, idle)
	if err != nil {
		// Senders now fail what they hold, at once, and so does the queue.
		p.cancelSend(err)
		p.mu.Lock()
		for rec := p.queue.popFront(); rec != nil; rec = p.queue.popFront() {
			p.queueBytes -= rec.size
			p.finishLocked(rec, p.abandoned())
		}
		p.signalLocked()
		p.mu.Unlock()
		p.report()
		_ = p.waitFor(context.Background(), idle)
	}
	close(p.stop)
	<-p.stopped
	p.cancelSend(ErrClosed)
	return p.takeFailures()
}

// waitFor waits until cond, evaluated under p.mu, holds, or ctx ends.
func (p *Producer) waitFor(ctx context.Context, cond func() bool) error {
	for {
		p.mu.Lock()
		if cond() {
			p.mu.Unlock()
			return nil
		}
		changed := p.changed
		p.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (p *Producer) unfinishedUpTo(g uint64) int {
	n := 0
	for gen, c := range p.unfinished {
		if gen <= g {
			n += c
		}
	}
	return n
}

func (p *Producer) takeFailures() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failed == 0 {
		return nil
	}
	err := &LostError{Records: p.failed, Last: p.failure}
	p.failed, p.failure = 0, nil
	return err
}

// Stats returns the Producer's counters.
func (p *Producer) Stats() ProducerStats {
	p.mu.Lock()
	buffered := p.bufRecords
	p.mu.Unlock()
	return ProducerStats{
		Sent:     p.sent.Load(),
		Retried:  p.retried.Load(),
		Failed:   p.failedTotal.Load(),
		Requests: p.requests.Load(),
		Buffered: buffered,
	}
}

// dispatch is the Producer's goroutine: it cuts batches from the queue and
// starts a sender for each, as far as the concurrency limit allows.
func (p *Producer) dispatch() {
	defer close(p.stopped)
	// One linger timer per deadline, not per wake-up: every Put wakes the
	// dispatcher, and most find the same oldest record still lingering.
	var timer <-chan time.Time
	var timerAt time.Time
	for {
		p.mu.Lock()
		var due time.Time
		for p.inFlight < p.cfg.concurrency {
			batch, at := p.cutBatch()
			if batch == nil {
				due = at
				break
			}
			p.inFlight++
			go p.send(batch)
		}
		if due.IsZero() {
			timer, timerAt = nil, time.Time{}
		} else if !due.Equal(timerAt) {
			timer, timerAt = time.After(time.Until(due)), due
		}
		p.mu.Unlock()
		select {
		case <-p.wake:
		case <-timer:
			timer, timerAt = nil, time.Time{}
		case <-p.stop:
			return
		}
	}
}

// cutBatch takes the next batch off the queue if one is due: a full one, or
// any when the oldest record has lingered enough, a Flush or Close waits, or
// a Put waits for room (so no record can join the batch until one goes).
// Otherwise it returns when the oldest record's linger ends (the zero time
// when the queue is empty).
func (p *Producer) cutBatch() ([]*pending, time.Time) {
	head := p.queue.front()
	if head == nil {
		return nil, time.Time{}
	}
	maxRecords, maxBytes := p.cfg.batchRecords, p.cfg.batchBytes
	perRecord := 0
	if p.shards != nil {
		// The limits bound aggregated records, of many user records each:
		// a batch of user records is bounded by the buffer, and its bytes,
		// with the format's overhead, by one request's, less a 64th (80 KiB
		// of 5 MiB) for the aggregated records' own keys and checksums.
		maxRecords, maxBytes, perRecord = p.cfg.bufRecords, maxBytes-maxBytes/64, aggOverhead
	}
	full := p.queue.len() >= maxRecords || p.queueBytes+perRecord*p.queue.len() >= maxBytes
	if !full && p.flushing == 0 && p.blocked == 0 {
		if due := head.at.Add(p.cfg.linger); due.After(time.Now()) {
			return nil, due
		}
	}
	var batch []*pending
	bytes := 0
	for len(batch) < maxRecords {
		rec := p.queue.front()
		if rec == nil || len(batch) > 0 && bytes+rec.size+perRecord > maxBytes {
			break
		}
		p.queue.popFront()
		p.queueBytes -= rec.size
		bytes += rec.size + perRecord
		batch = append(batch, rec)
	}
	return batch, time.Time{}
}

// send delivers one batch, resending only the refused records, until each
// is sent or has failed; then it frees its concurrency slot. Each attempt
// packs what is left afresh, so that records an aggregated record carried to
// the wrong shard are packed by the new shard map.
func (p *Producer) send(recs []*pending) {
	defer func() {
		p.mu.Lock()
		p.inFlight--
		p.mu.Unlock()
		p.poke()
	}()
	for attempt := 1; len(recs) > 0; attempt++ {
		entries, err := p.pack(p.sendCtx, recs)
		switch {
		case err != nil && p.sendCtx.Err() != nil:
			p.finish(nil, recs, p.abandoned())
			return
		case err != nil:
			p.finish(nil, recs, fmt.Errorf("kinesisstream: ListShards %s: %w", p.name, err))
			return
		}
		var again []*pending
		var lastErr error
		for len(entries) > 0 {
			// Aggregated records can outgrow one request; the batch's cut
			// leaves room for that (see cutBatch), so this rarely loops.
			n := requestSize(entries, p.cfg.batchRecords, p.cfg.batchBytes)
			a, why := p.put(entries[:n])
			again = append(again, a...)
			if why != nil {
				lastErr = why
			}
			entries = entries[n:]
		}
		if len(again) == 0 {
			return
		}
		if max := p.cfg.maxAttempts; max > 0 && attempt >= max {
			p.finish(nil, again, fmt.Errorf("%w: PutRecords %s: %d attempts: %w", ErrThrottled, p.name, attempt, lastErr))
			return
		}
		if err := backoff.Sleep(p.sendCtx, p.cfg.backoff.Delay(attempt-1)); err != nil {
			p.finish(nil, again, p.abandoned())
			return
		}
		p.retried.Add(int64(len(again)))
		recs = again
	}
}

// put makes one PutRecords request of entries and settles what it can:
// the records of accepted entries are sent, those of entries refused for
// good have failed. It returns the records to send again, and why.
func (p *Producer) put(entries []entry) (again []*pending, why error) {
	in := make([]types.PutRecordsRequestEntry, len(entries))
	for i, e := range entries {
		in[i] = types.PutRecordsRequestEntry{Data: e.data, PartitionKey: aws.String(e.key)}
		if e.hashKey != "" {
			in[i].ExplicitHashKey = aws.String(e.hashKey)
		}
	}
	p.requests.Add(1)
	out, err := p.client.PutRecords(p.sendCtx, &kinesis.PutRecordsInput{
		StreamName: aws.String(p.name),
		Records:    in,
	}, oneAttempt)
	switch {
	case err != nil && retryable(p.sendCtx, err):
		return recordsOf(entries), err
	case err != nil && p.sendCtx.Err() != nil:
		p.finish(nil, recordsOf(entries), p.abandoned())
		return nil, nil
	case err != nil:
		p.finish(nil, recordsOf(entries), fmt.Errorf("kinesisstream: PutRecords %s: %w", p.name, err))
		return nil, nil
	}
	var ok, bad []*pending
	var badErr error
	var open []openShard // listed again after a wrong shard, once a response
	for i, e := range entries {
		if i >= len(out.Records) {
			// A short answer leaves the rest unknown; sending them
			// again risks a duplicate, never a loss.
			again = append(again, e.recs...)
			continue
		}
		res := out.Records[i]
		code := aws.ToString(res.ErrorCode)
		switch {
		case code == "" && e.shard != "" && aws.ToString(res.ShardId) != e.shard:
			if open == nil {
				open, _ = p.shards.refresh(p.sendCtx)
			}
			o, a := landed(e, open, aws.ToString(res.ShardId))
			ok, again = append(ok, o...), append(again, a...)
			if len(a) > 0 {
				why = fmt.Errorf("%w: aggregated record for shard %s landed on %s", errWrongShard, e.shard, aws.ToString(res.ShardId))
			}
		case code == "":
			ok = append(ok, e.recs...)
		case awserr.RetryableCode(code):
			again = append(again, e.recs...)
			why = &entryError{code, aws.ToString(res.ErrorMessage)}
		default:
			bad = append(bad, e.recs...)
			badErr = fmt.Errorf("kinesisstream: PutRecords %s: %w", p.name, &entryError{code, aws.ToString(res.ErrorMessage)})
		}
	}
	p.finish(ok, bad, badErr)
	return again, why
}

// errWrongShard is why records are sent again after the shard map proved
// stale.
var errWrongShard = errors.New("kinesisstream: stream resharded")

// landed splits the records of an aggregated record that Kinesis put on
// shard id, not the one it was packed for, into those in that shard's range
// (stored: a reader delivers them) and the others, which a reader drops
// (see Stream) and which must be sent again. open is the new listing. If it
// does not show the shard, all are sent again: a duplicate, never a loss.
func landed(e entry, open []openShard, id string) (ok, again []*pending) {
	sh, found := byID(open, id)
	if !found {
		return nil, e.recs
	}
	for _, r := range e.recs {
		if sh.contains(hashkey.Of(r.key)) {
			ok = append(ok, r)
		} else {
			again = append(again, r)
		}
	}
	return ok, again
}

func recordsOf(entries []entry) []*pending {
	if len(entries) == 1 {
		return entries[0].recs
	}
	var recs []*pending
	for _, e := range entries {
		recs = append(recs, e.recs...)
	}
	return recs
}

// abandoned is the reason for failing records once Close has given up.
func (p *Producer) abandoned() error {
	return fmt.Errorf("kinesisstream: PutRecords %s: abandoned by Close: %w", p.name, context.Cause(p.sendCtx))
}

// entryError is one PutRecords entry's refusal.
type entryError struct{ code, message string }

func (e *entryError) Error() string { return e.code + ": " + e.message }

// ErrorCode returns the service's error code, as smithy.APIError does.
func (e *entryError) ErrorCode() string { return e.code }

// finish settles records: ok were sent, bad failed with err.
func (p *Producer) finish(ok, bad []*pending, err error) {
	if len(ok) == 0 && len(bad) == 0 {
		return
	}
	p.sent.Add(int64(len(ok)))
	p.mu.Lock()
	for _, rec := range ok {
		p.finishLocked(rec, nil)
	}
	for _, rec := range bad {
		p.finishLocked(rec, err)
	}
	p.signalLocked()
	p.mu.Unlock()
	p.report()
	p.poke()
}

// signalLocked wakes whoever waits for records to finish. The caller holds
// p.mu.
func (p *Producer) signalLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// report passes the failed records to the failure handler, outside p.mu, so
// that the handler may call the Producer (Stats, even Put), then counts them
// finished.
func (p *Producer) report() {
	p.mu.Lock()
	failed := p.toReport
	p.toReport = nil
	p.mu.Unlock()
	if len(failed) == 0 {
		return
	}
	for _, f := range failed {
		p.cfg.onFailure(f.rec.key, f.rec.data, f.err)
	}
	p.mu.Lock()
	for _, f := range failed {
		p.unfinish(f.rec)
	}
	p.signalLocked()
	p.mu.Unlock()
}

// unfinish takes a record off its Flush generation's count. The caller
// holds p.mu.
func (p *Producer) unfinish(rec *pending) {
	if p.unfinished[rec.gen]--; p.unfinished[rec.gen] == 0 {
		delete(p.unfinished, rec.gen)
	}
}

// finishLocked forgets a record that was sent (err nil) or failed, and lets
// its key's next record go. The caller holds p.mu, must signal changed and,
// after unlocking, call report.
func (p *Producer) finishLocked(rec *pending, err error) {
	p.bufRecords--
	p.bufBytes -= rec.size
	if err != nil {
		p.failedTotal.Add(1)
		p.failed++
		p.failure = err
	}
	if err != nil && p.cfg.onFailure != nil {
		// Unfinished until report has called the handler.
		p.toReport = append(p.toReport, failure{rec, err})
	} else {
		p.unfinish(rec)
	}
	if p.keys == nil {
		return
	}
	ks := p.keys[rec.key]
	if ks == nil {
		return
	}
	if len(ks.waiting) == 0 {
		delete(p.keys, rec.key)
		return
	}
	next := ks.waiting[0]
	ks.waiting[0] = nil
	ks.waiting = ks.waiting[1:]
	if p.closing && p.sendCtx.Err() != nil {
		// Close gave up: the key's later records fail with it.
		p.finishLocked(next, p.abandoned())
		return
	}
	// The record has waited its turn already: at the front, with its Put
	// time, it goes out with the next batch instead of lingering again.
	p.queue.pushFront(next)
	p.queueBytes += next.size
}
