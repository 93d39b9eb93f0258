// Package testname names the resources a test leaves in a shared backend (a
// lease in a shared table, a group in a shared sink) so that no other test,
// and no other run of the same test, ever meets them.
//
// A name built from t.Name() alone is unique per test, not per run: with
// go test -count=N the second run of a test finds what the first one left
// (a lease already created, a counter already moved), and so does the next
// go test against a table that outlives the process, or a second machine
// testing against the same table. Unique adds a token drawn once per
// *testing.T, made of a random part drawn once per process and a count of
// the runs in it, so every run gets names of its own while all the calls of
// one run agree.
package testname

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

var (
	tokens sync.Map // testing.TB → string, while the test runs
	seq    atomic.Int64
	// process tells this process's runs from another's: one in 2³² pairs
	// of processes draws the same.
	process = fmt.Sprintf("%08x", rand.Uint32())
)

// Unique returns name prefixed with t's name (slashes made dots) and a token
// of t's run: the same for every call with the same t, different for every
// other test and every other run. It is safe for concurrent use.
func Unique(t testing.TB, name string) string {
	return strings.ReplaceAll(t.Name(), "/", ".") + "." + token(t) + "." + name
}

func token(t testing.TB) string {
	if tok, ok := tokens.Load(t); ok {
		return tok.(string)
	}
	tok, loaded := tokens.LoadOrStore(t, process+"r"+strconv.FormatInt(seq.Add(1), 36))
	if !loaded {
		t.Cleanup(func() { tokens.Delete(t) })
	}
	return tok.(string)
}
