package streamtop_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dateProof is the mark that vouches for a fixed instant in a test of code
// that reads the wall clock; the words after it say why the instant is safe.
const dateProof = "date-proof:"

// TestFixedDatesAreDateProof keeps the tests passing on any date (issue 12).
// A test that stamps data at a fixed instant (time.Date(2026, …),
// time.Unix(1_700_000_000, 0), time.Parse of a literal) is fine while the
// code under test takes its time from the test too, and breaks on a later
// day once that code compares the instant with the wall clock: a TTL, an
// expiry, a retention, an iterator's age. So in a package whose non-test
// code reads the wall clock (it names time.Now), every fixed instant in its
// tests must carry a "date-proof:" comment, on its line or the line above,
// saying why it is safe (the code under test is given a clock, or never
// compares the instant with now). Otherwise take the time from time.Now.
func TestFixedDatesAreDateProof(t *testing.T) {
	wallClock := map[string]bool{} // directory → its non-test code names time.Now
	tests := map[string][]string{} // directory → its test files
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != "." && (name == "node_modules" || name == "testdata" || strings.HasPrefix(name, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		dir := filepath.Dir(path)
		if strings.HasSuffix(path, "_test.go") {
			tests[dir] = append(tests[dir], path)
			return nil
		}
		if !wallClock[dir] {
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			wallClock[dir] = namesTimeNow(f)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for dir, files := range tests {
		if !wallClock[dir] {
			continue
		}
		for _, path := range files {
			checked++
			for _, bad := range unvouchedDates(t, path) {
				t.Errorf("%s: a fixed instant in a test of code that reads the wall clock; give the code a clock "+
					"from the test or take the time from time.Now, then say why on the line: // %s …", bad, dateProof)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no test file of a package that reads the wall clock was found: the walk is broken")
	}
}

// namesTimeNow reports whether f's code (not its comments) names time.Now.
func namesTimeNow(f *ast.File) bool {
	found := false
	ast.Inspect(f, func(n ast.Node) bool {
		if isTimeFunc(n, "Now") {
			found = true
		}
		return !found
	})
	return found
}

// unvouchedDates returns the positions of the fixed instants in the test file
// at path that no date-proof comment vouches for.
func unvouchedDates(t *testing.T, path string) []string {
	t.Helper()
	fset := token.NewFileSet()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(fset, path, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	vouched := map[int]bool{} // lines a date-proof comment covers: its own and the next
	for _, group := range f.Comments {
		for _, c := range group.List {
			if strings.Contains(c.Text, dateProof) {
				line := fset.Position(c.Slash).Line
				vouched[line], vouched[line+1] = true, true
			}
		}
	}
	var bad []string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) == 0 || !fixedInstant(call) {
			return true
		}
		if pos := fset.Position(call.Pos()); !vouched[pos.Line] {
			bad = append(bad, pos.String())
		}
		return true
	})
	return bad
}

// fixedInstant reports whether call builds an instant from literals:
// time.Date with a literal year, time.Unix or time.UnixMilli of literals
// (time.Unix(0, ns) converts ns, it fixes nothing), time.Parse of a literal.
func fixedInstant(call *ast.CallExpr) bool {
	literal := func(e ast.Expr) bool { _, ok := e.(*ast.BasicLit); return ok }
	switch {
	case isTimeFunc(call.Fun, "Date"):
		return literal(call.Args[0])
	case isTimeFunc(call.Fun, "Unix"), isTimeFunc(call.Fun, "UnixMilli"):
		for _, a := range call.Args {
			if !literal(a) {
				return false
			}
		}
		return true
	case isTimeFunc(call.Fun, "Parse"):
		return len(call.Args) == 2 && literal(call.Args[1])
	}
	return false
}

// isTimeFunc reports whether n is the selector time.<name>.
func isTimeFunc(n ast.Node, name string) bool {
	sel, ok := n.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != name {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && pkg.Name == "time"
}
