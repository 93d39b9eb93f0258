//go:build unix

package awstest

import (
	"errors"
	"syscall"
	"testing"
)

func assertGroupGone(t *testing.T, e *Emulator) {
	t.Helper()
	if err := syscall.Kill(-e.cmd.Process.Pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("%s process group %d still has members (kill 0: %v)", e.Name, e.cmd.Process.Pid, err)
	}
}
