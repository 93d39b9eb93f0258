package sinktest_test

import (
	"testing"

	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/sink/sinktest"
)

// testMemory is what a sink's own _test.go file holds, under a name that go
// test runs: TestSink, say. It is unexported here only because a test
// function in this file would stop go doc from showing it whole.
func testMemory(t *testing.T) {
	sinktest.Run(t, func(t *testing.T) (sink.Writer, sink.Reader) {
		// A sink on a shared table may be returned to every subtest.
		m, err := sink.NewMemory()
		if err != nil {
			t.Fatal(err)
		}
		return m, m
	})
}

// The suite runs under go test, so the example is compiled, not run.
func Example() { _ = testMemory }
