package version_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/deltalog/deltalog/internal/input/version"
)

var schemes = []version.Scheme{version.SchemeGeneric, version.SchemeDebian, version.SchemePyPI, version.SchemeSemver}

// addRealSeeds seeds f with triples of real versions, raw and normalized,
// and with a few hand-made shapes.
func addRealSeeds(f *testing.F) {
	pairs := readPairs(f)
	for i, p := range pairs {
		next := pairs[(i+1)%len(pairs)]
		f.Add(p.a, p.b, next.a)
		f.Add(version.Normalize(p.scheme, p.a), version.Normalize(p.scheme, p.b), version.Normalize(next.scheme, next.b))
	}
	for _, seed := range [][3]string{
		{"", "0", "0.0alpha"},
		{"1.0", "1.0.0", "1"},
		{"1.0a", "1.0.1", "1.0patch1"},
		{"1.0.0alpha", "1alpha", "1.0.alpha.0.1"},
		{"0.0.0.0.1", "0.0.0.0.0.a", "0a"},
		{strings.Repeat("9", 300), strings.Repeat("9", 255), "1" + strings.Repeat("0", 254)},
		{"1.0dev", "1.0a", "1.0.devel1"},
		{"1:2.3+really1.0~rc1+dfsg-1", "1!2.0.post1.dev2+local", "v1.0.0-0.beta+build"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
}

// FuzzCompare checks that Compare is a total order (a total preorder on
// strings: distinct strings can be equal versions) and that Key agrees with
// it, on raw input and on each scheme's normalization of it; and that each
// scheme's own order is one too. Run it with
//
//	go test ./internal/input/version -run '^$' -fuzz '^FuzzCompare$' -fuzztime 60s -fuzzminimizetime 3s
//
// (without a short -fuzzminimizetime, minimizing the long inputs the fuzzer
// finds can take the whole budget while the exec count stands still).
func FuzzCompare(f *testing.F) {
	addRealSeeds(f)
	f.Fuzz(func(t *testing.T, a, b, c string) {
		checkOrder(t, version.Compare, version.Key, a, b, c)
		for _, s := range schemes {
			checkOrder(t, version.Compare, version.Key, version.Normalize(s, a), version.Normalize(s, b), version.Normalize(s, c))
			checkOrder(t, version.OrderOf(s).Compare, nil, a, b, c)
		}
	})
}

// checkOrder checks the laws of a total preorder on three versions:
// reflexive, antisymmetric, transitive, signs only; and, given key, that
// keys sort the same way.
func checkOrder(t *testing.T, compare func(a, b string) int, key func(string) []byte, a, b, c string) {
	t.Helper()
	vs := [3]string{a, b, c}
	var keys [3][]byte
	var cmp [3][3]int
	for i, x := range vs {
		if key != nil {
			keys[i] = key(x)
		}
		for j, y := range vs {
			cmp[i][j] = compare(x, y)
		}
	}
	for i, x := range vs {
		if cmp[i][i] != 0 {
			t.Fatalf("not reflexive: Compare(%q, %[1]q) = %d", x, cmp[i][i])
		}
		for j, y := range vs {
			if c := cmp[i][j]; c < -1 || c > 1 {
				t.Fatalf("Compare(%q, %q) = %d, not a sign", x, y, c)
			}
			if cmp[i][j] != -cmp[j][i] {
				t.Fatalf("not antisymmetric: Compare(%q, %q) = %d, Compare(%q, %q) = %d", x, y, cmp[i][j], y, x, cmp[j][i])
			}
			if k := bytes.Compare(keys[i], keys[j]); key != nil && k != cmp[i][j] {
				t.Fatalf("key order differs: Compare(%q, %q) = %d, but keys %x and %x compare %d", x, y, cmp[i][j], keys[i], keys[j], k)
			}
			for k, z := range vs {
				// x <= y and y <= z give x <= z, strict if either is.
				if cmp[i][j] <= 0 && cmp[j][k] <= 0 {
					want := min(cmp[i][j], cmp[j][k])
					if cmp[i][k] != want {
						t.Fatalf("not transitive: Compare(%q, %q) = %d, Compare(%q, %q) = %d, but Compare(%q, %q) = %d",
							x, y, cmp[i][j], y, z, cmp[j][k], x, z, cmp[i][k])
					}
				}
			}
		}
	}
}

// FuzzNormalize checks that Normalize never panics and that its PyPI, npm
// and generic forms are fixed points: normalizing twice changes nothing.
func FuzzNormalize(f *testing.F) {
	for _, p := range readPairs(f) {
		f.Add(p.a)
	}
	for _, s := range []string{"", " v1.0 ", "1.0.0- beta +x", "1!2.0RC1+local", "1:2.3+really1.0~rc1+dfsg-1", "0.1rc1-r96721", "\xff1.0A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		for _, s := range schemes {
			n := version.Normalize(s, v)
			if s == version.SchemeDebian {
				continue // a Debian form can hold a - that would be read as a revision
			}
			if again := version.Normalize(s, n); again != n {
				t.Fatalf("Normalize(%s, %q) = %q, but Normalize(%[1]s, %[3]q) = %[4]q", s, v, n, again)
			}
		}
	})
}
