// Package ddbtest holds the test scaffolding that checkpoint/dynamostore and
// sink/dynamosink share: a TestMain that starts dynalite and keeps rapid's
// round-trip-heavy property tests short, and a table created once per test
// binary. It is for tests only.
package ddbtest

import (
	"context"
	"flag"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/streamtop/streamtop/internal/awstest"
)

// Main is a TestMain body: it runs the tests with dynalite (awstest.Main)
// and sets rapid's -rapid.checks to checks unless the command line gave one.
// Each rapid step against dynalite is a few network round trips, not a map
// lookup, so rapid's default of 100 makes a package slow on a shared
// machine; -rapid.checks=1000 still searches deeper on demand.
func Main(m *testing.M, checks int) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "rapid.checks" })
	if !set && flag.Lookup("rapid.checks") != nil {
		if err := flag.Set("rapid.checks", fmt.Sprint(checks)); err != nil {
			panic(err)
		}
	}
	awstest.Main(m)
}

// SharedTable is one table for the tests of a binary that tolerate company,
// created on first use: a new table costs half a second on dynalite. Its
// zero value is ready; it is safe for concurrent use, and only the first Get
// creates anything.
type SharedTable struct {
	once sync.Once
	name string
	err  error
}

// Get returns a dynalite client and the shared table's name, making the
// table with create (named after prefix and the first caller) if it is the
// first call. A failed create fails every caller.
func (s *SharedTable) Get(t testing.TB, prefix string, create func(ctx context.Context, client *dynamodb.Client, name string) error) (*dynamodb.Client, string) {
	t.Helper()
	client := awstest.DynamoDB(t)
	s.once.Do(func() {
		s.name = awstest.UniqueName(t, prefix)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		s.err = create(ctx, client, s.name)
	})
	if s.err != nil {
		t.Fatalf("CreateTable: %v", s.err)
	}
	return client, s.name
}
