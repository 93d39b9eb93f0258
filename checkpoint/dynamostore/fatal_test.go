package dynamostore_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/checkpoint/dynamostore"
	"github.com/streamtop/streamtop/internal/awstest"
	"github.com/streamtop/streamtop/internal/logbuf"
)

// A Store on a table that does not exist fails every call with
// checkpoint.ErrTableNotFound, naming the table, on dynalite through the
// SDK: the error a Consumer gives up on.
func TestMissingTableIsTableNotFound(t *testing.T) {
	name := awstest.UniqueName(t, "missing")
	s := newStoreOn(t, awstest.DynamoDB(t), name)
	ctx := context.Background()
	l := checkpoint.Lease{Key: "shard-1", Owner: "w1", Counter: 3}
	for _, c := range []struct {
		op   string
		call func() error
	}{
		{"list", func() error { _, err := s.List(ctx); return err }},
		{"get", func() error { _, err := s.Get(ctx, "shard-1"); return err }},
		{"create", func() error { _, err := s.Create(ctx, l); return err }},
		{"renew", func() error { _, err := s.Renew(ctx, l); return err }},
		{"delete", func() error { return s.Delete(ctx, l) }},
	} {
		err := c.call()
		if !errors.Is(err, checkpoint.ErrTableNotFound) {
			t.Errorf("%s: %v; want checkpoint.ErrTableNotFound", c.op, err)
			continue
		}
		if errors.Is(err, checkpoint.ErrLeaseLost) || errors.Is(err, checkpoint.ErrNotFound) {
			t.Errorf("%s: %v also matches a lease error", c.op, err)
		}
		if msg := err.Error(); !strings.Contains(msg, "table "+name+": "+c.op) {
			t.Errorf("%s: %q does not name the table and the call", c.op, msg)
		}
	}
}

// Refused credentials are checkpoint.ErrAccessDenied, naming the table;
// dynalite accepts any, so the refusal is injected as the SDK returns it.
func TestDeniedIsAccessDenied(t *testing.T) {
	client, name := newTable(t)
	f := &flaky{Client: client, err: &smithy.GenericAPIError{Code: "UnrecognizedClientException",
		Message: "The security token included in the request is invalid."}}
	f.fail.Store(1)
	s, err := dynamostore.New(f, name)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.List(context.Background())
	if !errors.Is(err, checkpoint.ErrAccessDenied) || !strings.Contains(err.Error(), "table "+name+": list") {
		t.Fatalf("List: %v; want checkpoint.ErrAccessDenied naming table %s", err, name)
	}
	if n := f.calls.Load(); n != 1 {
		t.Errorf("%d calls; a refusal is not retried", n)
	}
}

// Throttled calls are logged through WithLogger, at most one line per
// operation per 10 s however many retries, naming the table; the message of
// a ThrottledError names it too.
func TestThrottlingIsLoggedRateLimited(t *testing.T) {
	client, name := newTable(t)
	f := &flaky{Client: client, err: throttles[0].err}
	f.fail.Store(1 << 30)
	var logs logbuf.Buffer
	s, err := dynamostore.New(f, name, dynamostore.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
		dynamostore.WithMaxAttempts(4), dynamostore.WithBackoff(time.Millisecond, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		_, err := s.List(context.Background())
		var te *dynamostore.ThrottledError
		if !errors.As(err, &te) || te.Table != name || !strings.Contains(err.Error(), "table "+name+": list: throttled on all 4 attempts") {
			t.Fatalf("List: %v; want a ThrottledError naming the table", err)
		}
	}
	out := logs.String()
	if n := strings.Count(out, "\n"); n != 1 {
		t.Errorf("%d lines for 12 throttled calls in well under 10 s; want 1:\n%s", n, out)
	}
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "table="+name) || !strings.Contains(out, "op=list") {
		t.Errorf("log line does not say what was throttled:\n%s", out)
	}
}
