package awstest

import (
	"bytes"
	"crypto/tls"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// KinesisFanOut returns a Kinesis client for the shared kinesis-local's TLS
// endpoint, over HTTP/2, that enhanced fan-out (SubscribeToShard) works
// through. It declares two gaps of the emulator in the harness: its
// certificate is self-signed (the client trusts it, and it alone: the
// endpoint is on loopback), and its SubscribeToShard response lacks the
// initial-response event that the service sends first and the SDK expects,
// which the client's transport puts back.
func KinesisFanOut(t testing.TB) *kinesis.Client {
	t.Helper()
	e := KinesisLocal(t)
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	cfg := Config(e.TLSEndpoint)
	cfg.HTTPClient = &http.Client{Transport: initialResponse{tr}}
	return kinesis.NewFromConfig(cfg)
}

// initialResponse puts the initial-response event in front of a
// SubscribeToShard event stream that lacks it.
type initialResponse struct{ rt http.RoundTripper }

func (t initialResponse) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK || req.Header.Get("X-Amz-Target") != "Kinesis_20131202.SubscribeToShard" {
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
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(&head, resp.Body), resp.Body}
	return resp, nil
}
