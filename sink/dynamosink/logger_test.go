package dynamosink_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/streamtop/streamtop/internal/awstest"
	"github.com/streamtop/streamtop/internal/logbuf"
	"github.com/streamtop/streamtop/sink/dynamosink"
)

// On dynalite, with throttled calls injected: the retries are logged
// through WithLogger, one line per operation per 10 s, naming the table and
// never a snapshot's contents.
func TestRetriesAreLoggedRateLimited(t *testing.T) {
	client, name := table(t)
	uc := &updateClient{Client: client}
	uc.throttle.Store(5)
	var logs logbuf.Buffer
	s, err := dynamosink.New(uc, name, dynamosink.WithBackoff(time.Microsecond, time.Millisecond),
		dynamosink.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	group := awstest.UniqueName(t, "g")
	if err := s.Write(t.Context(), snapshots(group, time.Now().UTC().Truncate(time.Second), 60)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	out := logs.String()
	if n := strings.Count(out, "\n"); n != 1 {
		t.Errorf("%d lines for 5 retried requests in well under 10 s; want 1:\n%s", n, out)
	}
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "table="+name) || !strings.Contains(out, "op=write") {
		t.Errorf("the line does not say what was retried:\n%s", out)
	}
	if strings.Contains(out, group) || strings.Contains(out, "ref") {
		t.Errorf("the line carries a snapshot's contents:\n%s", out)
	}
}
