package version_test

import (
	"testing"

	"github.com/deltalog/deltalog/internal/input/version"
)

// benchPairs returns the real pairs, normalized.
func benchPairs(b *testing.B) [][2]string {
	b.Helper()
	var out [][2]string
	for _, p := range readPairs(b) {
		out = append(out, [2]string{version.Normalize(p.scheme, p.a), version.Normalize(p.scheme, p.b)})
	}
	return out
}

// BenchmarkCompare compares the real pairs; one op is one Compare.
func BenchmarkCompare(b *testing.B) {
	pairs := benchPairs(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p := pairs[i%len(pairs)]
		version.Compare(p[0], p[1])
		i++
	}
}

// BenchmarkKey computes the keys of the real versions; one op is one Key.
func BenchmarkKey(b *testing.B) {
	pairs := benchPairs(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		version.Key(pairs[i%len(pairs)][i/len(pairs)%2])
		i++
	}
}

// BenchmarkNormalize normalizes the real versions of each scheme; one op is
// one Normalize.
func BenchmarkNormalize(b *testing.B) {
	pairs := readPairs(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p := pairs[i%len(pairs)]
		version.Normalize(p.scheme, p.a)
		i++
	}
}
