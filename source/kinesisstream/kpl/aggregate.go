package kpl

import (
	"crypto/md5"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Errors from Aggregator.Add.
var (
	// ErrFull: the record does not fit beside those already added. Flush,
	// then add it again.
	ErrFull = errors.New("kpl: aggregated record full")
	// ErrTooLarge: the record does not fit in an aggregated record even
	// on its own.
	ErrTooLarge = errors.New("kpl: record too large to aggregate")
	// ErrInvalidRecord: Kinesis would refuse the record's keys.
	ErrInvalidRecord = errors.New("kpl: invalid record")
)

// maxHashKey is 2^128-1, the largest explicit hash key Kinesis accepts.
const maxHashKey = "340282366920938463463374607431768211455"

// An Aggregator packs user records into aggregated records no larger than
// MaxSize. Size and SizeWith give the exact size of the record Flush would
// return, so a producer knows before adding whether a record fits.
//
// The aggregated record takes the partition key and explicit hash key of the
// first record added, so Kinesis puts it on that record's shard; the caller
// must add only records that belong to the same shard (the KPL groups by the
// shard map for this).
//
// The zero value is ready to use, with MaxSize MaxRecordSize. An Aggregator
// is not safe for concurrent use. Add copies the data and is O(len(data)) plus
// a map lookup per key; Flush is O(size of the aggregated record), computing
// its MD5, and allocates only the record it returns. The Aggregator keeps its
// buffers for the next record.
type Aggregator struct {
	// MaxSize bounds each aggregated record's data plus its partition key,
	// as Kinesis counts a record against its 1 MiB limit. Zero means
	// MaxRecordSize.
	MaxSize int

	pkIndex, ehkIndex map[string]uint64
	pkTable, ehkTable []byte // encoded table fields, in index order
	records           []byte // encoded records fields
	n                 int
	first             Record // keys of the first record (Data unused)
}

func (a *Aggregator) maxSize() int {
	if a.MaxSize > 0 {
		return a.MaxSize
	}
	return MaxRecordSize
}

// Len returns the number of records added since the last Flush.
func (a *Aggregator) Len() int { return a.n }

// Size returns the size, as Kinesis counts it, of the aggregated record
// Flush would return now: 0 when nothing was added.
func (a *Aggregator) Size() int {
	if a.n == 0 {
		return 0
	}
	return len(magic) + len(a.pkTable) + len(a.ehkTable) + len(a.records) + md5.Size + len(a.first.PartitionKey)
}

// SizeWith returns what Size would return after adding r.
func (a *Aggregator) SizeWith(r Record) int {
	p := a.plan(r)
	return p.size
}

// placement is where a record would go: its key indexes, whether they are
// new to the tables, and the aggregated record's size with it.
type placement struct {
	size          int
	pk, ehk       uint64
	newPK, newEHK bool
}

// plan works out r's placement with one map lookup a key, for SizeWith and
// Add alike.
func (a *Aggregator) plan(r Record) placement {
	p := placement{size: a.Size()}
	if a.n == 0 {
		p.size = len(magic) + md5.Size + len(r.PartitionKey)
	}
	var ok bool
	if p.pk, ok = a.pkIndex[r.PartitionKey]; !ok {
		p.pk, p.newPK = uint64(len(a.pkIndex)), true
		p.size += 1 + varintLen(uint64(len(r.PartitionKey))) + len(r.PartitionKey)
	}
	if r.ExplicitHashKey != "" {
		if p.ehk, ok = a.ehkIndex[r.ExplicitHashKey]; !ok {
			p.ehk, p.newEHK = uint64(len(a.ehkIndex)), true
			p.size += 1 + varintLen(uint64(len(r.ExplicitHashKey))) + len(r.ExplicitHashKey)
		}
	}
	rec := recordLen(p.pk, p.ehk, r.ExplicitHashKey != "", len(r.Data))
	p.size += 1 + varintLen(uint64(rec)) + rec
	return p
}

// recordLen is the encoded length of a Record message's fields.
func recordLen(pk, ehk uint64, hasEHK bool, dataLen int) int {
	n := 1 + varintLen(pk) + 1 + varintLen(uint64(dataLen)) + dataLen
	if hasEHK {
		n += 1 + varintLen(ehk)
	}
	return n
}

// Add appends r to the aggregated record being built. It returns an error
// wrapping ErrFull if r would take it past MaxSize (nothing is added: Flush
// and add r again), ErrTooLarge if r would not fit even alone, and
// ErrInvalidRecord if its partition key is empty or longer than 256
// characters or its explicit hash key is not a decimal number below 2^128.
func (a *Aggregator) Add(r Record) error {
	if err := checkKeys(r); err != nil {
		return err
	}
	p := a.plan(r)
	if p.size > a.maxSize() {
		if a.n == 0 {
			return fmt.Errorf("%w: %d bytes aggregated, limit %d", ErrTooLarge, p.size, a.maxSize())
		}
		return ErrFull
	}
	if a.pkIndex == nil {
		a.pkIndex, a.ehkIndex = make(map[string]uint64), make(map[string]uint64)
	}
	if a.n == 0 {
		a.first = Record{PartitionKey: r.PartitionKey, ExplicitHashKey: r.ExplicitHashKey}
	}
	if p.newPK {
		a.pkIndex[r.PartitionKey] = p.pk
		a.pkTable = appendStringField(a.pkTable, keyPartitionKeyTable, r.PartitionKey)
	}
	if p.newEHK {
		a.ehkIndex[r.ExplicitHashKey] = p.ehk
		a.ehkTable = appendStringField(a.ehkTable, keyExplicitHashKeyTable, r.ExplicitHashKey)
	}
	hasEHK := r.ExplicitHashKey != ""
	b := append(a.records, keyRecords)
	b = appendVarint(b, uint64(recordLen(p.pk, p.ehk, hasEHK, len(r.Data))))
	b = append(b, keyPartitionKeyIndex)
	b = appendVarint(b, p.pk)
	if hasEHK {
		b = append(b, keyExplicitHashKeyIndex)
		b = appendVarint(b, p.ehk)
	}
	a.records = appendBytesField(b, keyData, r.Data)
	a.n++
	return nil
}

func checkKeys(r Record) error {
	if r.PartitionKey == "" || len(r.PartitionKey) > 256 && utf8.RuneCountInString(r.PartitionKey) > 256 {
		return fmt.Errorf("%w: partition key must have 1 to 256 characters", ErrInvalidRecord)
	}
	if h := r.ExplicitHashKey; h != "" {
		if len(h) > len(maxHashKey) || len(h) == len(maxHashKey) && h > maxHashKey {
			return fmt.Errorf("%w: explicit hash key %q is above 2^128-1", ErrInvalidRecord, h)
		}
		for i := 0; i < len(h); i++ {
			if h[i] < '0' || h[i] > '9' {
				return fmt.Errorf("%w: explicit hash key %q is not a decimal number", ErrInvalidRecord, h)
			}
		}
	}
	return nil
}

// Flush returns the aggregated record of everything added since the last
// Flush, with the keys of the first record added, and empties a. ok is false,
// and Record empty, when nothing was added. The returned Data is newly
// allocated, exactly Size bytes less the partition key, and belongs to the
// caller.
func (a *Aggregator) Flush() (agg Record, ok bool) {
	if a.n == 0 {
		return Record{}, false
	}
	body := len(a.pkTable) + len(a.ehkTable) + len(a.records)
	data := make([]byte, 0, len(magic)+body+md5.Size)
	data = append(data, magic[:]...)
	data = append(data, a.pkTable...)
	data = append(data, a.ehkTable...)
	data = append(data, a.records...)
	sum := md5.Sum(data[len(magic):])
	agg = a.first
	agg.Data = append(data, sum[:]...)
	a.Reset()
	return agg, true
}

// Reset drops what was added since the last Flush, keeping the buffers.
func (a *Aggregator) Reset() {
	clear(a.pkIndex)
	clear(a.ehkIndex)
	a.pkTable, a.ehkTable, a.records = a.pkTable[:0], a.ehkTable[:0], a.records[:0]
	a.n = 0
	a.first = Record{}
}
