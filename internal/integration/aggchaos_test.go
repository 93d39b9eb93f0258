package integration

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamtop/streamtop/checkpoint/dynamostore"
	"github.com/streamtop/streamtop/internal/aggchaos"
	"github.com/streamtop/streamtop/internal/awstest"
	"github.com/streamtop/streamtop/internal/consumertest"
	"github.com/streamtop/streamtop/sink/dynamosink"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/kinesisstream"
)

// TestAggregateChaosOnEmulators is TestAggregateChaos on kinesalite and
// dynalite, shorter: a 2-shard stream read through source/kinesisstream, a lease
// table on dynalite through checkpoint/dynamostore, three workers of which two
// or three are killed and restarted, a graceful stop now and then, one split
// and one merge, and faults injected into the stream, the lease table and
// the sink. The invariants are the memstream test's, checked against a
// recomputation from every shard's records read back from TRIM_HORIZON.
// STREAMTOP_CHAOS_SEED replays a seed.
func TestAggregateChaosOnEmulators(t *testing.T) {
	if testing.Short() {
		t.Skip("seconds of random failures on the emulators")
	}
	const chaosFor, killEvery = 16 * time.Second, 4 * time.Second
	const failover = 2 * time.Second
	seed := consumertest.Seed(t)
	t.Logf("seed %d (STREAMTOP_CHAOS_SEED), chaos for %v, a kill every %v, failover time %v", seed, chaosFor, killEvery, failover)
	rng := rand.New(rand.NewPCG(seed, 1))
	const size, bucket = time.Second, 250 * time.Millisecond

	ctx := context.Background()
	kc, dc := awstest.Kinesis(t), awstest.DynamoDB(t)
	name, table := awstest.UniqueName(t, "aggchaos"), awstest.UniqueName(t, "aggchaos-leases")
	if err := kinesisstream.CreateStream(ctx, kc, name, 2); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	t.Cleanup(func() {
		if err := kinesisstream.DeleteStream(context.Background(), kc, name); err != nil {
			t.Errorf("DeleteStream: %v", err)
		}
	})
	if err := dynamostore.CreateTable(ctx, dc, table); err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	leases, err := dynamostore.New(dc, table)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := kinesisstream.New(kc, name, kinesisstream.WithPollInterval(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}

	// The partials go to a counts table on dynalite, and the complete
	// windows are read back merged from it.
	counts := awstest.UniqueName(t, "aggchaos-counts")
	if err := dynamosink.CreateTable(ctx, dc, counts); err != nil && !errors.Is(err, dynamosink.ErrNoTTL) {
		t.Fatalf("CreateTable: %v", err) // dynalite has no TTL; the table works without
	}
	store, err := dynamosink.New(dc, counts)
	if err != nil {
		t.Fatal(err)
	}

	ac := aggchaos.New(t, seed, rng, raw, leases, size, bucket, failover, true, func(c *source.Config) {
		c.RenewInterval, c.SyncInterval, c.MaxRecords = 500*time.Millisecond, 100*time.Millisecond, 500
	})
	ac.Out = aggchaos.NewRecordingSinkOn(store)
	sched, out, tr, workers := ac.Sched, ac.Out, ac.Trace, ac.Workers
	for range 3 {
		workers.Spawn("")
	}
	prod := startKinesisGroupProducer(t, kc, name, 8, rng.Uint64())

	// Resharding on kinesalite is asynchronous: the stream is UPDATING for
	// about half a second, and the children exist only after that.
	var kills, killedHeld, stops, splits, merges int
	reshard := func(what string, call func() error) {
		tr.Add("", "%s called", what)
		if err := call(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if err := kinesisstream.WaitActive(ctx, kc, name); err != nil {
			t.Fatalf("WaitActive after %s: %v", what, err)
		}
		tr.Add("", "%s done", what)
	}
	start := time.Now()
	lastKill := start
	for time.Since(start) < chaosFor {
		time.Sleep(time.Duration(150+rng.IntN(200)) * time.Millisecond)
		elapsed := time.Since(start)
		switch op := rng.IntN(20); {
		case splits == 0 && elapsed > chaosFor*3/10:
			open := consumertest.OpenShards(t, raw)
			s := open[rng.IntN(len(open))]
			reshard("SplitShard", func() error {
				_, err := kc.SplitShard(ctx, &sdk.SplitShardInput{StreamName: aws.String(name),
					ShardToSplit: aws.String(s.ID), NewStartingHashKey: aws.String(consumertest.Midpoint(t, s))})
				return err
			})
			splits++
		case merges == 0 && elapsed > chaosFor*6/10:
			// kinesalite merges only with the lower range as ShardToMerge;
			// adjacentPair returns the lower first.
			a, b, ok := consumertest.AdjacentPair(consumertest.OpenShards(t, raw), rng)
			if !ok {
				t.Fatal("no two adjacent open shards to merge")
			}
			reshard("MergeShards", func() error {
				_, err := kc.MergeShards(ctx, &sdk.MergeShardsInput{StreamName: aws.String(name),
					ShardToMerge: aws.String(a), AdjacentShardToMerge: aws.String(b)})
				return err
			})
			merges++
		case stops == 0 && elapsed > chaosFor*45/100 && len(workers.Alive) > 1:
			// At least one graceful hand-off per run.
			fallthrough
		case op == 8 && stops < 2 && len(workers.Alive) > 1:
			id := workers.Pick()
			tr.Add("", "graceful stop of %s", id)
			workers.Stop(id)
			stops++
		case time.Since(lastKill) >= killEvery && len(workers.Alive) > 1:
			id := workers.Pick()
			killedHeld += workers.Alive[id].Held()
			tr.Add("", "kill %s", id)
			workers.Kill(id)
			kills++
			lastKill = time.Now()
		case len(workers.Alive) < 3 && len(workers.Dead) > 0 && op < 6:
			// A killed worker comes back under its own name.
			workers.Revive()
		case len(workers.Alive) < 3 && op < 8:
			workers.Spawn("")
		}
	}
	prod.Halt()
	sched.SetEnabled(false)
	end := ac.End(t, raw, 30*time.Second)
	records, st, gaps := end.Records, end.Stats, end.Gaps
	if d := out.CompleteDelays(); len(d) > 0 {
		t.Logf("window complete after its end: p50 %v, p99 %v, max %v (failover time %v)",
			d[len(d)/2].Round(time.Millisecond), d[len(d)*99/100].Round(time.Millisecond), d[len(d)-1].Round(time.Millisecond), failover)
	}
	t.Logf("records %d (decoded %d), kills %d (leases held by the killed %d), graceful stops %d, splits %d, merges %d, partials checked %d, complete windows checked %d, mismatches %d, state checkpoints %d, windows missing %d, faults %v",
		len(records), st.Records, kills, killedHeld, stops, splits, merges, end.Partials, end.Windows, end.Mismatches, st.StateWrites, len(gaps), sched.Injected())
	tr.LogErrors(t)
	if splits != 1 || merges != 1 || stops == 0 || kills < 2 || killedHeld == 0 {
		t.Errorf("chaos too mild: %d splits, %d merges, %d graceful stops, %d kills of workers holding %d leases; want 1, 1, some, at least 2 and some",
			splits, merges, stops, kills, killedHeld)
	}
	// Issue 14: with partials, a reshard leaves no window unwritten, so
	// every window with records must be read back complete.
	if len(gaps) > 0 {
		t.Errorf("%d windows with records never read back complete", len(gaps))
		tr.Explain(t, gaps, records, out, size, bucket, failover)
	}
}

// startKinesisGroupProducer puts batches of "group/key" records on the
// stream with one of a thousand user IDs as partition key, as
// aggchaos.StartGroupProducer does on memstream: every shard holds part of
// every group.
func startKinesisGroupProducer(t testing.TB, kc *sdk.Client, stream string, groups int, seed uint64) *consumertest.Producer {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 2))
	return consumertest.StartProducer(t, func(<-chan struct{}) bool {
		entries := make([]types.PutRecordsRequestEntry, 10)
		for j := range entries {
			g := fmt.Sprintf("g%02d", rng.IntN(groups))
			pk := fmt.Sprintf("user%03d", rng.IntN(1000))
			entries[j] = types.PutRecordsRequestEntry{PartitionKey: aws.String(pk), Data: fmt.Appendf(nil, "%s/k%d", g, rng.IntN(5))}
		}
		res, err := kc.PutRecords(context.Background(), &sdk.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
		if err != nil {
			t.Errorf("PutRecords: %v", err)
			return false
		}
		if n := aws.ToInt32(res.FailedRecordCount); n > 0 {
			// A retry would break the per-key order the test checks.
			t.Errorf("PutRecords: %d records failed", n)
			return false
		}
		time.Sleep(20 * time.Millisecond)
		return true
	})
}
