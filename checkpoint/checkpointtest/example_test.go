package checkpointtest_test

import (
	"testing"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/checkpoint/checkpointtest"
)

// testMemoryStore is what a store's own _test.go file holds, under a name
// that go test runs: TestStore, say. It is unexported here only because a
// test function in this file would stop go doc from showing it whole.
func testMemoryStore(t *testing.T) {
	checkpointtest.Run(t, func(t *testing.T) checkpoint.Store {
		// A store on a shared table may be returned to every subtest.
		return checkpoint.NewMemoryStore()
	}, checkpointtest.WithMaxStateSize(checkpoint.MaxMemoryStateSize))
}

// The suite runs under go test, so the example is compiled, not run.
func Example() { _ = testMemoryStore }
