// Package kinesisstream reads and writes Amazon Kinesis Data Streams through the AWS
// SDK for Go v2: Stream is a source.Stream for the Consumer, Producer batches
// records into PutRecords (and, with WithAggregation, packs them into the
// KPL's aggregated records), and CreateStream, DeleteStream and WaitActive
// manage streams (for tests, demos and the local emulator).
//
// The package never loads AWS configuration itself: the caller builds a
// *kinesis.Client (from github.com/aws/aws-sdk-go-v2/service/kinesis) and
// passes it in. Every function takes the client as a small interface of the
// SDK methods it calls (ReadClient, PutClient, AdminClient), so a test can
// hand in a fake and an application can hand in a wrapped client.
//
// New takes StreamOptions and NewProducer ProducerOptions; WithBackoff and
// WithMaxAttempts make an Option, which is both. Handing one of them the
// other's option does not compile.
//
// Reads respect the Kinesis limits of 5 GetRecords calls and 2 MB per second
// per shard: each ShardReader paces its own calls, and after a large response
// waits for the byte budget to refill. Throttling and other transient errors
// are retried with capped exponential backoff and jitter, logged (rate-limited)
// through WithLogger; when the retries run out, the error wraps ErrThrottled
// (or the SDK's error) for errors.Is. What no retry heals is reported at once
// and names the stream: a missing stream (or a wrong region or account) wraps
// source.ErrStreamNotFound, refused credentials or permissions
// source.ErrAccessDenied.
//
// Records written by the Kinesis Producer Library in its aggregated format
// (see package kpl) are de-aggregated, as the Kinesis Client Library does: each
// user record inside becomes one Record with the Kinesis record's sequence
// number and arrival time, its own partition key, and its index as
// SubSequenceNumber. An aggregated record whose checksum or body is bad is
// delivered whole, with SubSequenceNumber 0, and counted in Stream.Stats; a
// user record whose hash key lies outside its shard's range (the KPL packed it
// by a stale shard map, and sends it again to the right shard) is dropped and
// counted. WithoutDeaggregation delivers every Kinesis record as it is stored.
// A Producer made with WithAggregation writes that format, packed by the
// shard map, and sends again what a reshard carried to the wrong shard.
//
// A Producer never loses a record silently: each one it gives up on goes to
// the WithFailureHandler function at once, is counted in Stats, and is
// counted in the *LostError that the next Flush or Close returns.
//
// A reader's Read returns at most max user records, so it may stop inside an
// aggregated record and go on from there at the next Read; GetRecords' limit
// and the read budget still count Kinesis records and their bytes. A
// checkpoint names a user record, and source.Consumer resumes just after it,
// even inside an aggregated record.
package kinesisstream
