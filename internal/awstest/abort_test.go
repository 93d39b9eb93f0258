package awstest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// A client that hangs up half way through sending a request (a cancelled
// context, an SDK timeout, a killed process) must not bring the emulator
// down: both emulators re-throw such errors unless serve.js catches them.
func TestEmulatorSurvivesAbortedRequest(t *testing.T) {
	for _, start := range []func(testing.TB) *Emulator{StartKinesalite, StartDynalite} {
		e := start(t)
		t.Run(e.Name, func(t *testing.T) {
			u, err := url.Parse(e.Endpoint)
			if err != nil {
				t.Fatal(err)
			}
			conn, err := net.Dial("tcp", u.Host)
			if err != nil {
				t.Fatal(err)
			}
			body := `{"Limit":1}`
			// Content-Length promises more than is sent, then the
			// connection closes: Node reports the request as aborted.
			fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: %d\r\n\r\n%s",
				u.Host, len(body)+50, body)
			time.Sleep(200 * time.Millisecond)
			conn.Close()
			time.Sleep(300 * time.Millisecond)

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if e.Name == "kinesalite" {
				_, err = KinesisClient(e.Endpoint).ListStreams(ctx, &kinesis.ListStreamsInput{})
			} else {
				_, err = DynamoDBClient(e.Endpoint).ListTables(ctx, &dynamodb.ListTablesInput{})
			}
			if err != nil {
				t.Fatalf("%s no longer answers after an aborted request: %v\noutput:\n%s", e.Name, err, e.Output())
			}
		})
	}
}
