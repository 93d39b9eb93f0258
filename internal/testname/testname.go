// Package testname names the resources a test leaves in a shared backend (a
// lease in a shared table, a group in a shared sink) so that no other test,
// and no other run of the same test, ever meets them.
//
// A name built from t.Name() alone is unique per test, not per run: with
// go test -count=N the second run of a test finds what the first one left
// (a lease already created, a counter already moved). Unique adds a token
// drawn once per *testing.T, so every run gets names of its own while all
// the calls of one run agree.
package testname

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

var (
	tokens sync.Map // testing.TB → string, while the test runs
	seq    atomic.Int64
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
	tok, loaded := tokens.LoadOrStore(t, "r"+strconv.FormatInt(seq.Add(1), 36))
	if !loaded {
		t.Cleanup(func() { tokens.Delete(t) })
	}
	return tok.(string)
}
