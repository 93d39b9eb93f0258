package awstest

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

func TestMain(m *testing.M) { Main(m) }

func TestSharedKinesaliteServesKinesis(t *testing.T) {
	ctx := context.Background()
	client := Kinesis(t)
	name := UniqueName(t, "stream")
	if _, err := client.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	out, err := client.ListStreams(ctx, &kinesis.ListStreamsInput{})
	if err != nil {
		t.Fatalf("ListStreams: %v", err)
	}
	if !contains(out.StreamNames, name) {
		t.Errorf("ListStreams = %v, want it to hold %q", out.StreamNames, name)
	}
	if again := Kinesalite(t); again.Endpoint != Kinesalite(t).Endpoint {
		t.Errorf("shared kinesalite changed endpoint")
	}
}

func TestSharedDynaliteServesDynamoDB(t *testing.T) {
	ctx := context.Background()
	client := DynamoDB(t)
	name := UniqueName(t, "table")
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("k"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("k"), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode:          ddbtypes.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	out, err := client.ListTables(ctx, &dynamodb.ListTablesInput{})
	if err != nil {
		t.Fatalf("ListTables: %v", err)
	}
	if !contains(out.TableNames, name) {
		t.Errorf("ListTables = %v, want it to hold %q", out.TableNames, name)
	}
}

func TestEmulatorsListenOnLoopbackOnly(t *testing.T) {
	for _, e := range []*Emulator{Kinesalite(t), KinesisLocal(t), Dynalite(t)} {
		if !strings.HasPrefix(e.Endpoint, "http://127.0.0.1:") {
			t.Errorf("%s endpoint = %q, want http://127.0.0.1:port", e.Name, e.Endpoint)
		}
	}
}

func TestPrivateEmulatorStopsWhenTestEnds(t *testing.T) {
	for _, start := range []func(testing.TB) *Emulator{StartKinesalite, StartDynalite} {
		var e *Emulator
		t.Run("run", func(t *testing.T) {
			e = start(t)
			if e.Endpoint == Kinesalite(t).Endpoint || e.Endpoint == Dynalite(t).Endpoint {
				t.Fatalf("private %s shares the endpoint %s", e.Name, e.Endpoint)
			}
			if err := ping(e.Endpoint); err != nil {
				t.Fatalf("%s does not answer: %v", e.Name, err)
			}
		})
		if e == nil {
			t.Fatal("subtest did not start an emulator")
		}
		select {
		case <-e.done:
		default:
			t.Fatalf("%s still running after its test ended", e.Name)
		}
		assertGroupGone(t, e)
		if err := ping(e.Endpoint); err == nil {
			t.Errorf("%s still answers at %s after its test ended", e.Name, e.Endpoint)
		}
	}
}

// A test binary that dies without cleanup closes the emulator's stdin; the
// emulator must then exit on its own.
func TestEmulatorExitsWhenStdinCloses(t *testing.T) {
	dir := prepare(t)
	e, err := start(dir, "dynalite")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	if err := e.stdin.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-e.done:
	case <-time.After(10 * time.Second):
		t.Fatal("dynalite still running 10s after its stdin closed")
	}
}

func TestStartReportsUnknownEmulator(t *testing.T) {
	dir := prepare(t)
	e, err := start(dir, "nosuch")
	if err == nil {
		e.Stop()
		t.Fatal("start(nosuch) succeeded")
	}
	if !strings.Contains(err.Error(), "usage") {
		t.Errorf("error %q does not carry the emulator's output", err)
	}
}

func ping(endpoint string) error {
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(endpoint)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestUniqueName(t *testing.T) {
	long := strings.Repeat("a", 300)
	tests := []struct {
		prefix, test string
		seq          int64
		want         string
	}{
		{"leases", "TestStore/Take", 7, "leases-TestStore_Take-7"},
		{"s", "Test α b", 1, "s-Test___b-1"},
		{"", "", 1, "x-1"},
		{"t", "", 12, "t-12"},
		{long, "", 3, strings.Repeat("a", maxNameLen-2) + "-3"},
	}
	for _, tt := range tests {
		got := uniqueName(tt.prefix, tt.test, tt.seq)
		if got != tt.want {
			t.Errorf("uniqueName(%q, %q, %d) = %q, want %q", tt.prefix, tt.test, tt.seq, got, tt.want)
		}
		if len(got) < 3 || len(got) > maxNameLen {
			t.Errorf("uniqueName(%q, %q, %d) has length %d, want 3..%d", tt.prefix, tt.test, tt.seq, len(got), maxNameLen)
		}
	}
	if a, b := UniqueName(t, "x"), UniqueName(t, "x"); a == b {
		t.Errorf("two calls returned %q", a)
	}
}

func TestInCI(t *testing.T) {
	tests := []struct {
		v    string
		want bool
	}{
		{"", false}, {"true", true}, {"1", true}, {"yes", true}, {"false", false}, {"0", false},
	}
	for _, tt := range tests {
		if got := inCI(tt.v); got != tt.want {
			t.Errorf("inCI(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
}

func TestInstallReportsMissingTools(t *testing.T) {
	found := func(names ...string) func(string) (string, error) {
		return func(name string) (string, error) {
			if contains(names, name) {
				return "/usr/bin/" + name, nil
			}
			return "", errors.New("not found")
		}
	}
	_, missing, err := install(found())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(missing, "node not found") || !strings.Contains(missing, "install Node.js") {
		t.Errorf("missing = %q, want it to name node and say what to install", missing)
	}
	// With the emulators installed (this test's binary installed them if
	// needed), npm is not needed.
	prepare(t)
	if _, missing, err := install(found("node")); err != nil || missing != "" {
		t.Errorf("install without npm but with node_modules = %q, %v; want nothing missing", missing, err)
	}
	if got := missingTools(found(), "node", "npm"); !strings.Contains(got, "node and npm not found") {
		t.Errorf("missingTools = %q, want both named", got)
	}
}

func TestInstalledChecksPinnedVersions(t *testing.T) {
	write := func(t *testing.T, path, body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	setupDir := func(t *testing.T, kinesalite string, finished bool) string {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "package.json"), `{"dependencies":{"kinesalite":"3.3.3","kinesis-local":"0.6.2","dynalite":"4.0.0"}}`)
		write(t, filepath.Join(dir, "node_modules/kinesalite/package.json"), `{"version":"`+kinesalite+`"}`)
		write(t, filepath.Join(dir, "node_modules/kinesis-local/package.json"), `{"version":"0.6.2"}`)
		write(t, filepath.Join(dir, "node_modules/dynalite/package.json"), `{"version":"4.0.0"}`)
		if finished {
			write(t, filepath.Join(dir, "node_modules/.package-lock.json"), `{}`)
		}
		return dir
	}
	tests := []struct {
		name       string
		kinesalite string
		finished   bool
		want       bool
	}{
		{"pinned versions", "3.3.3", true, true},
		{"other version", "3.3.2", true, false},
		{"unfinished install", "3.3.3", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := installed(setupDir(t, tt.kinesalite, tt.finished))
			if err != nil || got != tt.want {
				t.Errorf("installed = %v, %v; want %v, nil", got, err, tt.want)
			}
		})
	}
	t.Run("no pin", func(t *testing.T) {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "package.json"), `{"dependencies":{"kinesalite":"3.3.3"}}`)
		if _, err := installed(dir); err == nil {
			t.Error("installed accepted a package.json that does not pin dynalite")
		}
	})
	t.Run("bad json", func(t *testing.T) {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "package.json"), `{`)
		if _, err := installed(dir); err == nil {
			t.Error("installed accepted a malformed package.json")
		}
	})
}

func TestLocateFindsHarnessDirectory(t *testing.T) {
	dir, err := locate()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "package-lock.json")); err != nil {
		t.Errorf("locate() = %s, which has no package-lock.json: %v", dir, err)
	}
}

func TestTailBufferKeepsLastBytes(t *testing.T) {
	b := &tailBuffer{max: 4}
	b.Write([]byte("abc"))
	b.Write([]byte("defg"))
	if got := b.String(); got != "defg" {
		t.Errorf("tail = %q, want %q", got, "defg")
	}
}

func TestSharedKinesisLocalServesKinesis(t *testing.T) {
	c := KinesisClient(KinesisLocal(t).Endpoint)
	name := UniqueName(t, "kl")
	if _, err := c.CreateStream(t.Context(), &kinesis.CreateStreamInput{StreamName: &name, ShardCount: aws.Int32(1)}); err != nil {
		t.Fatalf("CreateStream on kinesis-local: %v", err)
	}
	out, err := c.ListStreams(t.Context(), &kinesis.ListStreamsInput{})
	if err != nil {
		t.Fatalf("ListStreams: %v", err)
	}
	if !contains(out.StreamNames, name) {
		t.Fatalf("ListStreams = %v, want %s among them", out.StreamNames, name)
	}
}
