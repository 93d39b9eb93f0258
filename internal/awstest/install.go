package awstest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// installTimeout bounds `npm ci`; a cold npm cache on a slow link takes a while.
const installTimeout = 10 * time.Minute

// setup is done once per test binary: find this directory, check for Node.js
// and install the emulators if they are missing.
var setup struct {
	once    sync.Once
	dir     string
	missing string // what to install, when Node.js or npm is absent
	err     error
}

// prepare returns the directory holding serve.js and node_modules, ready to
// run the emulators, or ends t: skipped when Node.js is missing and CI is not
// set, failed otherwise.
func prepare(t testing.TB) string {
	t.Helper()
	setup.once.Do(func() {
		setup.dir, setup.missing, setup.err = install(exec.LookPath)
	})
	if setup.missing != "" {
		if inCI(os.Getenv("CI")) {
			t.Fatalf("awstest: %s (CI is set, so these tests may not be skipped)", setup.missing)
		}
		t.Skipf("awstest: %s", setup.missing)
	}
	if setup.err != nil {
		t.Fatalf("awstest: %v", setup.err)
	}
	return setup.dir
}

// inCI reports whether the CI variable asks that nothing be skipped. CI
// services set it to "true"; a value that parses as false counts as unset, so
// CI=false go test ./... behaves like a laptop.
func inCI(v string) bool {
	if v == "" {
		return false
	}
	b, err := strconv.ParseBool(v)
	return err != nil || b
}

// install locates the harness directory and runs `npm ci` there if the pinned
// emulators are not installed. missing is non-empty when a tool it needs is
// not on PATH.
func install(lookPath func(string) (string, error)) (dir, missing string, err error) {
	dir, err = locate()
	if err != nil {
		return "", "", err
	}
	if m := missingTools(lookPath, "node"); m != "" {
		return dir, m, nil
	}
	ok, err := installed(dir)
	if err != nil || ok {
		return dir, "", err
	}
	if m := missingTools(lookPath, "npm"); m != "" {
		return dir, m, nil
	}

	// Several test binaries start at once under `go test ./...`; one installs
	// while the others wait, then find the work done.
	lock, err := os.OpenFile(filepath.Join(dir, ".install.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return dir, "", fmt.Errorf("locking the emulator install: %w", err)
	}
	defer lock.Close()
	if err := lockFile(lock); err != nil {
		return dir, "", fmt.Errorf("locking the emulator install: %w", err)
	}
	if ok, err := installed(dir); err != nil || ok {
		return dir, "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return dir, "", fmt.Errorf("npm ci in %s: %v\n%s", dir, err, out)
	}
	if ok, err := installed(dir); err != nil || !ok {
		return dir, "", errors.Join(fmt.Errorf("npm ci in %s did not install the pinned emulators", dir), err)
	}
	return dir, "", nil
}

func missingTools(lookPath func(string) (string, error), tools ...string) string {
	var absent []string
	for _, tool := range tools {
		if _, err := lookPath(tool); err != nil {
			absent = append(absent, tool)
		}
	}
	if len(absent) == 0 {
		return ""
	}
	return fmt.Sprintf("%s not found on PATH: install Node.js 18 or later with npm "+
		"(e.g. apt-get install nodejs npm, or https://nodejs.org) to run the tests "+
		"against the local Kinesis and DynamoDB emulators", strings.Join(absent, " and "))
}

// installed reports whether node_modules holds a finished install of exactly
// the versions package.json pins. npm writes node_modules/.package-lock.json
// last, so its absence means an install that never completed.
func installed(dir string) (bool, error) {
	pins, err := pinned(dir)
	if err != nil {
		return false, err
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json")); err != nil {
		return false, nil
	}
	for name, want := range pins {
		var pkg struct{ Version string }
		b, err := os.ReadFile(filepath.Join(dir, "node_modules", name, "package.json"))
		if err != nil {
			return false, nil
		}
		if err := json.Unmarshal(b, &pkg); err != nil || pkg.Version != want {
			return false, nil
		}
	}
	return true, nil
}

// pinned reads the emulator versions from package.json.
func pinned(dir string) (map[string]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return nil, err
	}
	var pkg struct{ Dependencies map[string]string }
	if err := json.Unmarshal(b, &pkg); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "package.json"), err)
	}
	for _, name := range []string{"kinesalite", "kinesis-local", "dynalite"} {
		if pkg.Dependencies[name] == "" {
			return nil, fmt.Errorf("%s does not pin %s", filepath.Join(dir, "package.json"), name)
		}
	}
	return pkg.Dependencies, nil
}

// locate finds this package's directory in the source tree. The path compiled
// into this file is exact unless the binary was built with -trimpath; then the
// directory is found from the module root above the working directory, which
// go test sets to the package under test.
func locate() (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		dir := filepath.Dir(file)
		if _, err := os.Stat(filepath.Join(dir, "serve.js")); err == nil {
			return dir, nil
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if isModuleRoot(filepath.Join(d, "go.mod")) {
			dir := filepath.Join(d, "internal", "awstest")
			if _, err := os.Stat(filepath.Join(dir, "serve.js")); err != nil {
				return "", fmt.Errorf("module root %s has no internal/awstest/serve.js: %w", d, err)
			}
			return dir, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no internal/awstest found above %s", wd)
		}
	}
}

const modulePath = "github.com/streamtop/streamtop"

func isModuleRoot(gomod string) bool {
	f, err := os.Open(gomod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`) == modulePath
		}
	}
	return false
}
