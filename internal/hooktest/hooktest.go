// Package hooktest records the events of package hook for tests.
package hooktest

import (
	"sync"

	"github.com/streamtop/streamtop/hook"
)

// Recorder implements every interface of package hook and keeps what it
// receives. The zero value is ready; it is safe for concurrent use.
type Recorder struct {
	mu          sync.Mutex
	batches     []hook.Batch
	checkpoints []hook.Checkpoint
	calls       []hook.Call
	writes      []hook.Write
	windows     []hook.Window
}

func (r *Recorder) OnBatch(e hook.Batch) {
	r.mu.Lock()
	r.batches = append(r.batches, e)
	r.mu.Unlock()
}
func (r *Recorder) OnCheckpoint(e hook.Checkpoint) {
	r.mu.Lock()
	r.checkpoints = append(r.checkpoints, e)
	r.mu.Unlock()
}
func (r *Recorder) OnCall(e hook.Call)   { r.mu.Lock(); r.calls = append(r.calls, e); r.mu.Unlock() }
func (r *Recorder) OnWrite(e hook.Write) { r.mu.Lock(); r.writes = append(r.writes, e); r.mu.Unlock() }
func (r *Recorder) OnWindow(e hook.Window) {
	r.mu.Lock()
	r.windows = append(r.windows, e)
	r.mu.Unlock()
}

// Batches returns a copy of the batches received so far.
func (r *Recorder) Batches() []hook.Batch { return get(r, &r.batches) }

// Checkpoints returns a copy of the checkpoints received so far.
func (r *Recorder) Checkpoints() []hook.Checkpoint { return get(r, &r.checkpoints) }

// Calls returns a copy of the calls received so far.
func (r *Recorder) Calls() []hook.Call { return get(r, &r.calls) }

// Writes returns a copy of the writes received so far.
func (r *Recorder) Writes() []hook.Write { return get(r, &r.writes) }

// Windows returns a copy of the windows received so far.
func (r *Recorder) Windows() []hook.Window { return get(r, &r.windows) }

func get[T any](r *Recorder, s *[]T) []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]T(nil), *s...)
}

// CallsOf returns the calls of api received so far.
func (r *Recorder) CallsOf(api string) []hook.Call {
	var out []hook.Call
	for _, c := range r.Calls() {
		if c.API == api {
			out = append(out, c)
		}
	}
	return out
}
