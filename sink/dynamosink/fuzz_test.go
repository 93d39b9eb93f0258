package dynamosink

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/streamtop/streamtop/internal/ddbfuzz"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/topk"
)

// FuzzDecode feeds decode every item the fuzzer can build: it must never
// panic, must explain a refusal, and a snapshot it accepts must be one the
// Sink can write and read back unchanged.
func FuzzDecode(f *testing.F) {
	s := &Sink{ttl: DefaultTTL}
	at := time.Date(2026, 11, 25, 20, 4, 5, 678e6, time.UTC) // date-proof: decode never compares with now
	seeds := []map[string]types.AttributeValue{
		s.encode(sink.Snapshot{Group: "/index.html", Time: at, Window: 10 * time.Second, Host: "w1",
			Counts: []topk.Entry[string]{{Key: "google.com", Count: 12}, {Key: "bing.com", Count: 3, Err: 1}}}),
		s.encode(sink.Snapshot{Group: "g", Time: at}),
		// As the original sample wrote it: no window, no expiry.
		{attrResource: &types.AttributeValueMemberS{Value: "/about"}, attrTimestamp: &types.AttributeValueMemberS{Value: timeKey(at)}},
		// Corrupt ones.
		{},
		{attrResource: &types.AttributeValueMemberS{Value: "g"}, attrTimestamp: &types.AttributeValueMemberS{Value: "yesterday"}},
		{attrResource: &types.AttributeValueMemberS{Value: "g"}, attrTimestamp: &types.AttributeValueMemberS{Value: timeKey(at)},
			attrWindow: &types.AttributeValueMemberN{Value: "9223372036854775807"}},
		{attrResource: &types.AttributeValueMemberS{Value: "g"}, attrTimestamp: &types.AttributeValueMemberS{Value: timeKey(at)},
			attrCounts: &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberNULL{Value: true}}}},
	}
	for _, item := range seeds {
		f.Add(ddbfuzz.Encode(item))
	}
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		item := ddbfuzz.Decode(data)
		snap, _, err := decode(item)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "sink/dynamosink: ") {
				t.Fatalf("decode error %q does not say where it comes from", err)
			}
			return
		}
		if w, ok := item[attrWindow].(*types.AttributeValueMemberN); ok {
			if ms, err := strconv.ParseInt(w.Value, 10, 64); err != nil || int64(snap.Window/time.Millisecond) != ms {
				t.Fatalf("%s %q read as a window of %v", attrWindow, w.Value, snap.Window)
			}
		}
		if snap.Window < 0 {
			t.Fatalf("decode accepted a negative window %v", snap.Window)
		}
		if err := validate(snap); err != nil {
			t.Fatalf("decode accepted a snapshot the Sink would refuse to write: %v", err)
		}
		again, _, err := decode(s.encode(snap))
		if err != nil {
			t.Fatalf("decode of the item written for %+v: %v", snap, err)
		}
		if d := cmp.Diff(snap, again, cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("snapshot changed when written and read again (-first +again):\n%s", d)
		}
	})
}
