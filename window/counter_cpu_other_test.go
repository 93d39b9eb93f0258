//go:build !linux

package window_test

import "testing"

// cpuClock reports nothing where the thread's CPU time is not at hand.
type cpuClock struct{}

func startCPU() *cpuClock         { return &cpuClock{} }
func (*cpuClock) stop(*testing.B) {}
