package kinesisstream_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamtop/streamtop/source/kinesisstream"
)

// visitOf is the i-th record of key k: 100 bytes that name both.
func visitOf(k string, i int) []byte {
	b := fmt.Appendf(nil, "%s/%d/", k, i)
	for len(b) < 100 {
		b = append(b, 'x')
	}
	return b
}

func equalPerKey(t *testing.T, got, want map[string][]string) {
	t.Helper()
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Fatalf("key %s: read %d records %.40q..., want %d in Put order", k, len(got[k]), got[k][:min(2, len(got[k]))], len(w))
		}
	}
	if len(got) != len(want) {
		t.Fatalf("read %d keys, want %d", len(got), len(want))
	}
}

// TestProducerReportsDeletedStream deletes the stream under a Producer that
// keeps putting: the failures reach the failure handler within seconds of
// the deletion, Stats counts them, and Close returns a *LostError with the
// count; every record accepted was either sent or reported.
func TestProducerReportsDeletedStream(t *testing.T) {
	for _, c := range []struct {
		name string
		opts []kinesisstream.ProducerOption
	}{
		{"Plain", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			es := newEmulatorStream(t, 1)
			var (
				handled   atomic.Int64
				firstOnce sync.Once
				first     = make(chan error, 1)
			)
			opts := append([]kinesisstream.ProducerOption{kinesisstream.WithLinger(10 * time.Millisecond),
				kinesisstream.WithFailureHandler(func(key string, data []byte, err error) {
					handled.Add(1)
					firstOnce.Do(func() { first <- err })
				})}, c.opts...)
			p, err := kinesisstream.NewProducer(es.client, es.Name(), opts...)
			if err != nil {
				t.Fatal(err)
			}
			var accepted atomic.Int64
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					case <-time.After(time.Millisecond):
					}
					k := fmt.Sprint("key-", i%20)
					if err := p.Put(ctx, k, visitOf(k, i)); err != nil {
						t.Errorf("Put: %v", err)
						return
					}
					accepted.Add(1)
				}
			}()
			var stopOnce sync.Once
			stopPutting := func() { stopOnce.Do(func() { close(stop); <-done }) }
			defer stopPutting()
			for p.Stats().Sent < 100 {
				time.Sleep(10 * time.Millisecond)
			}
			if err := kinesisstream.DeleteStream(ctx, es.client, es.Name()); err != nil {
				t.Fatal(err)
			}
			deleted := time.Now()
			const bound = 5 * time.Second
			select {
			case err := <-first:
				var notFound *types.ResourceNotFoundException
				if !errors.As(err, &notFound) {
					t.Errorf("first failure: %v, want a ResourceNotFoundException", err)
				}
				t.Logf("first failure reported %v after the deletion: %v", time.Since(deleted).Round(time.Millisecond), err)
			case <-time.After(bound):
				t.Fatalf("no failure reported within %v of deleting the stream; Stats = %+v", bound, p.Stats())
			}
			stopPutting()

			err = p.Close(ctx)
			var lost *kinesisstream.LostError
			if !errors.As(err, &lost) || !errors.Is(err, kinesisstream.ErrSendFailed) {
				t.Fatalf("Close = %v, want a *LostError", err)
			}
			s := p.Stats()
			if int64(lost.Records) != s.Failed || s.Failed != handled.Load() || s.Sent+s.Failed != accepted.Load() || s.Buffered != 0 {
				t.Fatalf("Close reported %d lost; Stats = %+v, handler saw %d, %d accepted: want all equal, sent + failed = accepted",
					lost.Records, s, handled.Load(), accepted.Load())
			}
			t.Logf("%d accepted: %d sent, %d lost (%v)", accepted.Load(), s.Sent, s.Failed, err)
		})
	}
}

// TestProducerSendsEmptyRecords: a record with no data is valid; the SDK
// refuses an entry whose Data is nil, and the whole request with it, so the
// Producer must never send nil.
func TestProducerSendsEmptyRecords(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	es := newEmulatorStream(t, 1)
	p, err := kinesisstream.NewProducer(es.client, es.Name())
	if err != nil {
		t.Fatal(err)
	}
	for i, data := range [][]byte{nil, []byte("a"), {}, []byte("b")} {
		if err := p.Put(ctx, fmt.Sprint("key-", i), data); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close = %v, want every record sent", err)
	}
	got := readShards(t, ctx, es.Stream, 4)
	want := map[string][]string{"key-0": {""}, "key-1": {"a"}, "key-2": {""}, "key-3": {"b"}}
	equalPerKey(t, got, want)
}
