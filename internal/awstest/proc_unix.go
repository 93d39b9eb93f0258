//go:build unix

package awstest

import (
	"os"
	"os/exec"
	"syscall"
)

// setGroup puts the emulator in a process group of its own, so that Stop
// reaches any child node may have started too.
func setGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killGroup ends the emulator's process group. The emulators keep their data
// in memory and have nothing to flush, so SIGKILL is as good as a polite stop
// and cannot hang.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		_ = cmd.Process.Kill()
	}
}

// lockFile takes an exclusive lock on f, waiting for other processes holding
// it; the lock ends when f is closed or the process exits.
func lockFile(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			return err
		}
	}
}
