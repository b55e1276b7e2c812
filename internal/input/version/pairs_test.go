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

// realPair is a pair of real versions from testdata/version, cut by
// cut_pairs.py with the sign their scheme's reference implementation
// (dpkg, PEP 440, semver) gives them.
type realPair struct {
	line      int
	scheme    version.Scheme
	a, b      string
	reference int    // the reference order's sign of a against b
	want      int    // the generic order's: reference, but for deviations
	source    string // suites and source package, or registry and feature
	reason    string // why want differs from reference (deviations only)
}

// readPairs reads a TSV file of testdata/version: pairs.tsv (scheme, a, b,
// want, source) or deviations.tsv (scheme, a, b, reference, want, source,
// reason).
func readPairs(tb testing.TB, name string) []realPair {
	tb.Helper()
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
		p := realPair{line: n, scheme: version.Scheme(cols[0])}
		sign := func(s string) int {
			v, err := strconv.Atoi(s)
			require.NoError(tb, err, "%s:%d", name, n)
			return v
		}
		switch len(cols) {
		case 5:
			p.a, p.b, p.source = cols[1], cols[2], cols[4]
			p.reference = sign(cols[3])
			p.want = p.reference
		case 7:
			p.a, p.b, p.source, p.reason = cols[1], cols[2], cols[5], cols[6]
			p.reference, p.want = sign(cols[3]), sign(cols[4])
		default:
			tb.Fatalf("%s:%d: %d columns", name, n, len(cols))
		}
		pairs = append(pairs, p)
	}
	require.NoError(tb, in.Err())
	return pairs
}

// TestRealPairs checks each scheme's own order against its reference
// implementation on the real pairs of testdata/version: dpkg for Debian
// (on the upstream versions, as the reference was computed), PEP 440 for
// PyPI, semver for npm. See the header of testdata/version/pairs.tsv.
func TestRealPairs(t *testing.T) {
	t.Parallel()
	count := map[version.Scheme]int{}
	for _, name := range []string{"pairs.tsv", "deviations.tsv"} {
		for _, p := range readPairs(t, name) {
			count[version.Canonical(p.scheme)]++
			a, b := p.a, p.b
			if p.scheme == version.SchemeDebian {
				a, b = "0:"+upstream(a)+"-0", "0:"+upstream(b)+"-0"
			}
			o := version.OrderOf(p.scheme)
			require.Equal(t, p.reference, o.Compare(a, b), "%s:%d (%s, %s): %q against %q", name, p.line, p.scheme, p.source, a, b)
			require.Equal(t, -p.reference, o.Compare(b, a), "%s:%d (%s, %s): %q against %q", name, p.line, p.scheme, p.source, b, a)
		}
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
	for _, name := range []string{"pairs.tsv", "deviations.tsv"} {
		for _, p := range readPairs(tb, name) {
			for _, v := range []string{version.Normalize(p.scheme, p.a), version.Normalize(p.scheme, p.b)} {
				if !seen[v] {
					seen[v] = true
					out = append(out, v)
				}
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
