// Package awstest runs the local Kinesis and DynamoDB emulators (kinesalite,
// kinesis-local and dynalite, pinned in this directory's package-lock.json) for
// integration tests, and builds AWS SDK clients that talk to them. Two Kinesis
// implementations let a suite run against both, and find where one of them
// departs from the service: kinesis-local (the kinesis-mock project) returns
// ChildShards and MillisBehindLatest, throttles, and implements enhanced
// fan-out, which kinesalite does not.
//
// A test asks for a client and gets one bound to an emulator on 127.0.0.1:
//
//	func TestStore(t *testing.T) {
//		db := awstest.DynamoDB(t)
//		table := awstest.UniqueName(t, "leases")
//		...
//	}
//
// The emulators behind Kinesis and DynamoDB are shared by every test of one
// test binary (they start on first use), so tests must use names of their own;
// UniqueName makes them. StartKinesalite and StartDynalite give a test a
// private emulator that stops when the test ends, for tests that kill or
// isolate one. A package that wants the shared emulators stopped the moment
// its tests end, rather than when the binary exits, calls Main from TestMain.
//
// On first use the harness installs the emulators with `npm ci` when
// node_modules is missing. Without Node.js the calling test is skipped with a
// message that says what to install, except when the CI environment variable
// is set: there it fails, so a CI run cannot pass by skipping.
package awstest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// startTimeout bounds how long an emulator may take to start and answer; node
// starts slowly on a loaded two-core machine, so it is generous.
const startTimeout = 60 * time.Second

// Emulator is one running kinesalite or dynalite process, listening on
// 127.0.0.1 only.
//
// The zero value is not usable; emulators come from Kinesalite, Dynalite,
// StartKinesalite and StartDynalite. Its methods are safe for concurrent use.
// Each emulator is one node process holding all its data in memory.
type Emulator struct {
	// Name is "kinesalite", "kinesis-local" or "dynalite".
	Name string
	// Endpoint is the base URL to give the SDK, e.g. http://127.0.0.1:41234.
	Endpoint string

	cmd *exec.Cmd
	// stdin is held open for the life of the emulator: serve.js exits when
	// it closes, which is what happens if this process dies without Stop.
	stdin io.WriteCloser
	out   *tailBuffer
	done  chan struct{} // closed when the process has exited
	stop  sync.Once
	err   error // Wait's result, set before done closes
}

// Stop ends the emulator's whole process group and waits for it to exit.
// Calling it again does nothing.
func (e *Emulator) Stop() {
	e.stop.Do(func() {
		killGroup(e.cmd)
		_ = e.stdin.Close()
		<-e.done
	})
}

// Output returns the last lines the emulator printed, for failure messages.
func (e *Emulator) Output() string { return e.out.String() }

// shared holds the per-binary emulators, started on first use.
var shared struct {
	kinesalite, kinesisLocal, dynalite sharedEmulator
}

type sharedEmulator struct {
	once sync.Once
	emu  *Emulator
	err  error
}

func (s *sharedEmulator) get(t testing.TB, name string) *Emulator {
	t.Helper()
	dir := prepare(t)
	s.once.Do(func() { s.emu, s.err = start(dir, name) })
	if s.err != nil {
		t.Fatalf("awstest: %v", s.err)
	}
	return s.emu
}

// Kinesalite returns the test binary's shared kinesalite, starting it on
// first use. It skips or fails t when Node.js is missing (see the package doc).
func Kinesalite(t testing.TB) *Emulator {
	t.Helper()
	return shared.kinesalite.get(t, "kinesalite")
}

// KinesisLocal returns the test binary's shared kinesis-local, starting it
// on first use (a few seconds: it is a Scala program compiled to
// JavaScript). It skips or fails t when Node.js is missing.
func KinesisLocal(t testing.TB) *Emulator {
	t.Helper()
	return shared.kinesisLocal.get(t, "kinesis-local")
}

// Dynalite returns the test binary's shared dynalite, starting it on first
// use. It skips or fails t when Node.js is missing (see the package doc).
func Dynalite(t testing.TB) *Emulator {
	t.Helper()
	return shared.dynalite.get(t, "dynalite")
}

// StartKinesalite starts a kinesalite for t alone and stops it when t ends.
func StartKinesalite(t testing.TB) *Emulator {
	t.Helper()
	return startPrivate(t, "kinesalite")
}

// StartDynalite starts a dynalite for t alone and stops it when t ends.
func StartDynalite(t testing.TB) *Emulator {
	t.Helper()
	return startPrivate(t, "dynalite")
}

func startPrivate(t testing.TB, name string) *Emulator {
	t.Helper()
	dir := prepare(t)
	e, err := start(dir, name)
	if err != nil {
		t.Fatalf("awstest: %v", err)
	}
	t.Cleanup(e.Stop)
	return e
}

// Main runs the tests of a package and then stops the shared emulators. Call
// it from TestMain:
//
//	func TestMain(m *testing.M) { awstest.Main(m) }
//
// It is optional: without it the emulators exit when the test binary does.
func Main(m *testing.M) {
	code := m.Run()
	for _, s := range []*sharedEmulator{&shared.kinesalite, &shared.kinesisLocal, &shared.dynalite} {
		if s.emu != nil {
			s.emu.Stop()
		}
	}
	os.Exit(code)
}

// start launches serve.js for name from dir, reads the port it chose and
// waits until the emulator answers HTTP.
func start(dir, name string) (*Emulator, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	cmd := exec.Command(node, filepath.Join(dir, "serve.js"), name)
	cmd.Dir = dir
	setGroup(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	out := &tailBuffer{max: 16 << 10}
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	e := &Emulator{Name: name, cmd: cmd, stdin: stdin, out: out, done: make(chan struct{})}

	portc := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		first := true
		for sc.Scan() {
			line := sc.Text()
			if first {
				first = false
				if p, ok := strings.CutPrefix(line, "port "); ok {
					if n, err := strconv.Atoi(p); err == nil {
						portc <- n
						continue
					}
				}
			}
			fmt.Fprintln(out, line)
		}
		// Drain whatever is left so the child never blocks on a full pipe.
		_, _ = io.Copy(out, stdout)
	}()
	go func() {
		e.err = cmd.Wait()
		close(e.done)
	}()

	fail := func(why string) (*Emulator, error) {
		e.Stop()
		return nil, fmt.Errorf("%s %s; its output:\n%s", name, why, e.Output())
	}
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	var port int
	select {
	case port = <-portc:
	case <-e.done:
		return fail(fmt.Sprintf("exited before listening (%v)", e.err))
	case <-deadline.C:
		return fail(fmt.Sprintf("did not listen within %v", startTimeout))
	}
	e.Endpoint = "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := waitAnswers(ctx, e); err != nil {
		return fail(err.Error())
	}
	return e, nil
}

// waitAnswers polls the emulator until it answers an HTTP request: any status
// will do, since the emulators reject unsigned requests.
func waitAnswers(ctx context.Context, e *Emulator) error {
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.Endpoint, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return nil
		}
		select {
		case <-e.done:
			return fmt.Errorf("exited while starting (%v)", e.err)
		case <-ctx.Done():
			return fmt.Errorf("did not answer at %s: %v", e.Endpoint, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// tailBuffer keeps the last max bytes written to it; it is safe for
// concurrent use.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if extra := b.buf.Len() - b.max; extra > 0 {
		b.buf.Next(extra)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
