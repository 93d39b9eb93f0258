// Package crash names the cause with which tests stop a source.Consumer as if
// its process had died.
package crash

import "errors"

// ErrKilled is the cause to end the context given to (*source.Consumer).Run with
// (context.WithCancelCause) so that the Consumer stops as a killed process
// would: no processor hook runs, no lease is released, nothing more is
// written. Tests of failover use it; no program should.
var ErrKilled = errors.New("crash: consumer killed (test)")
