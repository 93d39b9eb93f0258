package awstest

import (
	"path/filepath"
	"testing"
)

// NodeModules returns the node_modules directory that holds the npm packages
// pinned in this directory's package.json (the emulators and aws-kinesis-agg),
// installing them first if they are missing, for tests that run Node.js
// scripts of their own against those packages (set NODE_PATH to it). Like the
// emulators, it skips the test when Node.js is missing, unless CI is set.
func NodeModules(t testing.TB) string {
	t.Helper()
	return filepath.Join(prepare(t), "node_modules")
}
