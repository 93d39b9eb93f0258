package awstest

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every socket an emulator listens on is bound to loopback: the endpoint
// the harness reports is checked elsewhere; this reads the process's own
// sockets from /proc, so a second server (kinesis-local's TLS one) cannot
// listen on every interface unnoticed.
func TestEmulatorSocketsAreLoopback(t *testing.T) {
	for _, e := range []*Emulator{Kinesalite(t), KinesisLocal(t), Dynalite(t)} {
		inodes := map[string]bool{}
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", e.cmd.Process.Pid))
		if err != nil {
			t.Fatalf("%s: %v", e.Name, err)
		}
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(fmt.Sprintf("/proc/%d/fd", e.cmd.Process.Pid), fd.Name()))
			if inode, ok := strings.CutPrefix(link, "socket:["); err == nil && ok {
				inodes[strings.TrimSuffix(inode, "]")] = true
			}
		}
		listening := 0
		for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
			f, err := os.Open(table)
			if err != nil {
				continue
			}
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				// sl local_address rem_address st ... inode
				fields := strings.Fields(sc.Text())
				if len(fields) < 10 || fields[3] != "0A" || !inodes[fields[9]] {
					continue
				}
				listening++
				addr := fields[1][:strings.IndexByte(fields[1], ':')]
				if addr != "0100007F" && addr != "0000000000000000FFFF00000100007F" && addr != "00000000000000000000000001000000" {
					t.Errorf("%s listens on %s (%s), not loopback", e.Name, fields[1], table)
				}
			}
			f.Close()
		}
		if listening == 0 {
			t.Errorf("%s: no listening socket found among its file descriptors", e.Name)
		}
		t.Logf("%s: %d listening sockets, all on loopback", e.Name, listening)
	}
}
