package ingest_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/hashing"
	"github.com/deltalog/deltalog/internal/input/formats"
)

// BenchmarkParseHash measures what every update pays before it touches the
// database: parsing the bookworm Packages index (decompressed in memory
// first, so that xz is not measured) and hashing and grouping its packages.
func BenchmarkParseHash(b *testing.B) {
	path := sharedDebian(b, "debian-bookworm-main-Packages-amd64-*.xz")[0]
	rc, err := formats.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	raw, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	h := hashing.New(hashing.DefaultSeed)
	var n int
	for b.Loop() {
		var pkgs []events.Package
		if _, err := formats.Parse(bytes.NewReader(raw), path, formats.DebianPackages, func(p events.Package) error {
			pkgs = append(pkgs, p)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		n = hashing.Group(h, pkgs).Packages
	}
	b.ReportMetric(float64(n), "packages")
}
