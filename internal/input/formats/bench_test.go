package formats

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/internal/bench/gen"
)

const (
	bookwormPackages = "debian-bookworm-main-Packages-amd64-20260711T101637Z.xz"
	bookwormSources  = "debian-bookworm-main-Sources-20260711T101637Z.xz"
)

var (
	decompressedMu sync.Mutex
	decompressed   = map[string][]byte{}
)

// sharedDecompressed returns the decompressed content of a shared data
// file, once per test binary; it skips when the file is absent.
func sharedDecompressed(b *testing.B, path string) []byte {
	b.Helper()
	if _, err := os.Stat(path); err != nil {
		b.Skipf("shared data not available: %v", err)
	}
	decompressedMu.Lock()
	defer decompressedMu.Unlock()
	if data, ok := decompressed[path]; ok {
		return data
	}
	rc, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		b.Fatal(err)
	}
	decompressed[path] = data
	return data
}

func benchParse(b *testing.B, data []byte, f Format) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var stats Stats
	for b.Loop() {
		var err error
		stats, err = Parse(bytes.NewReader(data), "bench", f, func(events.Package) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(stats.Packages), "packages/op")
}

// BenchmarkParseDebianPackages measures Parse alone (no decompression) on
// bookworm's amd64 Packages index, 50 MB, 63440 stanzas.
func BenchmarkParseDebianPackages(b *testing.B) {
	data := sharedDecompressed(b, filepath.Join("..", "..", "..", "..", "shared", "data", "debian", bookwormPackages))
	benchParse(b, data, DebianPackages)
}

// BenchmarkParseDebianSources: bookworm's Sources index, 51 MB.
func BenchmarkParseDebianSources(b *testing.B) {
	data := sharedDecompressed(b, filepath.Join("..", "..", "..", "..", "shared", "data", "debian", bookwormSources))
	benchParse(b, data, DebianSources)
}

// BenchmarkParseTSV: the PyPI list, 76 MB, 886k rows.
func BenchmarkParseTSV(b *testing.B) {
	data := sharedDecompressed(b, filepath.Join("..", "..", "..", "..", "shared", "data", "registries", "pypi.tsv.xz"))
	benchParse(b, data, TSV)
}

// BenchmarkDecompressXZ compares the xz program with the pure-Go decoder on
// bookworm's Packages index; MB/s are of decompressed output.
func BenchmarkDecompressXZ(b *testing.B) {
	path := sharedDebian(b, bookwormPackages)
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	size := int64(len(sharedDecompressed(b, path)))
	for _, d := range xzDecoders(b) {
		b.Run(d.name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				rc, err := decompress(context.Background(), bytes.NewReader(raw), path, d.bin)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, rc); err != nil {
					b.Fatal(err)
				}
				rc.Close()
			}
		})
	}
}

// BenchmarkOpenParseDebianPackages is what an update pays to read the
// file: decompression and parsing, which overlap when xz is a separate
// process.
func BenchmarkOpenParseDebianPackages(b *testing.B) {
	path := sharedDebian(b, bookwormPackages)
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	size := int64(len(sharedDecompressed(b, path)))
	for _, d := range xzDecoders(b) {
		b.Run(d.name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				rc, err := decompress(context.Background(), bytes.NewReader(raw), path, d.bin)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := Parse(rc, path, DebianPackages, func(events.Package) error { return nil }); err != nil {
					b.Fatal(err)
				}
				rc.Close()
			}
		})
	}
}

// BenchmarkReadSnapshotBookworm reads bookworm's Packages with its
// -updates and -security overlays, as an update of that repository does.
func BenchmarkReadSnapshotBookworm(b *testing.B) {
	paths := []string{
		sharedDebian(b, bookwormPackages),
		sharedDebian(b, "debian-bookworm-updates-main-Packages-amd64-20261119T021254Z.xz"),
		sharedDebian(b, "debian-bookworm-security-main-Packages-amd64-20261118T221741Z.xz"),
	}
	b.ReportAllocs()
	for b.Loop() {
		snap, err := ReadSnapshot(b.Context(), DebianPackages, paths)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(snap.Packages)), "packages/op")
	}
}

// BenchmarkParseJSONL: a synthetic catalog of 50k packages (internal/bench/gen,
// the bench command's input) as one JSONL file.
func BenchmarkParseJSONL(b *testing.B) {
	g, err := gen.New(gen.Config{Seed: 1, Packages: 50_000, Repos: 1})
	if err != nil {
		b.Fatal(err)
	}
	files, _, err := g.WriteFiles(b.Context(), 0, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		b.Fatal(err)
	}
	benchParse(b, data, JSONL)
}

// BenchmarkReadOverlays reads bookworm's Sources with its -updates and
// -security overlays as one snapshot, as an update of a suite with
// overlays does: parsed, and through a ParseCache that holds the files'
// entries (the suite unchanged since the last update: its entry is
// decoded, not decompressed and parsed).
//
//	go test ./internal/input/formats -run '^$' -bench ReadOverlays -benchtime 5x
func BenchmarkReadOverlays(b *testing.B) {
	dir := filepath.Join("..", "..", "..", "..", "shared", "data", "debian")
	var files []string
	for _, pattern := range []string{"debian-bookworm-main-Sources-*.xz", "debian-bookworm-updates-main-Sources-*.xz",
		"debian-bookworm-security-main-Sources-*.xz"} {
		m, _ := filepath.Glob(filepath.Join(dir, pattern))
		if len(m) != 1 {
			b.Skipf("shared Debian data not found (%s)", pattern)
		}
		files = append(files, m[0])
	}
	ctx := context.Background()
	read := func(b *testing.B, opts ...Option) {
		var n int
		for b.Loop() {
			s, err := ReadSnapshot(ctx, DebianSources, files, opts...)
			if err != nil {
				b.Fatal(err)
			}
			n = len(s.Packages)
		}
		b.ReportMetric(float64(n), "packages")
	}
	b.Run("parsed", func(b *testing.B) { read(b) })
	b.Run("cached", func(b *testing.B) {
		cache := &ParseCache{Dir: b.TempDir()}
		if _, err := ReadSnapshot(ctx, DebianSources, files, WithParseCache(cache)); err != nil {
			b.Fatal(err)
		}
		read(b, WithParseCache(cache))
	})
}
