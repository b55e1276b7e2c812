// Package bintest builds the deltalog command for the tests that run it as
// a process of its own (the end-to-end, crash and soak tests): exit
// statuses, signals and a SIGKILL are only real on a real process.
package bintest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Run builds cmd/deltalog into a new temporary directory, sets *path to
// the binary, runs the tests, removes the binary and returns their exit
// status: for TestMain. When the build fails it prints why and returns 1.
func Run(m *testing.M, path *string) int {
	dir, err := os.MkdirTemp("", "deltalog-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bintest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	*path = filepath.Join(dir, "deltalog")
	if out, err := exec.Command("go", "build", "-o", *path, "github.com/deltalog/deltalog/cmd/deltalog").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "bintest: building deltalog: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}
