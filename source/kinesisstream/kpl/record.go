package kpl

// magic opens every aggregated record. Anything else is a plain record.
var magic = [4]byte{0xF3, 0x89, 0x9A, 0xC2}

// MaxRecordSize is the largest Kinesis record, 1 MiB, counted as Kinesis
// counts it: the data plus the partition key.
const MaxRecordSize = 1 << 20

// Record is a user record: one of the records packed into an aggregated
// record (a sub-record), or the aggregated record itself as Flush returns it.
type Record struct {
	// PartitionKey decides the shard, unless ExplicitHashKey is set.
	PartitionKey string
	// ExplicitHashKey, when not empty, is the 128-bit hash key as a
	// decimal number, and decides the shard instead of the partition key.
	ExplicitHashKey string
	// Data is the record's payload; it may be empty.
	Data []byte
}
