//go:build !unix

package awstest

import (
	"os"
	"os/exec"
)

func setGroup(cmd *exec.Cmd) {}

// killGroup ends the emulator; without process groups only node itself can
// be reached, which is all serve.js starts.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}

// lockFile does nothing where flock is missing: concurrent first installs may
// then race, and the loser's npm ci reports it.
func lockFile(f *os.File) error { return nil }
