package awsconf_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/streamtop/streamtop/internal/awsconf"
	"github.com/streamtop/streamtop/internal/awstest"
)

// stderrOf runs f with file descriptor 2 on a pipe and returns what was
// written to it: whatever writes there, the SDK's default logger included.
func stderrOf(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved, err := syscall.Dup(2)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Dup3(int(w.Fd()), 2, 0); err != nil {
		t.Fatal(err)
	}
	got := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		got <- string(b)
	}()
	func() {
		defer func() {
			if err := syscall.Dup3(saved, 2, 0); err != nil {
				panic(err)
			}
			syscall.Close(saved)
			w.Close()
		}()
		f()
	}()
	return <-got
}

// noneFound loads a configuration with load and asks it for credentials,
// which walks the default chain to the instance metadata service: there
// are none.
func noneFound(t *testing.T, load func(context.Context) (aws.Config, error)) {
	t.Helper()
	cfg, err := load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Credentials.Retrieve(t.Context()); err == nil {
		t.Error("credentials found; want none")
	}
}

// The SDK left to itself writes its IMDS warning straight to stderr: the
// line this package exists to route. Checked here so that the test below
// would see such a line if Load let one through.
func TestSDKAloneWritesToStderr(t *testing.T) {
	awstest.NoCredentials(t)
	out := stderrOf(t, func() {
		noneFound(t, func(ctx context.Context) (aws.Config, error) { return awsconfig.LoadDefaultConfig(ctx) })
	})
	if !strings.Contains(out, "IMDSv1") {
		t.Fatalf("stderr %q: want the SDK's IMDS warning", out)
	}
}

// Through Load, the same warning is a slog record of the program's logger,
// at WARN and marked component=aws-sdk, and nothing reaches stderr.
func TestLoadRoutesSDKLogsToSlog(t *testing.T) {
	awstest.NoCredentials(t)
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	out := stderrOf(t, func() {
		noneFound(t, func(ctx context.Context) (aws.Config, error) { return awsconf.Load(ctx, log) })
	})
	if out != "" {
		t.Errorf("stderr %q; want nothing", out)
	}
	lines := strings.Split(strings.TrimSpace(logged.String()), "\n")
	found := false
	for _, l := range lines {
		if !strings.HasPrefix(l, "time=") {
			t.Errorf("log line %q is not a slog record", l)
		}
		if strings.Contains(l, "level=WARN") && strings.Contains(l, "IMDSv1") && strings.Contains(l, "component=aws-sdk") {
			found = true
		}
	}
	if !found {
		t.Errorf("log %q: want the IMDS warning as a WARN record with component=aws-sdk", logged.String())
	}
}
