// Package kinesisstream reads and writes Amazon Kinesis Data Streams through the AWS
// SDK for Go v2: Stream is a source.Stream for the Consumer, Producer batches
// records into PutRecords, and CreateStream, DeleteStream and WaitActive manage
// streams (for tests, demos and the local emulator).
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
// are retried with capped exponential backoff and jitter; when the retries run
// out, the error wraps ErrThrottled (or the SDK's error) for errors.Is.
//
// Records written by the Kinesis Producer Library in its aggregated format are
// delivered as they are stored (one Record per Kinesis record, SubSequenceNumber
// 0); this package does not de-aggregate them.
package kinesisstream
