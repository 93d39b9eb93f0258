// Package crash names the cause with which tests stop a source.Consumer as if
// its process had died.
package crash

import "errors"

// Cause, as the cause of the end of the context given to
// (*source.Consumer).Run (context.WithCancelCause), stops the Consumer as a
// killed process would stop: no processor hook runs, no lease is released,
// nothing more is written. Tests of failover use it; no program should.
var Cause = errors.New("crash: consumer killed (test)")
