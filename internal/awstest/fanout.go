package awstest

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// KinesisFanOut returns a Kinesis client for the shared kinesis-local's TLS
// endpoint, over HTTP/2, that enhanced fan-out (SubscribeToShard) works
// through. Its transport declares three gaps of the emulator, each standing
// in for the service where it is needed, and no further:
//
//   - The certificate is self-signed: the client trusts it, and it alone
//     (the endpoint is on loopback).
//   - The SubscribeToShard response lacks the initial-response event that
//     the service sends first and the SDK expects: the transport puts it
//     back.
//   - A subscription to a closed shard never ends: kinesis-local 0.6.2 pushes
//     an empty event every second until the subscription's 5 minutes are up,
//     and never sends ChildShards (SubscribeToShardRequest.scala sets them to
//     None). The service sends a last event with ChildShards and no
//     ContinuationSequenceNumber, then ends the subscription. The transport
//     ends the event stream after the first empty event once a listing shows
//     the shard closed, without adding ChildShards, so a reader has to find
//     the end of the shard by itself, as it must when a subscription of a
//     closed shard ends for any other reason.
func KinesisFanOut(t testing.TB) *kinesis.Client {
	t.Helper()
	e := KinesisLocal(t)
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	cfg := Config(e.TLSEndpoint)
	cfg.HTTPClient = &http.Client{Transport: fanOutTransport{rt: tr, lister: KinesisClient(e.Endpoint)}}
	return kinesis.NewFromConfig(cfg)
}

// fanOutTransport mends the SubscribeToShard responses of kinesis-local (see
// KinesisFanOut) and passes every other request through.
type fanOutTransport struct {
	rt     http.RoundTripper
	lister *kinesis.Client // on the plain endpoint: lists shards for closedShardEnd
}

func (t fanOutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("X-Amz-Target") != "Kinesis_20131202.SubscribeToShard" {
		return t.rt.RoundTrip(req)
	}
	var sub struct{ ConsumerARN, ShardId string }
	if req.Body != nil {
		body, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(body, &sub); err != nil {
			return nil, err
		}
		// A RoundTripper must not change the request it is given.
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	resp, err := t.rt.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	var msg eventstream.Message
	msg.Headers.Set(":message-type", eventstream.StringValue("event"))
	msg.Headers.Set(":event-type", eventstream.StringValue("initial-response"))
	msg.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	msg.Payload = []byte("{}")
	var head bytes.Buffer
	if err := eventstream.NewEncoder().Encode(&head, msg); err != nil {
		resp.Body.Close()
		return nil, err
	}
	events := &closedShardEnd{src: resp.Body, ctx: req.Context(), lister: t.lister,
		stream: streamOfConsumer(sub.ConsumerARN), shard: sub.ShardId}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(&head, events), resp.Body}
	return resp, nil
}

// streamOfConsumer returns the stream name in a consumer ARN, which is the
// stream's ARN followed by /consumer/NAME:TIMESTAMP.
func streamOfConsumer(arn string) string {
	_, rest, _ := strings.Cut(arn, ":stream/")
	name, _, _ := strings.Cut(rest, "/consumer/")
	return name
}

// closedShardEnd passes a SubscribeToShard event stream through, message by
// message, and ends it after an event with no records once the shard is
// listed closed: kinesis-local pushes every record it has in each event, so
// an empty event on a closed shard means the subscription has delivered all.
type closedShardEnd struct {
	src           io.Reader
	ctx           context.Context
	lister        *kinesis.Client
	stream, shard string

	dec  *eventstream.Decoder
	out  bytes.Buffer
	done bool
}

func (c *closedShardEnd) Read(p []byte) (int, error) {
	for c.out.Len() == 0 {
		if c.done {
			return 0, io.EOF
		}
		if c.dec == nil {
			c.dec = eventstream.NewDecoder()
		}
		msg, err := c.dec.Decode(c.src, nil)
		if err != nil {
			return 0, err
		}
		if err := eventstream.NewEncoder().Encode(&c.out, msg); err != nil {
			return 0, err
		}
		c.done = c.empty(msg) && c.closed()
	}
	return c.out.Read(p)
}

// empty reports whether msg is a SubscribeToShardEvent without records.
func (c *closedShardEnd) empty(msg eventstream.Message) bool {
	if v := msg.Headers.Get(":event-type"); v == nil || v.String() != "SubscribeToShardEvent" {
		return false
	}
	var ev struct{ Records []json.RawMessage }
	return json.Unmarshal(msg.Payload, &ev) == nil && len(ev.Records) == 0
}

// closed reports whether a listing shows the shard closed. A failed listing
// leaves the subscription open, as kinesis-local would.
func (c *closedShardEnd) closed() bool {
	out, err := c.lister.ListShards(c.ctx, &kinesis.ListShardsInput{StreamName: aws.String(c.stream)})
	if err != nil {
		return false
	}
	for _, sh := range out.Shards {
		if aws.ToString(sh.ShardId) == c.shard {
			return sh.SequenceNumberRange != nil && sh.SequenceNumberRange.EndingSequenceNumber != nil
		}
	}
	return false
}
