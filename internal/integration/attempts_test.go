package integration

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamtop/streamtop/checkpoint/dynamostore"
	"github.com/streamtop/streamtop/internal/awstest"
	"github.com/streamtop/streamtop/sink/dynamosink"
	"github.com/streamtop/streamtop/source/kinesisstream"
)

// throttling is an endpoint that answers every call as a throttled AWS JSON
// service does, and counts the calls.
func throttling(t *testing.T, code string) (url string, calls *atomic.Int64) {
	t.Helper()
	calls = &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"__type":"` + code + `","message":"slow down"}`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL, calls
}

// Issue 16's one retry policy: an operation that is throttled on every call
// makes exactly the adapter's attempts of HTTP calls, where the SDK's own
// retryer used to multiply them by three.
func TestOneRetryPolicyBoundsCalls(t *testing.T) {
	fast := func() (time.Duration, time.Duration) { return time.Millisecond, 5 * time.Millisecond }
	t.Run("dynamostore", func(t *testing.T) {
		url, calls := throttling(t, "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException")
		s, err := dynamostore.New(awstest.DynamoDBClient(url), "leases", dynamostore.WithMaxAttempts(4), dynamostore.WithBackoff(fast()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(context.Background(), "shard-0"); err == nil {
			t.Fatal("Get succeeded against a throttling endpoint")
		}
		if n := calls.Load(); n != 4 {
			t.Errorf("Get made %d calls with WithMaxAttempts(4); want 4", n)
		}
	})
	t.Run("dynamosink", func(t *testing.T) {
		url, calls := throttling(t, "com.amazonaws.dynamodb.v20120810#ThrottlingException")
		s, err := dynamosink.New(awstest.DynamoDBClient(url), "counts", dynamosink.WithBackoff(fast()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Query(context.Background(), "/index.html", time.Time{}); err == nil {
			t.Fatal("Query succeeded against a throttling endpoint")
		}
		// A read gives up after 6 attempts of its first request.
		if n := calls.Load(); n != 6 {
			t.Errorf("Query made %d calls; want 6", n)
		}
	})
	t.Run("kinesisstream", func(t *testing.T) {
		url, calls := throttling(t, "LimitExceededException")
		st, err := kinesisstream.New(awstest.KinesisClient(url), "stream", kinesisstream.WithMaxAttempts(3), kinesisstream.WithBackoff(fast()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Shards(context.Background()); err == nil {
			t.Fatal("Shards succeeded against a throttling endpoint")
		}
		if n := calls.Load(); n != 3 {
			t.Errorf("Shards made %d calls with WithMaxAttempts(3); want 3", n)
		}
	})
}
