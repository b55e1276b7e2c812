package formats

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/deltalog/deltalog/events"
)

// update rewrites the golden files: go test ./internal/input/formats -update
var update = flag.Bool("update", false, "rewrite golden files in testdata")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fixture returns the path of a fixture in the repository's
// testdata/formats.
func fixture(name string) string {
	return filepath.Join("..", "..", "..", "testdata", "formats", name)
}

// sharedDebian returns the path of a file of the shared Debian data, and
// skips the test or benchmark when it is absent.
func sharedDebian(tb testing.TB, name string) string {
	tb.Helper()
	path := filepath.Join("..", "..", "..", "..", "shared", "data", "debian", name)
	if _, err := os.Stat(path); err != nil {
		tb.Skipf("shared data not available: %v", err)
	}
	return path
}

// readFixture returns the decompressed content of a fixture.
func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	rc, err := Open(fixture(name))
	require.NoError(t, err)
	defer rc.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(rc)
	require.NoError(t, err)
	return buf.Bytes()
}

// parseAll parses data and returns all packages.
func parseAll(t testing.TB, data []byte, f Format) ([]events.Package, Stats, error) {
	t.Helper()
	var pkgs []events.Package
	stats, err := Parse(bytes.NewReader(data), "input", f, func(p events.Package) error {
		pkgs = append(pkgs, p)
		return nil
	})
	return pkgs, stats, err
}

// parseFixture parses a fixture, requiring success.
func parseFixture(t testing.TB, name string, f Format) ([]events.Package, Stats) {
	t.Helper()
	var pkgs []events.Package
	rc, err := Open(fixture(name))
	require.NoError(t, err)
	defer rc.Close()
	stats, err := Parse(rc, name, f, func(p events.Package) error {
		pkgs = append(pkgs, p)
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, len(pkgs), stats.Packages)
	return pkgs, stats
}

// byName returns the packages called name, in file order.
func byName(pkgs []events.Package, name string) []events.Package {
	var out []events.Package
	for _, p := range pkgs {
		if p.Name == name {
			out = append(out, p)
		}
	}
	return out
}

// one returns the only package called name.
func one(t *testing.T, pkgs []events.Package, name string) events.Package {
	t.Helper()
	found := byName(pkgs, name)
	require.Len(t, found, 1, "packages named %q", name)
	return found[0]
}

// requireParseError requires err to be a *ParseError at file:line in field,
// wrapping target.
func requireParseError(t *testing.T, err error, file string, line int, field string, target error) *ParseError {
	t.Helper()
	require.Error(t, err)
	var pe *ParseError
	require.True(t, errors.As(err, &pe), "want a *ParseError, got %T: %v", err, err)
	require.Equal(t, file, pe.File, "file of %v", err)
	require.Equal(t, line, pe.Line, "line of %v", err)
	require.Equal(t, field, pe.Field, "field of %v", err)
	require.ErrorIs(t, err, target)
	return pe
}
