//go:build !linux

package window

import "testing"

// sketchCPU reports nothing where the thread's CPU time is not at hand.
type sketchCPU struct{}

func startSketchCPU() *sketchCPU   { return &sketchCPU{} }
func (*sketchCPU) stop(*testing.B) {}
