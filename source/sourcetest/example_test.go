package sourcetest_test

import (
	"testing"

	"github.com/streamtop/streamtop/source/memstream"
	"github.com/streamtop/streamtop/source/sourcetest"
)

// testMemstream is what a stream's own _test.go file holds, under a name
// that go test runs: TestStream, say. It is unexported here only because a
// test function in this file would stop go doc from showing it whole.
func testMemstream(t *testing.T) {
	sourcetest.Run(t, func(t *testing.T, shards int) sourcetest.Stream {
		// A memstream.Stream can Put, so it is a sourcetest.Stream as it
		// is, and it can split and merge, so it is a Resharder too.
		s, err := memstream.New(shards)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// The suite runs under go test, so the example is compiled, not run.
func Example() { _ = testMemstream }
