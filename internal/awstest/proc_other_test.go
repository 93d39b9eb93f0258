//go:build !unix

package awstest

import "testing"

func assertGroupGone(t *testing.T, e *Emulator) {}
