package kinesisstream_test

import (
	"testing"
	"time"

	"github.com/streamtop/streamtop/internal/awstest"
	"github.com/streamtop/streamtop/source/kinesisstream"
	"github.com/streamtop/streamtop/source/sourcetest"
)

// TestStreamContractFanOut runs the source.Stream contract suite against
// kinesis-local with every reader subscribed through enhanced fan-out, with
// kinesis-local's gaps declared as in TestStreamContractKinesisLocal, and
// those of its SubscribeToShard in the client (awstest.KinesisFanOut).
//
// The service allows one subscription per shard and stream consumer, so
// readers that must read beside another of the same shard do so through a
// Stream of their own, with a consumer of its own: the suite checks that a
// second reader through one Stream takes the subscription over instead.
func TestStreamContractFanOut(t *testing.T) {
	client := awstest.KinesisFanOut(t)
	sourcetest.Run(t, func(t *testing.T, shards int) sourcetest.Stream {
		return kinesisLocalStream{newStreamOn(t, client, shards, kinesisstream.WithEnhancedFanOut("contract"))}
	},
		sourcetest.WithTick(func() { time.Sleep(5 * time.Millisecond) }),
		sourcetest.WithTimeout(60*time.Second),
		sourcetest.WithMergeLowerFirst(),
		sourcetest.WithOneReaderPerShard(func(t *testing.T, st sourcetest.Stream) sourcetest.Stream {
			s := st.(kinesisLocalStream)
			// Deleting the stream deletes its consumers.
			view, err := kinesisstream.New(s.client, s.Name(), kinesisstream.WithEnhancedFanOut(awstest.UniqueName(t, "view")))
			if err != nil {
				t.Fatal(err)
			}
			return kinesisLocalStream{emulatorStream{Stream: view, client: s.client}}
		}))
}
