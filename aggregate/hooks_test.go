package aggregate_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/streamtop/streamtop/aggregate"
	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/hook"
	"github.com/streamtop/streamtop/internal/aggchaos"
	"github.com/streamtop/streamtop/internal/consumertest"
	"github.com/streamtop/streamtop/internal/hooktest"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/source"
)

// Each snapshot the sink accepts is one hook.Window, of its group and
// window end, with a latency of at least zero: arrival times are this
// process's clock, and a window is written only after it ended.
func TestWindowHook(t *testing.T) {
	stream := consumertest.NewStream(t, 2)
	out, err := sink.NewMemory()
	if err != nil {
		t.Fatal(err)
	}
	rec := &hooktest.Recorder{}
	agg, err := aggregate.New(aggregate.Config{Size: time.Second, Bucket: 100 * time.Millisecond, Sink: out,
		Hooks: []hook.Hook{rec},
		Decoder: aggregate.DecoderFunc(func(r source.Record, dst []aggregate.Item) ([]aggregate.Item, error) {
			g, k, err := aggchaos.ParseVisit(r)
			return append(dst, aggregate.Item{Group: g, Key: k, Time: r.ArrivalTime, N: 1}), err
		})})
	if err != nil {
		t.Fatal(err)
	}
	w := consumertest.StartWorker(t, consumertest.FastConfig(stream, checkpoint.NewMemoryStore(), "w", agg.NewProcessor))
	for i := range 50 {
		if _, _, err := stream.Put(context.Background(), fmt.Sprint("u", i), []byte("g/k")); err != nil {
			t.Fatal(err)
		}
	}
	consumertest.WaitFor(t, 10*time.Second, "snapshots written", func() bool { return agg.Stats().Snapshots > 0 })
	w.Stop(t)
	windows := rec.Windows()
	if got, want := int64(len(windows)), agg.Stats().Snapshots; got != want {
		t.Errorf("%d window events, %d snapshots written", got, want)
	}
	for _, win := range windows {
		if win.Group != "g" || win.End.IsZero() || win.Latency < 0 {
			t.Errorf("window %+v: want group g, an end, a latency >= 0", win)
		}
	}
}
