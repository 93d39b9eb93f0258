package awstest

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// Region is the region the clients sign for; the emulators accept any.
const Region = "us-east-1"

// Config returns an SDK configuration for an emulator at endpoint: static
// credentials (the emulators check that requests are signed, not by whom),
// Region, and a retryer that suits a local server.
//
// The retryer makes up to 5 attempts with backoff capped at 200 ms, and has no
// client-side retry quota: the SDK's default quota is meant to shed load from
// a struggling service, and in tests it would turn a burst of deliberate
// errors into "retry quota exceeded" failures of unrelated calls.
func Config(endpoint string) aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDAWSTEST", "awstest-secret", ""),
		BaseEndpoint: aws.String(endpoint),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 5
				o.MaxBackoff = 200 * time.Millisecond
				o.RateLimiter = ratelimit.None
			})
		},
	}
}

// KinesisClient returns a Kinesis client for the emulator at endpoint.
func KinesisClient(endpoint string) *kinesis.Client {
	return kinesis.NewFromConfig(Config(endpoint))
}

// DynamoDBClient returns a DynamoDB client for the dynalite at endpoint.
func DynamoDBClient(endpoint string) *dynamodb.Client {
	return dynamodb.NewFromConfig(Config(endpoint))
}

// Kinesis returns a client for the test binary's shared kinesalite.
func Kinesis(t testing.TB) *kinesis.Client {
	t.Helper()
	return KinesisClient(Kinesalite(t).Endpoint)
}

// DynamoDB returns a client for the test binary's shared dynalite.
func DynamoDB(t testing.TB) *dynamodb.Client {
	t.Helper()
	return DynamoDBClient(Dynalite(t).Endpoint)
}

// nameSeq makes UniqueName unique within a test binary, which is all the
// shared emulators need: every binary has its own.
var nameSeq atomic.Int64

// maxNameLen keeps names valid as Kinesis stream names (at most 128
// characters) as well as DynamoDB table names (3 to 255).
const maxNameLen = 128

// UniqueName returns a stream or table name for t that no other call in this
// test binary returns: prefix, then t's name, then a sequence number, using
// only the characters both services allow ([a-zA-Z0-9_.-]).
func UniqueName(t testing.TB, prefix string) string {
	t.Helper()
	return uniqueName(prefix, t.Name(), nameSeq.Add(1))
}

func uniqueName(prefix, testName string, seq int64) string {
	clean := func(s string) string {
		return strings.Map(func(r rune) rune {
			switch {
			case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
				return r
			}
			return '_'
		}, s)
	}
	suffix := fmt.Sprintf("-%d", seq)
	name := clean(prefix)
	if testName != "" {
		name += "-" + clean(testName)
	}
	if len(name) > maxNameLen-len(suffix) {
		name = name[:maxNameLen-len(suffix)]
	}
	name += suffix
	for len(name) < 3 {
		name = "x" + name
	}
	return name
}
