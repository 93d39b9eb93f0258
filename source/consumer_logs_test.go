package source_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/internal/consumertest"
	"github.com/streamtop/streamtop/internal/logbuf"
	"github.com/streamtop/streamtop/source"
)

// The lines a user reads to follow leases, with loggers made as the docs
// say (logger.With("worker", id)), on the bubble's clock with defaults: one
// line per lease taken, naming how and from whom — a hand-off names the
// worker that handed over, not the taker itself — one per lease handed
// over, one per reshard, a progress line per ProgressInterval, and no
// attribute twice on a line.
func TestConsumerLogsLeasesAndProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out logbuf.Buffer
		base := slog.New(slog.NewTextHandler(&out, nil))
		stream := consumertest.NewStream(t, 4)
		store := checkpoint.NewMemoryStore()
		l := newLedger()
		prod := startProducer(t, stream, l, 64)
		cfg := func(id string) source.Config {
			return source.Config{Stream: stream, Leases: store, WorkerID: id, NewProcessor: l.handler(),
				Logger: base.With("worker", id)}
		}
		a := consumertest.StartWorker(t, cfg("a"))
		consumertest.WaitFor(t, 5*time.Second, "a to hold 4", func() bool { return a.Held() == 4 })
		b := consumertest.StartWorker(t, cfg("b"))
		consumertest.WaitFor(t, 5*time.Second, "2/2", func() bool { return a.Held() == 2 && b.Held() == 2 })

		if n := len(out.Lines("worker=a", "took lease", "how=unowned")); n != 4 {
			t.Errorf("%d 'took lease how=unowned' lines from a; want 4:\n%s", n, strings.Join(out.Lines("took lease"), "\n"))
		}
		if n := len(out.Lines("worker=b", "took lease", "how=\"handed over\"", "from=a")); n != 2 {
			t.Errorf("%d hand-off lines from b naming a; want 2:\n%s", n, strings.Join(out.Lines("worker=b"), "\n"))
		}
		if n := len(out.Lines("worker=a", "handed lease over", "to=b")); n != 2 {
			t.Errorf("%d 'handed lease over to=b' lines from a; want 2", n)
		}
		// Stats count what the lines say.
		if sa, sb := a.C.Stats(), b.C.Stats(); sa.LeasesTaken != 4 || sa.LeasesHandedOff != 2 || sa.LeasesLost != 0 || sb.LeasesTaken != 2 {
			t.Errorf("a took %d, handed off %d, lost %d; b took %d; want 4, 2, 0 and 2", sa.LeasesTaken, sa.LeasesHandedOff, sa.LeasesLost, sb.LeasesTaken)
		}
		if got := out.Lines("from=b", "worker=b", "took lease"); len(got) != 0 {
			t.Errorf("b says it took leases from itself:\n%s", strings.Join(got, "\n"))
		}

		// A reshard seen: one line naming parent and children.
		shards := consumertest.OpenShards(t, stream)
		if err := stream.SplitShard(context.Background(), shards[0].ID, consumertest.Midpoint(t, shards[0])); err != nil {
			t.Fatal(err)
		}
		consumertest.WaitFor(t, 10*time.Second, "the reshard line", func() bool {
			return len(out.Lines("reshard seen", "kind=split", "parents=["+shards[0].ID+"]")) == 1
		})

		// A crashed worker's leases are taken as expired, naming it.
		b.Kill(t)
		consumertest.WaitFor(t, 30*time.Second, "a to take b's leases", func() bool {
			return len(out.Lines("worker=a", "took lease", "how=expired", "from=b")) >= 2
		})

		prod.Halt()
		time.Sleep(2 * time.Minute)
		progress := out.Lines("worker=a", "msg=progress")
		if len(progress) < 2 {
			t.Errorf("%d progress lines in over 2 minutes; want one a minute", len(progress))
		}
		for _, p := range progress {
			for _, k := range []string{"records_per_sec=", "shards=", "lag="} {
				if !strings.Contains(p, k) {
					t.Errorf("progress line without %s: %s", k, p)
				}
			}
		}
		a.Stop(t)

		for _, line := range out.Lines("worker=") {
			if strings.Count(line, "worker=") > 1 || strings.Count(line, "shard=") > 1 {
				t.Errorf("an attribute twice: %s", line)
			}
		}
	})
}
