package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The README's install command, run from the repository's root as a new
// user would after cloning, makes a binary that runs the README's first two
// commands: -demo, and -once on a log in the combined format.
func TestInstallFromCheckout(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and links the command")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	bin := t.TempDir()
	install := exec.Command(goCmd, "install", "./cmd/streamtop")
	install.Dir = filepath.Join("..", "..")
	// GOWORK unset: the go.work at the root puts the command and the
	// library in one workspace, as in a fresh clone.
	install.Env = append(os.Environ(), "GOBIN="+bin, "GOWORK=")
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("go install ./cmd/streamtop: %v\n%s", err, out)
	}
	streamtop := filepath.Join(bin, "streamtop")

	log := strings.Join([]string{
		`10.0.0.1 - - [06/Dec/2026:00:00:00 +0000] "GET /a HTTP/1.1" 200 5 "-" "curl"`,
		`10.0.0.2 - - [06/Dec/2026:00:00:01 +0000] "GET /b HTTP/1.1" 200 5 "-" "curl"`,
		`10.0.0.1 - - [06/Dec/2026:00:00:02 +0000] "GET /a HTTP/1.1" 404 5 "-" "curl"`,
		`10.0.0.3 - - [06/Dec/2026:00:00:03 +0000] "POST /c HTTP/1.1" 200 5 "-" "curl"`,
	}, "\n") + "\n"
	once := exec.Command(streamtop, "-match", `"GET (\S+)`, "-once", "-json")
	once.Stdin = strings.NewReader(log)
	out, err := once.Output()
	if err != nil {
		t.Fatalf("streamtop -once: %v", err)
	}
	var rep report
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("streamtop -once -json printed %q: %v", out, err)
	}
	if top := topRows(rep); rep.Records != 4 || rep.Malformed != 1 || len(top) != 2 ||
		top[0].Key != "/a" || top[0].Count != 2 || top[1].Key != "/b" || top[1].Count != 1 {
		t.Errorf("-once on the log: %d records, %d malformed, top %+v; want 4, 1 (the POST), /a 2, /b 1", rep.Records, rep.Malformed, top)
	}

	// The demo runs until stopped: read its reports until one has counts.
	demo := exec.Command(streamtop, "-demo", "-json", "-refresh", "100ms")
	stdout, err := demo.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := demo.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		demo.Process.Kill()
		demo.Wait()
	}()
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		var r report
		if err := json.Unmarshal(lines.Bytes(), &r); err != nil {
			t.Fatalf("streamtop -demo -json printed %q: %v", lines.Text(), err)
		}
		if len(r.Groups) > 0 && len(r.Groups[0].Top) > 0 {
			if !strings.HasPrefix(r.Source, "demo") || r.Malformed != 0 {
				t.Errorf("-demo: source %q, malformed %d", r.Source, r.Malformed)
			}
			return
		}
	}
	t.Fatalf("streamtop -demo ended with no counts: %v", lines.Err())
}
