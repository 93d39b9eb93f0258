// Package childtest runs a test of the running test binary again, in a child
// process, and reports how its subtests ended. The contract suites' own tests
// use it to show that a suite fails a broken implementation: a suite takes a
// *testing.T, and a failure reported on the parent's T would fail the parent.
//
// The parent calls Run with the name of a case; the child test reads it back
// with Case, which returns "" in an ordinary run, where the child test does
// nothing.
package childtest

import (
	"errors"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// env carries the case's name to the child.
const env = "STREAMTOP_CHILDTEST_CASE"

// Case returns the name of the case this process was started to run, or ""
// if it was not started by Run.
func Case() string { return os.Getenv(env) }

// Dispatch is the body of the child test: in a process started by Run it
// runs the case Run named, and fails if cases has none of that name; in an
// ordinary run it does nothing.
func Dispatch(t *testing.T, cases map[string]func(t *testing.T)) {
	name := Case()
	if name == "" {
		return
	}
	run, ok := cases[name]
	if !ok {
		t.Fatalf("childtest: unknown case %q", name)
	}
	run(t)
}

// Result is how a child's run of a test ended.
type Result struct {
	// Passed, Failed and Skipped list the test's subtests (at any depth) by
	// their names below the test, as "Sub" or "Sub/Case".
	Passed, Failed, Skipped []string
	// Output is everything the child printed, for failure messages.
	Output string
	// Err is the child's exit error: nil if the test passed.
	Err error
}

// Run runs the test named test of this binary in a child process, with the
// case name set for Case, verbosely and once. It fails t only if the child
// cannot be started.
func Run(t *testing.T, test, name string) Result {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^"+regexp.QuoteMeta(test)+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), env+"="+name)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("childtest: running %s: %v", test, err)
	}
	r := Result{Output: string(out), Err: err}
	re := regexp.MustCompile(`--- (PASS|FAIL|SKIP): ` + regexp.QuoteMeta(test) + `/(\S+)`)
	for _, m := range re.FindAllStringSubmatch(r.Output, -1) {
		switch m[1] {
		case "PASS":
			r.Passed = append(r.Passed, m[2])
		case "FAIL":
			r.Failed = append(r.Failed, m[2])
		case "SKIP":
			r.Skipped = append(r.Skipped, m[2])
		}
	}
	return r
}

// Expect fails t unless each subtest in failing failed, each in passing
// passed, and the child's output contains message. Call it after any other
// check of r: once t has failed, it logs the child's output.
func (r Result) Expect(t *testing.T, failing, passing []string, message string) {
	t.Helper()
	for _, f := range failing {
		if !slices.Contains(r.Failed, f) {
			t.Errorf("subtest %s did not fail", f)
		}
	}
	for _, p := range passing {
		if !slices.Contains(r.Passed, p) {
			t.Errorf("subtest %s did not pass", p)
		}
	}
	if !strings.Contains(r.Output, message) {
		t.Errorf("output lacks %q", message)
	}
	if t.Failed() {
		t.Logf("child output:\n%s", r.Output)
	}
}
