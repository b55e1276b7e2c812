package version_test

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/internal/input/version"
)

// realPair is a pair of real versions from testdata/version/reference.tsv,
// cut by cut_pairs.py with the sign their scheme's reference implementation
// (dpkg, PEP 440, semver) gives them.
type realPair struct {
	line      int
	scheme    version.Scheme
	a, b      string
	reference int    // the reference order's sign of a against b
	source    string // suites and source package, or registry and feature
}

// readPairs reads testdata/version/reference.tsv (scheme, a, b, reference,
// source).
func readPairs(tb testing.TB) []realPair {
	tb.Helper()
	const name = "reference.tsv"
	f, err := os.Open(filepath.Join("..", "..", "..", "testdata", "version", name))
	require.NoError(tb, err)
	defer f.Close()
	var pairs []realPair
	in := bufio.NewScanner(f)
	for n := 1; in.Scan(); n++ {
		line := in.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		require.Len(tb, cols, 5, "%s:%d", name, n)
		sign, err := strconv.Atoi(cols[3])
		require.NoError(tb, err, "%s:%d", name, n)
		pairs = append(pairs, realPair{line: n, scheme: version.Scheme(cols[0]), a: cols[1], b: cols[2], reference: sign, source: cols[4]})
	}
	require.NoError(tb, in.Err())
	return pairs
}

// TestRealPairs checks each scheme's own order against its reference
// implementation on the real pairs of testdata/version: dpkg for Debian
// (on the upstream versions, as the reference was computed), PEP 440 for
// PyPI, semver for npm. See the header of testdata/version/reference.tsv.
func TestRealPairs(t *testing.T) {
	t.Parallel()
	count := map[version.Scheme]int{}
	for _, p := range readPairs(t) {
		count[version.Canonical(p.scheme)]++
		a, b := p.a, p.b
		if p.scheme == version.SchemeDebian {
			a, b = "0:"+upstream(a)+"-0", "0:"+upstream(b)+"-0"
		}
		o := version.OrderOf(p.scheme)
		require.Equal(t, p.reference, o.Compare(a, b), "reference.tsv:%d (%s, %s): %q against %q", p.line, p.scheme, p.source, a, b)
		require.Equal(t, -p.reference, o.Compare(b, a), "reference.tsv:%d (%s, %s): %q against %q", p.line, p.scheme, p.source, b, a)
	}
	// Hundreds of real pairs of each scheme.
	require.GreaterOrEqual(t, count[version.SchemeDebian], 500)
	require.GreaterOrEqual(t, count[version.SchemePyPI], 150)
	require.GreaterOrEqual(t, count[version.SchemeSemver], 150)
}

// upstream is the upstream part of a Debian version: without epoch and
// revision.
func upstream(v string) string {
	if i := strings.IndexByte(v, ':'); i >= 0 {
		v = v[i+1:]
	}
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		v = v[:i]
	}
	return v
}

// realVersions returns every version of the real pairs, normalized and
// deduplicated, in file order.
func realVersions(tb testing.TB) []string {
	tb.Helper()
	var out []string
	seen := map[string]bool{}
	for _, p := range readPairs(tb) {
		for _, v := range []string{version.Normalize(p.scheme, p.a), version.Normalize(p.scheme, p.b)} {
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	return out
}

// TestKeySortsLikeCompare sorts all real versions both ways and compares
// every pair of them.
func TestKeySortsLikeCompare(t *testing.T) {
	t.Parallel()
	vs := realVersions(t)
	keys := make(map[string][]byte, len(vs))
	for _, v := range vs {
		keys[v] = version.Key(v)
	}
	byCompare := slices.Clone(vs)
	slices.SortStableFunc(byCompare, version.Compare)
	byKey := slices.Clone(vs)
	slices.SortStableFunc(byKey, func(a, b string) int { return bytes.Compare(keys[a], keys[b]) })
	require.Equal(t, byCompare, byKey)

	for _, a := range vs {
		for _, b := range vs {
			if c := version.Compare(a, b); c != bytes.Compare(keys[a], keys[b]) {
				require.Failf(t, "key order differs", "Compare(%q, %q) = %d, keys %x and %x", a, b, c, keys[a], keys[b])
			}
		}
	}
}
